import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * A private PostgreSQL cluster with continuous WAL archiving (PostgreSQL's own archive_command) and its
 * point-in-time restore, for the restore drills. Runs as the `postgres` OS user when the test runs as
 * root (initdb refuses root). Everything lives under one temp dir: data, archive, base backup, restore.
 */
export interface DrillCluster {
  dir: string;
  archive: string;
  /** psql -Atc against the cluster on `port` (over its socket), as the postgres user; trimmed stdout. */
  sql: (port: number, query: string) => string;
  run: (cmd: string, args: string[]) => string;
  /** initdb + WAL archiving + start; returns the data dir. `tcp`: also listen on 127.0.0.1 (for services). */
  startPrimary: (port: number, options?: { tcp?: boolean }) => string;
  baseBackup: (port: number) => string;
  /** Closes the current WAL segment and waits until the archive has it. */
  archiveWal: (port: number) => void;
  /** The cluster is lost: stopped without a clean shutdown, its data dir removed. */
  lose: (dataDir: string) => void;
  /** A copy of `backup` replaying archived WAL up to `time`, then promoted; returns its data dir. */
  restoreToTime: (backup: string, time: string, port: number, options?: { tcp?: boolean }) => string;
  /** A hot streaming standby of the primary on `primaryPort` (pg_basebackup -R), on `port`; returns its data dir. */
  startStandby: (primaryPort: number, port: number, options?: { tcp?: boolean }) => string;
  /** Stops a server without a clean shutdown (pg_ctl -m immediate), keeping its data dir. */
  crash: (dataDir: string) => void;
  /** Starts a stopped server again on `port`. */
  restart: (dataDir: string, port: number, options?: { tcp?: boolean }) => void;
  cleanup: () => void;
}

export function postgresBin(): string | null {
  const base = '/usr/lib/postgresql';
  if (!fs.existsSync(base)) return null;
  const versions = fs.readdirSync(base).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (fs.existsSync(path.join(base, v, 'bin', 'pg_basebackup'))) return path.join(base, v, 'bin');
  return null;
}

/** A short synchronous pause between polls (the drill's steps are synchronous child processes). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function drillCluster(bin: string): DrillCluster {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-pitr-'));
  const archive = path.join(dir, 'wal-archive');
  fs.mkdirSync(archive);
  const asRoot = process.getuid?.() === 0;
  const asUser = asRoot ? ['runuser', '-u', 'postgres', '--'] : [];
  if (asRoot) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  const running = new Set<string>();
  const run = (cmd: string, args: string[]): string => {
    const [file, ...rest] = [...asUser, path.join(bin, cmd), ...args];
    return execFileSync(file ?? cmd, rest, { stdio: 'pipe', cwd: dir }).toString();
  };
  const sql = (port: number, query: string): string =>
    run('psql', ['-h', dir, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-Atc', query]).trim();
  const options = (port: number, tcp: boolean): string => `-c listen_addresses='${tcp ? '127.0.0.1' : ''}' -k ${dir} -p ${port} -c fsync=off`;
  const start = (data: string, port: number, tcp: boolean): void => {
    run('pg_ctl', ['-D', data, '-l', `${data}.log`, '-w', '-t', '60', '-o', options(port, tcp), 'start']);
    running.add(data);
  };
  const stop = (data: string): void => {
    running.delete(data);
    try {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // already stopped
    }
  };
  return {
    dir,
    archive,
    run,
    sql,
    startPrimary: (port, { tcp = false } = {}) => {
      const data = path.join(dir, 'primary');
      run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
      // Each finished WAL segment is copied to the archive, never over an existing file (a second cluster
      // archiving into the same place must fail loudly, not overwrite).
      fs.appendFileSync(path.join(data, 'postgresql.conf'), `wal_level = replica\narchive_mode = on\narchive_command = 'test ! -f ${archive}/%f && cp %p ${archive}/%f.part && mv ${archive}/%f.part ${archive}/%f'\n`);
      start(data, port, tcp);
      return data;
    },
    baseBackup: (port) => {
      const backup = path.join(dir, 'base');
      run('pg_basebackup', ['-h', dir, '-p', String(port), '-U', 'postgres', '-D', backup, '-X', 'stream', '-c', 'fast']);
      return backup;
    },
    // A segment appears under its name only once whole: archive_command copies to .part and renames (a plain
    // cp made the name visible while 11 of 16 MiB were written, and a restore begun then failed on its size).
    archiveWal: (port) => {
      const segment = sql(port, 'SELECT pg_walfile_name(pg_switch_wal())');
      for (let i = 0; i < 600 && !fs.existsSync(path.join(archive, segment)); i++) pause(50);
      if (!fs.existsSync(path.join(archive, segment))) throw new Error(`WAL segment ${segment} was not archived`);
    },
    lose: (data) => {
      stop(data);
      fs.rmSync(data, { recursive: true, force: true });
    },
    restoreToTime: (backup, time, port, { tcp = false } = {}) => {
      const data = path.join(dir, 'restored');
      fs.cpSync(backup, data, { recursive: true });
      fs.appendFileSync(
        path.join(data, 'postgresql.conf'),
        `restore_command = 'cp ${archive}/%f %p'\nrecovery_target_time = '${time}'\nrecovery_target_action = 'promote'\narchive_mode = off\n`,
      );
      fs.writeFileSync(path.join(data, 'recovery.signal'), '');
      // The copy was made by this process; the server runs as postgres and wants 0700 on its data dir.
      if (asRoot) execFileSync('chown', ['-R', 'postgres:postgres', data]);
      fs.chmodSync(data, 0o700);
      start(data, port, tcp);
      for (let i = 0; i < 600 && sql(port, 'SELECT pg_is_in_recovery()') === 't'; i++) pause(50);
      return data;
    },
    startStandby: (primaryPort, port, { tcp = false } = {}) => {
      const data = path.join(dir, `standby-${port}`);
      // -R writes primary_conninfo (over the primary's socket) and standby.signal: it streams from the primary.
      run('pg_basebackup', ['-h', dir, '-p', String(primaryPort), '-U', 'postgres', '-D', data, '-R', '-X', 'stream', '-c', 'fast']);
      start(data, port, tcp);
      return data;
    },
    crash: (data) => stop(data),
    restart: (data, port, { tcp = false } = {}) => start(data, port, tcp),
    cleanup: () => {
      for (const data of [...running]) stop(data);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
