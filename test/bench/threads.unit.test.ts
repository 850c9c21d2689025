import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cpuByGroup, readStat, sampleThreads, threadGroup } from '../../bench/src/lib/threads';

// bench:explain's CPU by thread group, on a real Node process: the probe (bench/probe.cjs) lists the threads
// that exist when it loads, then the script keeps the libuv pool busy hashing (crypto.pbkdf2 runs there) while
// the main thread hashes: the pool's CPU must land in "later", the main thread's in "main", and the startup
// threads must not include the pool.
const PROBE = path.resolve(__dirname, '../../bench/probe.cjs');

const WORK = `
const crypto = require('node:crypto');
process.stdout.write('ready\\n');
// A fixed amount of work, not of time, so a busy machine changes how long it takes, not what is measured.
let left = 8;
for (let i = 0; i < 8; i++) crypto.pbkdf2('p', 's', 300000, 32, 'sha256', () => { left -= 1; if (left === 0) finish(); });
crypto.pbkdf2Sync('p', 's', 1000000, 32, 'sha256');
function finish() { process.stdout.write('done\\n'); }
setInterval(() => undefined, 1000);
`;

describe('launcher CPU by thread group', () => {
  let dir: string;
  let child: ChildProcess | null = null;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'threads-'));
  });
  afterEach(async () => {
    const running = child;
    child = null;
    if (running && running.exitCode === null) {
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGKILL');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('puts the libuv pool, the main thread and the startup threads in their own groups', async () => {
    const script = path.join(dir, 'services/launcher/dist/main.js');
    fs.mkdirSync(path.dirname(script), { recursive: true });
    fs.writeFileSync(script, WORK);
    const probeFile = path.join(dir, 'probe.jsonl');
    const started = spawn(process.execPath, ['--require', PROBE, script], { env: { PATH: process.env.PATH ?? '', YUNYING_BENCH_PROBE_FILE: probeFile }, stdio: ['ignore', 'pipe', 'inherit'] });
    child = started;
    const pid = started.pid ?? 0;
    let out = '';
    const waitFor = (word: string): Promise<void> =>
      new Promise((resolve) => {
        const check = (): void => {
          if (out.includes(word)) resolve();
        };
        started.stdout?.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          check();
        });
        check();
      });
    await waitFor('ready');
    const before = sampleThreads(pid);
    await waitFor('done');
    const after = sampleThreads(pid);

    started.kill('SIGUSR2');
    for (let i = 0; i < 250 && !fs.existsSync(probeFile); i++) await new Promise((r) => setTimeout(r, 20));
    const line = JSON.parse(fs.readFileSync(probeFile, 'utf8').split('\n')[0] as string) as { startupThreads: number[] };
    const startup = new Set(line.startupThreads);
    expect(startup.size).toBeGreaterThan(0);
    expect(startup.has(pid)).toBe(false);

    const groups = cpuByGroup(pid, before, after, startup);
    // 1,000,000 PBKDF2 rounds on the main thread and 8 x 300,000 on the pool (~0.3 s and ~0.7 s here): each well above a tick.
    expect(groups.main).toBeGreaterThan(0.1);
    expect(groups.later).toBeGreaterThan(0.2);
    // The pool started after the probe listed the startup threads, so none of its time is counted there.
    const poolThreads = [...after.keys()].filter((tid) => tid !== pid && !startup.has(tid));
    expect(poolThreads.length).toBeGreaterThanOrEqual(4);
    expect(groups.platform).toBeLessThan(groups.later);
  });

  test('reads a stat line whose name holds a parenthesis and a space, and this process’s own', () => {
    const file = path.join(dir, 'stat');
    fs.writeFileSync(file, '4242 (odd) name) S 1 4242 4242 0 -1 4194560 7 0 0 0 12 34 0 0 20 0 1 0');
    const { comm, fields } = readStat(file);
    expect(comm).toBe('odd) name');
    expect(fields[0]).toBe('S');
    expect([fields[11], fields[12]]).toEqual(['12', '34']);
    const own = readStat(`/proc/${process.pid}/stat`);
    expect(Number(own.fields[1])).toBe(process.ppid);
  });

  test('names: a thread that renamed itself is "named", one with the process’s name is "later"', () => {
    const startup = new Set([11, 12]);
    expect(threadGroup(10, 10, 'node', 'node', startup)).toBe('main');
    expect(threadGroup(10, 12, 'node', 'node', startup)).toBe('platform');
    expect(threadGroup(10, 20, 'node', 'node', startup)).toBe('later');
    expect(threadGroup(10, 21, 'libvips worker', 'node', startup)).toBe('named');
  });
});
