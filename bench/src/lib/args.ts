/** `--name value` and `--flag` command-line options; numbers are validated where they are read. */
export class Args {
  private readonly values = new Map<string, string>();

  constructor(argv: string[]) {
    for (let i = 0; i < argv.length; i += 1) {
      const arg = argv[i] ?? '';
      if (!arg.startsWith('--')) continue;
      const [name, inline] = arg.slice(2).split('=', 2);
      if (!name) continue;
      const next = argv[i + 1];
      if (inline !== undefined) this.values.set(name, inline);
      else if (next !== undefined && !next.startsWith('--')) {
        this.values.set(name, next);
        i += 1;
      } else this.values.set(name, 'true');
    }
  }

  string(name: string, fallback: string): string {
    return this.values.get(name) ?? fallback;
  }

  number(name: string, fallback: number): number {
    const raw = this.values.get(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) throw new Error(`--${name}: expected a non-negative number, got "${raw}"`);
    return value;
  }

  numbers(name: string, fallback: number[]): number[] {
    const raw = this.values.get(name);
    if (raw === undefined) return fallback;
    return raw.split(',').map((v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected comma-separated positive integers, got "${raw}"`);
      return n;
    });
  }

  flag(name: string): boolean {
    return this.values.get(name) === 'true';
  }
}
