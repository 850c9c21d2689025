import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../support/processes';

/** The clinic-side program as the clinic runs it: the built CLI as a child process. */
export const CLI = path.join(REPO_ROOT, 'services/gateway/dist/cli.js');

export function cliBuilt(): string | null {
  return fs.existsSync(CLI) ? null : 'services/gateway is not built (npx turbo run build)';
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout as JSON lines (with --json). */
  events: Array<Record<string, unknown>>;
}

function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export interface CliProcess {
  child: ChildProcess;
  /** Resolves with the first stdout JSON event for which `match` is true. */
  waitForEvent(match: (event: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves with the first stdout line matching. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  done: Promise<CliRun>;
  output(): string;
}

export function startCli(args: string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const w of [...waiters]) w();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (process.env.YY_DEBUG) process.stderr.write(chunk);
  });
  const done = new Promise<CliRun>((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr, events: jsonLines(stdout) })));
  const wait = <T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = probe();
        if (found !== undefined) {
          cleanup();
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${what}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      }, timeoutMs);
      const onExit = (): void => {
        check();
        cleanup();
        reject(new Error(`process exited before ${what}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
        child.off('exit', onExit);
      };
      waiters.add(check);
      child.once('exit', onExit);
      check();
    });
  return {
    child,
    done,
    output: () => stdout + stderr,
    waitForEvent: (match, timeoutMs = 30_000) =>
      wait(() => jsonLines(stdout.slice(0, stdout.lastIndexOf('\n') + 1)).find(match), timeoutMs, 'an event'),
    waitForLine: (pattern, timeoutMs = 30_000) => wait(() => pattern.exec(stdout) ?? undefined, timeoutMs, `a line matching ${pattern}`),
  };
}

export async function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return startCli(args, env).done;
}

/** The last `summary` event of a --json run. */
export function summaryOf(run: CliRun): Record<string, unknown> & { sent: number; alreadyThere: number; partsSent: number; requests: number; notSent: number; rejected: Array<{ path: string; reason: string; message: string; source: string }>; skipped: Array<{ path: string; note: string }> } {
  const summary = run.events.filter((e) => e.event === 'summary').at(-1);
  if (summary === undefined) throw new Error(`no summary\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
  return summary as ReturnType<typeof summaryOf>;
}

