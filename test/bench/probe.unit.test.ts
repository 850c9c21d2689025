import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// bench:explain's probe (bench/probe.cjs) in a process that stands in for the launcher: a script at a path
// ending in launcher/dist/main.js, which hashes, joins and copies known amounts and then waits. Its totals are
// read the way bench:explain reads them (SIGUSR2, one JSON line appended per signal).
const PROBE = path.resolve(__dirname, '../../bench/probe.cjs');

const WORK = `
const crypto = require('node:crypto');
const a = Buffer.alloc(10000, 1);
crypto.createHash('sha256').update(a).digest();                 // 10,000 bytes hashed with SHA-256
crypto.createHash('sha256').update('abc').digest();             // 3 more
crypto.createHash('md5').update(a).digest();                    // not SHA-256: not counted
const joined = Buffer.concat([a, a]);                           // 20,000 bytes copied
a.copy(Buffer.alloc(5000), 0, 0, 5000);                         // 5,000
new Uint8Array(8192).set(new Uint8Array(8192));                 // 8,192
new Uint8Array(100).set(new Uint8Array(100));                   // under 4 KiB: an element write, not counted
const fsp = require('node:fs/promises');
const fs = require('node:fs');
(async () => {
  const file = require('node:path').join(require('node:os').tmpdir(), 'probe-' + process.pid);
  const handle = await fsp.open(file, 'w');                       // file operations: 1
  await handle.write(Buffer.alloc(100));                          // 2
  await handle.sync();                                            // 3, an fsync
  await handle.close();                                           // 4
  await fsp.unlink(file);                                         // 5
  fs.writeFileSync(file, 'x');                                    // synchronous: not counted
  fs.unlinkSync(file);
  await new Promise((resolve) => setTimeout(resolve, 50));        // a delay of the event loop to see
  process.stdout.write('ready ' + joined.length + '\\n');
})();
setInterval(() => undefined, 1000);
`;

function runProbed(script: string, probeFile: string): Promise<{ lines: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--require', PROBE, script], { env: { PATH: process.env.PATH ?? '', YUNYING_BENCH_PROBE_FILE: probeFile }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const read = (): string[] => (fs.existsSync(probeFile) ? fs.readFileSync(probeFile, 'utf8').split('\n').filter((l) => l !== '') : []);
    // A process without the probe ends at SIGUSR2 (its default action): what it wrote by then is the answer.
    child.once('exit', () => resolve({ lines: read() }));
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (!out.includes('ready')) return;
      child.kill('SIGUSR2');
      const started = Date.now();
      const poll = setInterval(() => {
        const lines = read();
        if (lines.length > 0 || Date.now() - started > 5000) {
          clearInterval(poll);
          child.kill('SIGKILL');
          resolve({ lines });
        }
      }, 20);
    });
    child.once('error', reject);
  });
}

describe('bench probe', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'probe-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('counts SHA-256 bytes, JavaScript-visible copies and file operations in the launcher', async () => {
    const script = path.join(dir, 'services/launcher/dist/main.js');
    fs.mkdirSync(path.dirname(script), { recursive: true });
    fs.writeFileSync(script, WORK);
    const { lines } = await runProbed(script, path.join(dir, 'probe.jsonl'));
    expect(lines).toHaveLength(1);
    const totals = JSON.parse(lines[0] as string) as Record<string, number>;
    expect(totals.sha256Bytes).toBe(10003);
    expect(totals.copiedBytes).toBe(20000 + 5000 + 8192);
    expect(totals.gcMajor).toBeGreaterThanOrEqual(0);
    expect(totals.fileOps).toBe(5);
    expect(totals.fsyncs).toBe(1);
    expect(totals.fileOpMs).toBeGreaterThan(0);
    expect(totals.fsyncMs).toBeGreaterThan(0);
    expect(totals.fsyncMs).toBeLessThanOrEqual(totals.fileOpMs as number);
    // One fsync: its tails are its own time; the file operations' tails are ordered and within their sum.
    expect(totals.fsyncP50Ms).toBeGreaterThan(0);
    // (a histogram keeps three significant digits)
    expect(Math.abs((totals.fsyncMaxMs as number) - (totals.fsyncMs as number))).toBeLessThanOrEqual(0.01 * (totals.fsyncMs as number) + 0.002);
    expect(totals.fileOpP50Ms).toBeGreaterThan(0);
    expect(totals.fileOpP50Ms).toBeLessThanOrEqual(totals.fileOpP99Ms as number);
    expect(totals.fileOpP99Ms).toBeLessThanOrEqual(totals.fileOpMaxMs as number);
    expect(totals.fileOpMaxMs).toBeLessThanOrEqual(totals.fileOpMs as number);
    expect(totals.fileOpMaxMs).toBeGreaterThanOrEqual(totals.fsyncMaxMs as number);
    expect(totals.loopDelayMeanMs).toBeGreaterThan(0);
    expect(totals.loopDelayP99Ms).toBeGreaterThanOrEqual(totals.loopDelayMeanMs as number);
  });

  test('stays out of any other process', async () => {
    const script = path.join(dir, 'seed.cli.js');
    fs.writeFileSync(script, WORK);
    const { lines } = await runProbed(script, path.join(dir, 'probe.jsonl'));
    expect(lines).toHaveLength(0);
  });
});
