import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { portPicker } from '../../bench/src/lib/free-port';

export const REPO_ROOT = path.resolve(__dirname, '../..');

/** Ports below Linux's ephemeral range (32768-60999), split between jest workers. */
const PORT_BASE = 20_000;
const PORT_SPAN = 12_000;
const PORT_SLICES = 8;

/** The ports this jest worker picks from (outside jest: the first slice). */
export function portSlice(): { worker: number; start: number; size: number } {
  const worker = Math.max(1, Number(process.env.JEST_WORKER_ID ?? '1') || 1);
  const size = Math.floor(PORT_SPAN / PORT_SLICES);
  return { worker, start: PORT_BASE + ((worker - 1) % PORT_SLICES) * size, size };
}

/** The picker of this jest worker's slice, made at its first pick. */
let slicePicker: (() => Promise<number>) | undefined;

/**
 * A free TCP port on 127.0.0.1, chosen below Linux's ephemeral range (bench/src/lib/free-port.ts says why).
 * Each jest worker picks from its own slice of the range, and a process never hands out one port twice (a
 * scale-out test picks twenty before its launchers bind any, and with one random range for all two picks
 * met: EADDRINUSE at a launcher's start).
 */
export function freePort(): Promise<number> {
  if (slicePicker === undefined) {
    const { start, size } = portSlice();
    slicePicker = portPicker(start, size);
  }
  return slicePicker();
}

function postgresBinDir(): string | null {
  const base = '/usr/lib/postgresql';
  if (!fs.existsSync(base)) return null;
  const versions = fs.readdirSync(base).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const dir = path.join(base, v, 'bin');
    if (fs.existsSync(path.join(dir, 'initdb'))) return dir;
  }
  return null;
}

export function postgresAvailable(): string | null {
  return postgresBinDir() === null ? 'PostgreSQL server binaries not installed (apt-get install postgresql)' : null;
}

export interface ThrowawayPostgres {
  url: string;
  stop: () => void;
}

/**
 * A real, private PostgreSQL server for a test that needs to stop or break its database without
 * disturbing the shared one. Runs as the `postgres` OS user when the test runs as root (initdb refuses root).
 */
export function startThrowawayPostgres(port: number): ThrowawayPostgres {
  const bin = postgresBinDir();
  if (bin === null) throw new Error('PostgreSQL binaries not found');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-pg-'));
  const asUser = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
  if (asUser.length) execFileSync('chown', ['postgres:postgres', dir]);
  const run = (cmd: string, args: string[]): void => {
    const [file, ...rest] = [...asUser, path.join(bin, cmd), ...args];
    execFileSync(file ?? cmd, rest, { stdio: 'pipe' });
  };
  run('initdb', ['-D', path.join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
  run('pg_ctl', ['-D', path.join(dir, 'data'), '-l', path.join(dir, 'log'), '-w', '-o', `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off`, 'start']);
  let stopped = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () => {
      if (stopped) return;
      stopped = true;
      try {
        run('pg_ctl', ['-D', path.join(dir, 'data'), '-m', 'immediate', '-w', 'stop']);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export interface LauncherProcess {
  child: ChildProcess;
  output: () => string;
  ready: Promise<{ role: string; url: string }[]>;
  exited: Promise<number | null>;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/** Runs the real launcher (services/launcher/dist/main.js) as a child process with the given env. */
export function startLauncher(env: Record<string, string>): LauncherProcess {
  const main = path.join(REPO_ROOT, 'services/launcher/dist/main.js');
  if (!fs.existsSync(main)) throw new Error('services/launcher is not built: run `npm run build` (npm test does it)');
  const child = spawn(process.execPath, [main], {
    cwd: REPO_ROOT,
    // Leaf directories on demand unless a test asks otherwise: 65,536 per replica made ahead cost every
    // fresh test system seconds (test/crash/crash.test.ts and packages/storage cover `ahead`).
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', STORAGE_FS_LEAF_DIRS: 'on-demand', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const ready = new Promise<{ role: string; url: string }[]>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const match = /^YUNYING_READY (.*)$/m.exec(out);
      if (match?.[1]) resolve(JSON.parse(match[1]) as { role: string; url: string }[]);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    // YY_DEBUG=1 shows the service's own log lines while a system test runs.
    if (process.env.YY_DEBUG) child.stdout?.pipe(process.stderr);
    if (process.env.YY_DEBUG) child.stderr?.pipe(process.stderr);
    child.once('exit', (code) => reject(new Error(`launcher exited (${String(code)}) before ready:\n${out}`)));
  });
  ready.catch(() => undefined);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    ready,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
