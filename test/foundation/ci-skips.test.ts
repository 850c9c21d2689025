import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../support/processes';

// With CI=true a skipped test fails the run; locally the same run passes and says what skipped and why.
// Runs jest itself on a fixture (one passing test, a describeUnless group with a reason, a plain it.skip).
const config = path.join(__dirname, 'fixtures/skips/jest.config.js');

function runFixture(ci: string | undefined): { status: number | null; output: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, YUNYING_SKIP_LOG: '', YUNYING_SUMMARY_FILE: '' };
  delete env.CI;
  if (ci !== undefined) env.CI = ci;
  const run = spawnSync(process.execPath, [path.join(REPO_ROOT, 'node_modules/jest/bin/jest.js'), '--config', config, '--ci', '--maxWorkers=1'], {
    cwd: REPO_ROOT,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('skipped tests and CI', () => {
  test('locally a run with skips passes and counts them', () => {
    const { status, output } = runFixture(undefined);
    expect(output).toContain('Summary: 1 passed, 0 failed, 2 skipped');
    expect(status).toBe(0);
  });

  test('with CI=true the same run fails, and the failure names what was missing', () => {
    const { status, output } = runFixture('true');
    expect(output).toContain('would be skipped: the frobnicator is not installed');
    expect(output).toContain('CI does not accept skipped tests');
    expect(status).not.toBe(0);
  });
});
