import { Registry } from 'prom-client';
import { IngestPipeline, type Sender } from '@yunying/archive';
import { copyVersionLookup } from '@yunying/catalog';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { createLogger } from '@yunying/core';
import { makeInstance, newUid } from '@yunying/dicom/testing';
import { ReplicatedStore, S3ReplicaTarget } from '@yunying/storage';
import { s3TestSettings, uniqueBucketName } from '@yunying/storage/testing';
import { describeUnless } from '../../../../test/support/skip';
import { keeperMetrics } from './keeper.metrics';
import { RepairService } from './repair.service';
import { Scrubber } from './scrub.service';

/**
 * #18 storage tiering through the scrubber, on the real PostgreSQL and Ceph RGW: copies ingested into
 * buckets whose lifecycle rule moves them to COLD are, once moved, verified like hot copies (read in full,
 * SHA-256, COMPLIANCE retain-until): no finding, nothing repaired, their class recorded in the catalog and
 * counted in the pass summary; the archive still serves the bytes.
 */
const logger = createLogger({ level: 'silent', service: 'scrub-tiering-test' });
const s3 = s3TestSettings();
const debugInterval = Number(process.env.S3_LC_DEBUG_INTERVAL ?? '0');

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describeUnless(
  s3 === null
    ? 'no S3 endpoint: S3_ENDPOINT unset (start Ceph RGW with infra/ceph/up.sh)'
    : !(debugInterval > 0)
      ? 'S3_LC_DEBUG_INTERVAL unset: this RGW counts lifecycle days as real days (infra/ceph/up.sh sets rgw_lc_debug_interval)'
      : null,
  'scrubber: copies in a cold storage class (Ceph RGW lifecycle)',
  () => {
    jest.setTimeout(240_000);
    let catalog: TestCatalog;

    afterAll(async () => {
      await catalog?.drop();
    });

    it('verifies transitioned copies as good, records and reports their class', async () => {
      const s = s3!;
      catalog = await createTestCatalog('scrubtier');
      const buckets = [1, 2, 3].map((n) => uniqueBucketName(`yy-tier-${n}`));
      const targets = buckets.map(
        (bucket, i) => new S3ReplicaTarget({ name: `s3-${i + 1}`, endpoint: s.endpoint, accessKey: s.accessKey, secretKey: s.secretKey, region: s.region, bucket, tiering: { afterDays: 1, storageClass: 'COLD' } }),
      );
      const store = new ReplicatedStore({ targets, copyVersions: copyVersionLookup(catalog.pool) });
      await store.init();
      const clinic = await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name) VALUES ('clinic-tier', 'Tier') RETURNING id");
      const sender: Sender = { clinicId: clinic.rows[0]?.id ?? '', actor: { username: 'test-device' }, sourceIp: '127.0.0.1', via: 'STOW-RS' };
      const pipeline = new IngestPipeline({ pool: catalog.pool, store, logger, metrics: new Registry(), parseLimits: {}, retentionMinYears: 15 });
      const bytes = makeInstance({ studyInstanceUid: newUid(), sopInstanceUid: newUid(), rows: 8, columns: 8 });
      expect(await pipeline.ingest(bytes, sender)).toMatchObject({ status: 'stored' });
      const { rows: before } = await catalog.pool.query<{ target: string; object_key: string; version_id: string; retain_until: Date }>(
        'SELECT target, object_key, version_id, retain_until FROM copies ORDER BY target',
      );
      expect(before).toHaveLength(3);

      // Wait until the lifecycle has moved all three copies (a day is S3_LC_DEBUG_INTERVAL seconds here).
      const classes = async (): Promise<(string | null)[]> =>
        Promise.all(before.map(async (c, i) => (await targets[i]!.stat(c.object_key, c.version_id))?.storageClass ?? null));
      let now = await classes();
      for (let waited = 0; now.some((c) => c !== 'COLD') && waited < 200_000; waited += 2_000) {
        await sleep(2_000);
        now = await classes();
      }
      expect(now).toEqual(['COLD', 'COLD', 'COLD']);

      const metrics = keeperMetrics(new Registry());
      const repair = new RepairService({ pool: catalog.pool, store, logger, metrics, retrySeconds: 3600 });
      const scrubber = new Scrubber({ pool: catalog.pool, store, repair, logger, metrics, batch: 50, maxBytesPerSecond: 0, cycleSeconds: 86_400, unreachableRetrySeconds: 3600 });
      const pass = await scrubber.fullPass({ repair: true });
      expect(pass.findings).toEqual([]);
      expect(pass).toMatchObject({ verified: 3, ok: 3, repaired: 0, storageClasses: { COLD: 3 } });
      const { rows: after } = await catalog.pool.query<{ target: string; version_id: string; retain_until: Date; state: string; storage_class: string }>(
        'SELECT target, version_id, retain_until, state, storage_class FROM copies ORDER BY target',
      );
      expect(after).toEqual(before.map((c) => ({ target: c.target, version_id: c.version_id, retain_until: c.retain_until, state: 'ok', storage_class: 'COLD' })));
      expect(Buffer.from(await store.read(before[0]!.object_key, { expectedSize: bytes.length }))).toEqual(Buffer.from(bytes));
    });
  },
);
