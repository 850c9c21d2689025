import { makeStudy } from '@yunying/dicom/testing';
import { freePort } from '../support/processes';
import { describeUnless } from '../support/skip';
import { startSystem, stow, type RunningSystem } from '../support/system';
import { drillCluster, postgresBin, type DrillCluster } from './pitr.support';
import { archiveCli, catalogSnapshot } from './rebuild.support';

/**
 * #18 the whole way back after the catalog database is lost: the running system's PostgreSQL archives its
 * WAL; after a base backup one study is ingested, a time is recorded, another study is ingested; the
 * database is lost and restored to the recorded time (the services reconnect by themselves); the restored
 * catalog lacks the second study, whose copies are on the targets, and `rebuild-catalog --adopt` brings
 * its rows back without touching the rest.
 */

const bin = postgresBin();

describeUnless(bin === null ? 'PostgreSQL server binaries not installed (apt-get install postgresql)' : null, 'catalog database lost: point-in-time restore, then rebuild-catalog --adopt (system)', () => {
  let cluster: DrillCluster;
  let port: number;
  let primary: string;
  let system: RunningSystem;

  beforeAll(async () => {
    cluster = drillCluster(bin ?? '');
    port = await freePort();
    primary = cluster.startPrimary(port, { tcp: true });
    system = await startSystem({
      env: { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/postgres`, SCRUB_INTERVAL_SECONDS: '0', REPAIR_RETRY_SECONDS: '3600', ORPHAN_SWEEP_INTERVAL_SECONDS: '0' },
    });
  });
  afterAll(async () => {
    await system?.stop();
    cluster?.cleanup();
  });

  it('restores the catalog to a recorded time and adopts the study ingested after it from its copies', async () => {
    const schema = system.env.DATABASE_SCHEMA ?? '';
    const key = system.credentials.apiKey?.key ?? '';
    const backup = cluster.baseBackup(port);
    const first = makeStudy(3, { rows: 8, columns: 8 });
    expect((await stow(system.urls.ingest ?? '', key, first.files)).status).toBe(200);
    const target = cluster.sql(port, 'SELECT clock_timestamp()');
    const second = makeStudy(2, { rows: 8, columns: 8 });
    expect((await stow(system.urls.ingest ?? '', key, second.files)).status).toBe(200);
    const before = await catalogSnapshot(system.pool, schema);
    expect(before.instances).toHaveLength(5);
    cluster.archiveWal(port);

    cluster.lose(primary);
    cluster.restoreToTime(backup, target, port, { tcp: true });
    await reconnect(system);
    const restored = await system.pool.query<{ study_instance_uid: string }>('SELECT study_instance_uid FROM studies');
    expect(restored.rows.map((r) => r.study_instance_uid)).toEqual([first.studyInstanceUid]);

    const run = await archiveCli(system, ['rebuild-catalog', '--adopt', '--json']);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect((JSON.parse(run.stdout) as { outcomes: Record<string, number> }).outcomes).toEqual({ catalogued: 3, indexed: 2 });
    expect(await catalogSnapshot(system.pool, schema)).toEqual(before);
  });
});

/** The test's own pool still holds connections to the lost server (the drill's steps are synchronous, so
 * their close was not seen yet): each failing query discards one, until a fresh connection answers. */
async function reconnect(system: RunningSystem): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await system.pool.query('SELECT 1');
      return;
    } catch (error) {
      if (attempt >= 5) throw error;
    }
  }
}
