import fs from 'node:fs';
import { freePort } from '../support/processes';
import { describeUnless } from '../support/skip';
import { drillCluster, postgresBin, type DrillCluster } from './pitr.support';

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

  beforeAll(() => {
    cluster = drillCluster(bin ?? '');
  });
  afterAll(() => cluster?.cleanup());

  it('restores a base backup plus archived WAL to a recorded time: the rows before it, none after', async () => {
    const { sql } = cluster;
    const port = await freePort();
    const primary = cluster.startPrimary(port);
    sql(port, 'CREATE TABLE drill (id integer PRIMARY KEY, note text NOT NULL)');
    const backup = cluster.baseBackup(port);

    sql(port, "INSERT INTO drill SELECT g, 'before' FROM generate_series(1, 100) g");
    // The recorded time: after the first rows committed, before the next ones begin.
    const target = sql(port, 'SELECT clock_timestamp()');
    sql(port, "INSERT INTO drill SELECT g, 'after' FROM generate_series(101, 200) g");
    sql(port, "UPDATE drill SET note = 'changed after' WHERE id <= 10");
    cluster.archiveWal(port);
    expect(sql(port, 'SELECT count(*) FROM drill')).toBe('200');

    cluster.lose(primary);
    const restoredPort = await freePort();
    const restored = cluster.restoreToTime(backup, target, restoredPort);

    expect(sql(restoredPort, 'SELECT pg_is_in_recovery()')).toBe('f');
    expect(sql(restoredPort, "SELECT count(*), min(id), max(id), count(*) FILTER (WHERE note = 'before') FROM drill")).toBe('100|1|100|100');
    expect(fs.readFileSync(`${restored}.log`, 'utf8')).toMatch(/recovery stopping before commit of transaction \d+, time/);
  });
});
