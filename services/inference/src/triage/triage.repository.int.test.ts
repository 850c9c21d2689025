import { randomUUID } from 'node:crypto';
import { IngestPipeline } from '@yunying/archive';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { createLogger } from '@yunying/core';
import { makeInstance, newUid } from '@yunying/dicom/testing';
import { createMetricsRegistry } from '@yunying/http';
import { ReplicatedStore } from '@yunying/storage';
import { tempFsTargets, type TempFsTargets } from '@yunying/storage/testing';
import { clinicScopeRules, currentInstances, studyActivity } from './triage.repository';

const SR = '1.2.840.10008.5.1.4.1.1.88.33';

/**
 * What triage reads of a study on the real PostgreSQL: its activity (current images, not SRs) and its current
 * images in series and instance order with the object keys and sizes the write path recorded.
 */
describe('triage repository: study activity and images (real PostgreSQL)', () => {
  let catalog: TestCatalog;
  let storage: TempFsTargets;
  const clinic = randomUUID();
  const study = newUid();
  const [seriesLate, seriesEarly] = [newUid(), newUid()];
  const [second, first, third, report] = [newUid(), newUid(), newUid(), newUid()];

  beforeAll(async () => {
    catalog = await createTestCatalog('triage_repo');
    storage = await tempFsTargets();
    await catalog.pool.query(`INSERT INTO clinics (id, code, name) VALUES ($1, 'tr', 'Triage repo')`, [clinic]);
    const pipeline = new IngestPipeline({
      pool: catalog.pool,
      store: new ReplicatedStore({ targets: storage.targets, writeQuorum: 3 }),
      logger: createLogger({ level: 'silent', service: 'triage-repo-test' }),
      metrics: createMetricsRegistry(),
      parseLimits: {},
      retentionMinYears: 15,
    });
    const image = { studyInstanceUid: study, rows: 16, columns: 16, modality: 'US' };
    for (const bytes of [
      makeInstance({ ...image, seriesInstanceUid: seriesLate, seriesNumber: 2, instanceNumber: 1, sopInstanceUid: third }),
      makeInstance({ ...image, seriesInstanceUid: seriesEarly, seriesNumber: 1, instanceNumber: 2, sopInstanceUid: second }),
      makeInstance({ ...image, seriesInstanceUid: seriesEarly, seriesNumber: 1, instanceNumber: 1, sopInstanceUid: first }),
      makeInstance({ ...image, seriesInstanceUid: newUid(), seriesNumber: 3, sopInstanceUid: report, sopClassUid: SR, modality: 'SR' }),
    ]) {
      expect((await pipeline.ingest(bytes, { clinicId: clinic, actor: { username: 'test-device' }, sourceIp: '127.0.0.1', via: 'STOW-RS' })).status).toBe('stored');
    }
  });

  afterAll(async () => {
    await catalog.drop();
    await storage.cleanup();
  });

  it('counts the study’s current images (not its SR) with the latest arrival, and knows no unknown study', async () => {
    const activity = await studyActivity(catalog.pool, study);
    expect(activity).toMatchObject({ clinicId: clinic, instanceCount: 3 });
    expect(activity?.lastArrival).toBeInstanceOf(Date);
    expect(await studyActivity(catalog.pool, newUid())).toBeNull();
  });

  it('lists the current images in series and instance order with the stored object key and size', async () => {
    const activity = await studyActivity(catalog.pool, study);
    const images = await currentInstances(catalog.pool, activity?.studyRef ?? '');
    expect(images.map((i) => i.sopInstanceUid)).toEqual([first, second, third]);
    const { rows } = await catalog.pool.query<{ object_key: string; size_bytes: string }>(
      'SELECT o.object_key, i.size_bytes::text FROM instances i JOIN objects o ON o.sha256 = i.sha256 WHERE i.sop_instance_uid = $1',
      [first],
    );
    expect(images[0]).toEqual({ sopInstanceUid: first, seriesInstanceUid: seriesEarly, sopClassUid: expect.any(String) as string, modality: 'US', objectKey: rows[0]?.object_key, sizeBytes: Number(rows[0]?.size_bytes) });
  });

  it('reads the clinic’s scope rules longest pattern first (the most specific wins)', async () => {
    await catalog.pool.query(`INSERT INTO triage_scope_rules (clinic_id, pattern, scope) VALUES ($1, 'us', 'other'), ($1, 'neck us', 'thyroid'), ($1, 'carotid', 'other')`, [clinic]);
    expect(await clinicScopeRules(catalog.pool, clinic)).toEqual([
      { pattern: 'carotid', scope: 'other' },
      { pattern: 'neck us', scope: 'thyroid' },
      { pattern: 'us', scope: 'other' },
    ]);
    expect(await clinicScopeRules(catalog.pool, randomUUID())).toEqual([]);
  });
});
