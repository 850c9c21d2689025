// Ends every jest run with one line a CI reader can rely on ("Summary: N passed, N failed, N skipped")
// and the reasons recorded for skipped groups (test/support/skip.ts).
// In CI (CI=true or CI=1) a skipped or todo test fails the run, however it was skipped (describeUnless,
// it.skip, a forgotten .only elsewhere in a file): getLastError() is how a jest reporter fails a run.
const fs = require('node:fs');

function skipsFail() {
  const ci = (process.env.CI || '').toLowerCase();
  return ci === 'true' || ci === '1';
}

/** A test file's wall time in whole seconds (0 when jest did not time it, e.g. it failed to load). */
function seconds(result) {
  const stats = result.perfStats;
  return stats && stats.end > stats.start ? Math.round((stats.end - stats.start) / 1000) : 0;
}

/** A test file's path from the repository root. */
function fileName(result) {
  return result.testFilePath.replace(process.cwd() + '/', '');
}

class SummaryReporter {
  constructor() {
    this.error = undefined;
  }

  getLastError() {
    return this.error;
  }

  onRunComplete(_contexts, results) {
    const file = process.env.YUNYING_SKIP_LOG;
    const reasons = new Map();
    if (file && fs.existsSync(file)) {
      for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        try {
          const { what, why } = JSON.parse(line);
          reasons.set(`${what}: ${why}`, true);
        } catch {
          // a torn line from a killed worker; ignore
        }
      }
    }
    const lines = ['', '── Yunying test summary ──'];
    for (const r of results.testResults) {
      const name = fileName(r);
      const status = r.failureMessage ? 'FAIL' : r.numPassingTests === 0 && r.numPendingTests > 0 ? 'SKIP' : 'ok  ';
      lines.push(`  ${status} ${name} (${r.numPassingTests} passed, ${r.numFailingTests} failed, ${r.numPendingTests} skipped, ${seconds(r)} s)`);
    }
    // Where the suite's time goes: npm test must stay well under CI's budget, and the slowest files are
    // where to look first (wall time of each file in its worker, so they overlap across workers).
    const slowest = [...results.testResults].sort((a, b) => seconds(b) - seconds(a)).slice(0, 10);
    if (slowest.length > 0) {
      lines.push(`  Slowest files (jest wall time ${Math.round((Date.now() - results.startTime) / 1000)} s in all):`);
      for (const r of slowest) lines.push(`    ${seconds(r)} s  ${fileName(r)}`);
    }
    if (reasons.size > 0) {
      lines.push('  Skipped, and why:');
      for (const reason of reasons.keys()) lines.push(`    - ${reason}`);
    }
    const notRun = results.numPendingTests + results.numTodoTests;
    if (skipsFail() && notRun > 0) {
      this.error = new Error(`${notRun} test(s) skipped: CI does not accept skipped tests (the reasons are listed above)`);
      lines.push(`  FAIL  CI: ${this.error.message}`);
    }
    lines.push(`Summary: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${results.numPendingTests} skipped`);
    process.stdout.write(lines.join('\n') + '\n');
    if (process.env.YUNYING_SUMMARY_FILE) fs.writeFileSync(process.env.YUNYING_SUMMARY_FILE, lines.slice(2).join('\n') + '\n');
  }
}
module.exports = SummaryReporter;
