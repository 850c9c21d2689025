import fs from 'node:fs';
import path from 'node:path';

/**
 * Records why a group of tests was skipped, so that `npm test` can end with a summary of what did not
 * run and why. Skips are written to the file named by YUNYING_SKIP_LOG (set by infra/dev/test.sh).
 */
export function recordSkip(what: string, why: string): void {
  const file = process.env.YUNYING_SKIP_LOG;
  if (!file) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.appendFileSync(file, JSON.stringify({ what, why }) + '\n');
}

/** `describe` when `reason` is null, otherwise `describe.skip` with the reason recorded. */
export function describeUnless(reason: string | null, name: string, fn: () => void): void {
  if (reason === null) {
    describe(name, fn);
  } else {
    recordSkip(name, reason);
    describe.skip(name, fn);
  }
}

/** The shared data folder (YUNYING_SHARED_DATA, default ../shared/data), or null when absent. */
export function sharedDataDir(sub = ''): string | null {
  const root = process.env.YUNYING_SHARED_DATA ?? path.resolve(__dirname, '../../../shared/data');
  const dir = path.join(root, sub);
  return fs.existsSync(dir) ? dir : null;
}

/** The absolute path of an executable on PATH, or null. */
export function findExecutable(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}
