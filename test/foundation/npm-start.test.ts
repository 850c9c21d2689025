import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createPool, quoteIdent } from '@yunying/catalog';
import { testDatabaseUrl } from '@yunying/catalog/testing';
import { REPO_ROOT, freePort } from '../support/processes';
import { removeTreeInBackground } from '../support/remove-tree';
import { describeUnless, findExecutable } from '../support/skip';
import { waitFor } from '../support/wait';

/**
 * `npm start` as a person runs it: in a terminal (a pseudo-terminal from util-linux `script`), stopped
 * with Ctrl-C (the ^C byte typed into the terminal, so the line discipline signals the whole foreground
 * process group, as it does for a person) or with SIGTERM to npm. Afterwards every port is free and no
 * process of the run is left.
 */
const GRACE_SECONDS = 5;

function nodeDepsReason(): string | null {
  // npm start reinstalls node_modules (npm ci) when they were not installed by it or by npm test.
  const marker = path.join(REPO_ROOT, 'node_modules/.yunying-lock');
  const want = createHash('sha256').update(fs.readFileSync(path.join(REPO_ROOT, 'package-lock.json'))).digest('hex');
  if (!fs.existsSync(marker) || fs.readFileSync(marker, 'utf8').trim() !== want) {
    return 'node_modules were not installed by npm start / npm test (node_modules/.yunying-lock); npm start would run npm ci';
  }
  return null;
}

