import fs from 'node:fs';
import path from 'node:path';

/**
 * True in CI (`CI=true` or `CI=1`): there a skip is a failure, because a run that did not exercise the
 * real parts must not look green. Locally a test still skips, with its reason in the summary.
 * test/support/summary-reporter.js applies the same rule to every skipped test, however it was skipped.
 */
export function skipsFail(): boolean {
  const ci = (process.env.CI ?? '').toLowerCase();
  return ci === 'true' || ci === '1';
}

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

/**
 * `describe` when `reason` is null. Otherwise, locally, `describe.skip` with the reason recorded; in CI
 * one failing test that names the reason, so the missing part is fixed instead of overlooked.
 */
export function describeUnless(reason: string | null, name: string, fn: () => void): void {
  if (reason === null) {
    describe(name, fn);
  } else if (skipsFail()) {
    describe(name, () => {
      test('can run here (CI does not accept skipped tests)', () => {
        throw new Error(`would be skipped: ${reason}`);
      });
    });
  } else {
    recordSkip(name, reason);
    describe.skip(name, fn);
  }
}

/** `it` when `reason` is null; otherwise as `describeUnless`: skipped with its reason locally, failing in CI. */
export type TestFn = (name: string, fn: jest.ProvidesCallback, timeout?: number) => void;
export function itUnless(reason: string | null): TestFn {
  if (reason === null) return it;
  if (skipsFail()) {
    return (name) =>
      it(name, () => {
        throw new Error(`would be skipped: ${reason}`);
      });
  }
  return it.skip;
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
