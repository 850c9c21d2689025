import { Registry } from 'prom-client';
import { IngestPipeline, type Sender } from '@yunying/archive';
import { createPool, type Pool } from '@yunying/catalog';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { createLogger } from '@yunying/core';
import { makeInstance, newUid } from '@yunying/dicom/testing';
import { ReplicatedStore } from '@yunying/storage';
import { tempFsTargets, type TempFsTargets } from '@yunying/storage/testing';
import { waitFor } from '../../../../test/support/wait';
import { markVerifiedOk, releaseClaim, type CopyRef } from './copies.repository';

/**
 * Issue #18, the catalog at scale: `copies` is hash-partitioned by sha256 into 16 partitions (migration 1810;
 * more as the archive grows). The keeper updates a copy by its key (id, sha256), so each update reaches the
 * one partition holding the copy; by id alone it would scan every partition, each update, for every copy
 * of a scrub cycle. Counted with PostgreSQL's own statistics: scans started per partition.
 */
describe('keeper updates of copies reach one partition (real PostgreSQL)', () => {
  let catalog: TestCatalog;
  let storage: TempFsTargets;
  /**
   * Every statement of the test that reads or writes `copies` goes through this one connection, whose
   * statistics are flushed on demand (pg_stat_force_next_flush); the statistics are read through another.
   */
  let keeper: Pool;

  beforeAll(async () => {
    catalog = await createTestCatalog('copyparts');
    storage = await tempFsTargets();
    keeper = createPool({ url: catalog.url, schema: catalog.schema, poolSize: 1 });
  });
  afterAll(async () => {
    await keeper?.end();
    await catalog?.drop();
    await storage?.cleanup();
  });

  /** Rows inserted into each partition of this schema's `copies`, as the statistics say. */
  async function insertsPerPartition(): Promise<Map<string, number>> {
    const { rows } = await catalog.pool.query<{ relname: string; n: string }>(
      "SELECT relname, n_tup_ins::text AS n FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname LIKE 'copies\\_h%'",
    );
    return new Map(rows.map((r) => [r.relname, Number(r.n)]));
  }

  /** Sequential plus index scans started on each partition of this schema's `copies`. */
  async function scansPerPartition(): Promise<Map<string, number>> {
    const { rows } = await catalog.pool.query<{ relname: string; scans: string }>(
      "SELECT relname, (coalesce(seq_scan, 0) + coalesce(idx_scan, 0))::text AS scans FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname LIKE 'copies\\_h%'",
    );
    return new Map(rows.map((r) => [r.relname, Number(r.scans)]));
  }

  it('markVerifiedOk and releaseClaim scan only the partition of the copy they name', async () => {
    const clinic = await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name) VALUES ('parts', 'Parts') RETURNING id");
    const sender: Sender = { clinicId: clinic.rows[0]!.id, actor: { username: 'test-device' }, sourceIp: '127.0.0.1', via: 'STOW-RS' };
    const pipeline = new IngestPipeline({ pool: keeper, store: new ReplicatedStore({ targets: storage.targets }), logger: createLogger({ level: 'silent', service: 'parts-test' }), metrics: new Registry(), parseLimits: {}, retentionMinYears: 15 });
    expect(await pipeline.ingest(makeInstance({ studyInstanceUid: newUid(), sopInstanceUid: newUid(), rows: 8, columns: 8 }), sender)).toMatchObject({ status: 'stored' });
    // Found through the keeper's connection as well: a lookup by target scans every partition.
    const { rows } = await keeper.query<CopyRef & { partition: string }>("SELECT id::text, sha256, tableoid::regclass::text AS partition FROM copies WHERE target = 'fs-1'");
    const copy = rows[0]!;
    const own = copy.partition.replace(/^.*\./, '').replace(/"/g, '');
    await keeper.query('SELECT pg_stat_force_next_flush()');
    await waitFor('the ingest in the statistics', async () => (await insertsPerPartition()).get(own) === 3, 20_000);
    const partitions = await scansPerPartition();
    expect(partitions.size).toBe(16);
    expect(partitions.has(own)).toBe(true);

    await markVerifiedOk(keeper, { id: copy.id, sha256: copy.sha256 });
    await releaseClaim(keeper, { id: copy.id, sha256: copy.sha256 });
    // Its statistics reported as soon as the connection is idle, not after the 10 s a backend may wait.
    await keeper.query('SELECT pg_stat_force_next_flush()');
    const after = await waitFor('the updates in the statistics', async () => {
      const now = await scansPerPartition();
      return (now.get(own) ?? 0) >= (partitions.get(own) ?? 0) + 2 ? now : null;
    }, 20_000);
    const touched = [...after].filter(([name, scans]) => scans > (partitions.get(name) ?? 0)).map(([name]) => name);
    expect(touched).toEqual([own]);
    const state = await catalog.pool.query('SELECT state, last_verified_at IS NOT NULL AS verified, claimed_until FROM copies WHERE id = $1', [copy.id]);
    expect(state.rows).toEqual([{ state: 'ok', verified: true, claimed_until: null }]);
  });
});
