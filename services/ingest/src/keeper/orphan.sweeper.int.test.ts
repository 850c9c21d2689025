import { Registry } from 'prom-client';
import { IngestPipeline, type Sender } from '@yunying/archive';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { createLogger } from '@yunying/core';
import { makeInstance } from '@yunying/dicom/testing';
import { ReplicatedStore } from '@yunying/storage';
import { tempFsTargets, type TempFsTargets } from '@yunying/storage/testing';
import { keeperMetrics } from './keeper.metrics';
import { OrphanSweeper } from './orphan.sweeper';

/**
 * The orphan sweeper against the real PostgreSQL and three fs replica targets: an object written to every
 * target but never catalogued is reported once per target (a Security Alert each), seen again without a new
 * report, and resolved once a retried upload of the same bytes adopts it; the report list keeps it.
 */
describe('orphan sweeper (real PostgreSQL, fs targets)', () => {
  const logger = createLogger({ level: 'silent', service: 'orphan-sweeper-test' });
  let catalog: TestCatalog;
  let fsTargets: TempFsTargets;
  let store: ReplicatedStore;
  let sweeper: OrphanSweeper;

  beforeAll(async () => {
    catalog = await createTestCatalog('orphans');
    fsTargets = await tempFsTargets(3);
    store = new ReplicatedStore({ targets: fsTargets.targets, writeQuorum: 3 });
    await store.init();
    sweeper = new OrphanSweeper({ pool: catalog.pool, store, logger, metrics: keeperMetrics(new Registry()) });
  });

  afterAll(async () => {
    await catalog?.drop();
    await fsTargets?.cleanup();
  });

  const orphanAlerts = async (): Promise<{ sha256: string; target: string }[]> =>
    (await catalog.pool.query<{ details: { sha256: string; target: string } }>("SELECT details FROM audit_events WHERE details->>'event' = 'copy.orphan' ORDER BY seq")).rows.map(
      (r) => r.details,
    );

  it('reports an uncatalogued object once per target, again without a new report, and resolves it when an upload adopts it', async () => {
    // An upload that died after its copies landed and before the catalog commit.
    const bytes = makeInstance({ rows: 8, columns: 8 });
    const { key } = await store.put(bytes, { retainUntil: new Date(Date.now() + 15 * 366 * 86_400_000) });
    const sha256 = key.slice(key.lastIndexOf('/') + 1);

    expect(await sweeper.sweep()).toEqual({ listed: 3, newOrphans: 3, openOrphans: 3, resolved: 0, unreachable: [] });
    expect((await orphanAlerts()).map((a) => `${a.target}:${a.sha256}`).sort()).toEqual(['fs-1', 'fs-2', 'fs-3'].map((t) => `${t}:${sha256}`));
    const open = await sweeper.reports(true, 10);
    expect(open.map((r) => r.target).sort()).toEqual(['fs-1', 'fs-2', 'fs-3']);
    for (const report of open) {
      expect(report).toMatchObject({ key, resolvedAt: null });
      expect(report.size).toBeGreaterThan(0);
      expect(report.lastSeenAt.getTime()).toBeGreaterThanOrEqual(report.firstSeenAt.getTime());
    }

    // Seen again: still open, not reported anew.
    expect(await sweeper.sweep()).toMatchObject({ newOrphans: 0, openOrphans: 3, resolved: 0 });
    expect(await orphanAlerts()).toHaveLength(3);

    // A retried upload of the same bytes adopts the copies by content address.
    const clinic = await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name) VALUES ('orphan-c', 'Clinic O') RETURNING id");
    const pipeline = new IngestPipeline({ pool: catalog.pool, store, logger, metrics: new Registry(), parseLimits: {}, retentionMinYears: 15 });
    const sender: Sender = { clinicId: clinic.rows[0]?.id ?? '', actor: { username: 'test-device' }, sourceIp: '127.0.0.1', via: 'STOW-RS' };
    expect(await pipeline.ingest(bytes, sender)).toMatchObject({ status: 'stored' });

    expect(await sweeper.sweep()).toMatchObject({ newOrphans: 0, openOrphans: 0, resolved: 3 });
    expect(await sweeper.reports(true, 10)).toEqual([]);
    const all = await sweeper.reports(false, 10);
    expect(all).toHaveLength(3);
    for (const report of all) expect(report.resolvedAt).toBeInstanceOf(Date);
    expect(await sweeper.reports(false, 2)).toHaveLength(2);
  });
});
