import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '../..');

/** A TCP port that was free a moment ago on loopback. */
/**
 * A free TCP port on 127.0.0.1, chosen below Linux's ephemeral range (32768-60999). A port from that
 * range (what listen(0) hands out) can be taken between tests by any outgoing connection's local end,
 * and tests that restart a service on the same port (kill -9 rounds) then fail with EADDRINUSE.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await bindable(port)) return port;
  }
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
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
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env },
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
