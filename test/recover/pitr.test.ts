import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../support/processes';
import { describeUnless } from '../support/skip';
import { drillCluster, postgresBin, serverOptions, type DrillCluster } from './pitr.support';

/**
 * #18 restore drill: continuous WAL archiving and point-in-time restore with PostgreSQL's own
 * archive_command / restore_command (what CloudNativePG's barman does against S3, on a local dir). A
 * throwaway cluster archives its WAL, a base backup is taken, rows are written, a time is recorded, more
 * rows are written; the cluster is then lost, and a restore of the base backup to the recorded time must
 * hold exactly the rows written before it.
 */

const bin = postgresBin();

describeUnless(bin === null ? 'PostgreSQL server binaries not installed (apt-get install postgresql)' : null, 'point-in-time restore drill (real PostgreSQL, WAL archive)', () => {
  let cluster: DrillCluster;
  let primaryPort: number;
  let restoredPort: number;
  const running: string[] = [];

  beforeAll(async () => {
    cluster = drillCluster(bin ?? '');
    primaryPort = await freePort();
    restoredPort = await freePort();
  });
  afterAll(() => {
    for (const data of running) {
      try {
        cluster.run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // already stopped
      }
    }
    cluster?.cleanup();
  });

  it('restores a base backup plus archived WAL to a recorded time: the rows before it, none after', () => {
    const { dir, archive, run, sql } = cluster;
    const primary = path.join(dir, 'primary');
    run('initdb', ['-D', primary, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
    // Each finished WAL segment is copied to the archive, never over an existing file (a second cluster
    // archiving into the same place must fail loudly, not overwrite).
    fs.appendFileSync(
      path.join(primary, 'postgresql.conf'),
      `wal_level = replica\narchive_mode = on\narchive_command = 'test ! -f ${archive}/%f && cp %p ${archive}/%f'\n`,
    );
    run('pg_ctl', ['-D', primary, '-l', path.join(dir, 'primary.log'), '-w', '-o', serverOptions(dir, primaryPort), 'start']);
    running.push(primary);

    sql(primaryPort, 'CREATE TABLE drill (id integer PRIMARY KEY, note text NOT NULL)');
    const backup = path.join(dir, 'base');
    run('pg_basebackup', ['-h', dir, '-p', String(primaryPort), '-U', 'postgres', '-D', backup, '-X', 'stream', '-c', 'fast']);

    sql(primaryPort, "INSERT INTO drill SELECT g, 'before' FROM generate_series(1, 100) g");
    // The recorded time: after the first rows committed, before the next ones begin.
    const target = sql(primaryPort, 'SELECT clock_timestamp()');
    sql(primaryPort, "INSERT INTO drill SELECT g, 'after' FROM generate_series(101, 200) g");
    sql(primaryPort, "UPDATE drill SET note = 'changed after' WHERE id <= 10");
    // Close the segment holding the last commits so that it is archived, and wait until it is.
    const segment = sql(primaryPort, 'SELECT pg_walfile_name(pg_switch_wal())');
    for (let i = 0; i < 600 && !fs.existsSync(path.join(archive, segment)); i++) pause(50);
    expect(fs.existsSync(path.join(archive, segment))).toBe(true);
    expect(sql(primaryPort, 'SELECT count(*) FROM drill')).toBe('200');

    // The catalog is lost: the primary stops without a clean shutdown and its data dir is gone.
    run('pg_ctl', ['-D', primary, '-m', 'immediate', '-w', 'stop']);
    running.splice(running.indexOf(primary), 1);
    fs.rmSync(primary, { recursive: true, force: true });

    // Restore: the base backup, WAL from the archive, replayed up to the recorded time, then promoted.
    const restored = path.join(dir, 'restored');
    fs.cpSync(backup, restored, { recursive: true });
    fs.appendFileSync(
      path.join(restored, 'postgresql.conf'),
      `restore_command = 'cp ${archive}/%f %p'\nrecovery_target_time = '${target}'\nrecovery_target_action = 'promote'\narchive_mode = off\n`,
    );
    fs.writeFileSync(path.join(restored, 'recovery.signal'), '');
    fixOwnership(restored);
    run('pg_ctl', ['-D', restored, '-l', path.join(dir, 'restored.log'), '-w', '-t', '60', '-o', serverOptions(dir, restoredPort), 'start']);
    running.push(restored);
    for (let i = 0; i < 600 && sql(restoredPort, 'SELECT pg_is_in_recovery()') === 't'; i++) pause(50);

    expect(sql(restoredPort, 'SELECT pg_is_in_recovery()')).toBe('f');
    expect(sql(restoredPort, "SELECT count(*), min(id), max(id), count(*) FILTER (WHERE note = 'before') FROM drill")).toBe('100|1|100|100');
    expect(fs.readFileSync(path.join(dir, 'restored.log'), 'utf8')).toMatch(/recovery stopping before commit of transaction \d+, time/);
  });
});

/** The restored copy was made by this (root) process; the server runs as postgres and needs 0700 on it. */
function fixOwnership(dataDir: string): void {
  if (process.getuid?.() !== 0) return;
  execFileSync('chown', ['-R', 'postgres:postgres', dataDir]);
  fs.chmodSync(dataDir, 0o700);
}

/** A short synchronous pause between polls (the drill's steps are synchronous child processes). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
