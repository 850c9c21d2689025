import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * A private PostgreSQL cluster with continuous WAL archiving (PostgreSQL's own archive_command), for the
 * point-in-time restore drill. Runs as the `postgres` OS user when the test runs as root (initdb refuses
 * root). Everything lives under one temp dir: data, archive, base backup, restored data.
 */
export interface DrillCluster {
  dir: string;
  archive: string;
  /** psql -Atc against the cluster on `port`, as the postgres user; returns trimmed stdout. */
  sql: (port: number, query: string) => string;
  run: (cmd: string, args: string[]) => string;
  cleanup: () => void;
}

export function postgresBin(): string | null {
  const base = '/usr/lib/postgresql';
  if (!fs.existsSync(base)) return null;
  const versions = fs.readdirSync(base).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (fs.existsSync(path.join(base, v, 'bin', 'pg_basebackup'))) return path.join(base, v, 'bin');
  return null;
}

export function drillCluster(bin: string): DrillCluster {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-pitr-'));
  const archive = path.join(dir, 'wal-archive');
  fs.mkdirSync(archive);
  const asUser = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
  if (asUser.length) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  const run = (cmd: string, args: string[]): string => {
    const [file, ...rest] = [...asUser, path.join(bin, cmd), ...args];
    return execFileSync(file ?? cmd, rest, { stdio: 'pipe', cwd: dir }).toString();
  };
  return {
    dir,
    archive,
    run,
    sql: (port, query) => run('psql', ['-h', dir, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-Atc', query]).trim(),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** Server options on the command line: only the socket dir and port differ between the two clusters. */
export function serverOptions(dir: string, port: number): string {
  return `-c listen_addresses='' -k ${dir} -p ${port} -c fsync=off`;
}