function reason(): string | null {
  if (findExecutable('script') === null) return 'util-linux `script` not installed (it provides the pseudo-terminal)';
  return nodeDepsReason();
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Pids of the processes whose environment carries this run's marker (npm, bash, node, the watchdog). */
function processesOfRun(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/environ`, 'latin1').includes(`YY_NPM_START_TEST=${marker}`)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/** After a failed test: nothing of the run may outlive it (each process by its pid). */
function killRun(marker: string): void {
  for (const pid of processesOfRun(marker)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

interface Terminal {
  type: (text: string) => void;
  output: () => string;
  exited: Promise<number | null>;
  pid: number;
  /** The run's DATA_DIR (replica roots and secrets of this run). */
  dataDir: string;
}

function npmStartInTerminal(marker: string, ports: number[], extraEnv: NodeJS.ProcessEnv = {}): Terminal {
  const [ingest, viewer, inference, dimse] = ports.map(String);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-npm-start-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    YY_NPM_START_TEST: marker,
    DATABASE_URL: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    DATABASE_SCHEMA: `npm_start_${marker}`,
    REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    QUEUE_PREFIX: `npmstart${marker}`,
    DATA_DIR: dataDir,
    AUTH_TOKEN_SECRET: 'npm-start-test-secret-'.padEnd(40, 'x'),
    INGEST_PORT: ingest,
    VIEWER_PORT: viewer,
    INFERENCE_PORT: inference,
    DIMSE_PORT: dimse,
    SHUTDOWN_GRACE_SECONDS: String(GRACE_SECONDS),
    STORAGE_BACKEND: 'fs',
    TERM: 'xterm',
    ...extraEnv,
  };
  delete env.LOG_FORMAT;
  delete env.CI;
  const child = spawn('script', ['-qfec', 'npm start', '/dev/null'], { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { type: (text) => child.stdin.write(text), output: () => out, exited, pid: child.pid ?? 0, dataDir };
}

async function startAndWaitUntilUp(marker: string, ports: number[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Terminal> {
  const terminal = npmStartInTerminal(marker, ports, extraEnv);
  let ended = false;
  void terminal.exited.then(() => (ended = true));
  await waitFor(
    'npm start to print "Yunying is up"',
    () => {
      if (ended) throw new Error(`npm start ended before it was up:\n${terminal.output()}`);
      return Promise.resolve(terminal.output().includes('Yunying is up:'));
    },
    300_000,
  ).catch((error: unknown) => {
    killRun(marker);
    throw error;
  });
  return terminal;
}

async function expectAllStopped(terminal: Terminal, marker: string, ports: number[]): Promise<void> {
  // Bounded by the grace period plus the watchdog's margin: past that, the run did not stop by itself.
  const exited = await Promise.race([terminal.exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), (GRACE_SECONDS + 20) * 1000))]);
  expect({ exited, output: exited ? '' : terminal.output().slice(-3000) }).toEqual({ exited: true, output: '' });
  // npm may exit before the launcher it signalled has finished its graceful stop (SIGTERM to npm): the
  // ports must be freed within the same bound, not necessarily at the instant npm is gone.
  const freed = await waitFor(
    'the ports to be freed',
    async () => ((await Promise.all(ports.map(portFree))).every(Boolean) || undefined),
    (GRACE_SECONDS + 20) * 1000,
  ).catch(() => false);
  if (freed !== true) for (const port of ports) expect({ port, free: await portFree(port) }).toEqual({ port, free: true });
  const left = await waitFor('the processes of the run to be gone', () => Promise.resolve(processesOfRun(marker).length === 0 || undefined), 5_000).catch(() => false);
  expect({ left: left === true ? [] : processesOfRun(marker) }).toEqual({ left: [] });
}

/** npm start migrated its own schema in the tests' database: drop it, so runs do not pile them up. */
async function dropSchema(schema: string): Promise<void> {
  const pool = createPool({ url: testDatabaseUrl(), schema: 'public', poolSize: 1 });
  try {
    await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  } finally {
    await pool.end();
  }
}

/** Logged in as npm start's service role: the audit chain cannot be switched off, changed or deleted. */
async function expectServiceRoleCannotRewriteAudit(schema: string): Promise<void> {
  const url = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
  url.username = 'yunying_service';
  url.password = fs.readFileSync(path.join(REPO_ROOT, '.data/secrets/db-service-password'), 'utf8').trim();
  const pool = createPool({ url: url.href, schema, poolSize: 1, applicationName: 'npm-start-test' });
  try {
    const attempt = async (sql: string): Promise<string> => pool.query(sql).then(() => 'allowed', (e: unknown) => (e instanceof Error ? e.message : String(e)));
    expect(await attempt('SELECT count(*) FROM audit_events')).toBe('allowed');
    expect(await attempt('SET session_replication_role = replica')).toMatch(/permission denied/);
    expect(await attempt('UPDATE audit_events SET action = action')).toMatch(/permission denied/);
    expect(await attempt('DELETE FROM audit_events')).toMatch(/permission denied/);
    expect(await attempt('CREATE TABLE not_allowed (x int)')).toMatch(/permission denied/);
  } finally {
    await pool.end();
  }
}

describeUnless(reason(), 'npm start in a terminal (system)', () => {
  jest.setTimeout(400_000);

  it('prints human-readable logs, and Ctrl-C stops everything with the ports freed', async () => {
    const marker = `${process.pid}i${Date.now()}`;
    const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const terminal = await startAndWaitUntilUp(marker, ports);
    // Whatever fails below, nothing of the run outlives the test.
    try {
      // eslint-disable-next-line no-control-regex
      const output = terminal.output().replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
      expect(output).toMatch(/ingest\s+http:\/\/127\.0\.0\.1:\d+/);
      expect(output).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: listening /m); // pino-pretty's line, not a JSON object
      expect(output.split(/\r?\n/).filter((l) => l.startsWith('{"level"'))).toEqual([]);
      // The services log in as the least-privileged role npm start made, not as the owner who migrated.
      expect(output).toMatch(/catalog: connected as a role without superuser rights/);
      expect(output).toMatch(/"?dbRole"?:\s*"yunying_service"/);
      await expectServiceRoleCannotRewriteAudit(`npm_start_${marker}`);
      // npm start gives the launcher the allocator settings (#14): it says so, and does not warn. (Not read from
      // /proc/<pid>/environ: glibc cuts GLIBC_TUNABLES short there in place once it has parsed it.)
      expect(output).toMatch(/C library allocator tuned \(GLIBC_TUNABLES\)/);
      expect(output).not.toMatch(/GLIBC_TUNABLES lacks/);
      // The replicas' leaf directories were made at this first start (the default, #14).
      expect(fs.readdirSync(path.join(terminal.dataDir, 'replica-a', 'sha256', 'ab'))).toHaveLength(256);

      terminal.type('\x03');
      await expectAllStopped(terminal, marker, ports);
    } finally {
      killRun(marker);
      removeTreeInBackground(terminal.dataDir);
      await dropSchema(`npm_start_${marker}`);
    }
  });

  it('SIGTERM to npm stops everything with the ports freed', async () => {
    const marker = `${process.pid}t${Date.now()}`;
    const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    // The leaf directories made ahead are the first test's (3 x 65,536 of them: seconds to make, more to remove).
    const terminal = await startAndWaitUntilUp(marker, ports, { STORAGE_FS_LEAF_DIRS: 'on-demand' });
    try {
      const npm = processesOfRun(marker).find((pid) => {
        const cmd = spawnSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' }).stdout;
        return /^npm start/.test(cmd.trim()) || /npm-cli\.js start/.test(cmd);
      });
      expect(npm).toBeDefined();
      process.kill(npm ?? 0, 'SIGTERM');
      await expectAllStopped(terminal, marker, ports);
    } finally {
      killRun(marker);
      removeTreeInBackground(terminal.dataDir);
      await dropSchema(`npm_start_${marker}`);
    }
  });
});
