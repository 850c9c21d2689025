import { randomUUID } from 'node:crypto';
import { IngestPipeline } from '@yunying/archive';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { createLogger } from '@yunying/core';
import { makeInstance, newUid } from '@yunying/dicom/testing';
import { createMetricsRegistry } from '@yunying/http';
import { ReplicatedStore } from '@yunying/storage';
import { tempFsTargets, type TempFsTargets } from '@yunying/storage/testing';
import { studyClinic } from '../triage/triage.repository';
import { sourceFacts } from './source-facts';

/**
 * What the AI objects read from the catalog, on the real PostgreSQL: each source image's facts from its stored
 * DICOM JSON (only the study's current instances that were asked for), and the clinic they are stored as.
 */
describe('AI object sources (real PostgreSQL)', () => {
  let catalog: TestCatalog;
  let storage: TempFsTargets;
  const clinic = randomUUID();
  const study = newUid();
  const [calibrated, plain, other] = [newUid(), newUid(), newUid()];
  let studyRef = '';

  beforeAll(async () => {
    catalog = await createTestCatalog('source_facts');
    storage = await tempFsTargets();
    await catalog.pool.query(`INSERT INTO clinics (id, code, name) VALUES ($1, 'sf', 'Source facts')`, [clinic]);
    const pipeline = new IngestPipeline({
      pool: catalog.pool,
      store: new ReplicatedStore({ targets: storage.targets, writeQuorum: 3 }),
      logger: createLogger({ level: 'silent', service: 'source-facts-test' }),
      metrics: createMetricsRegistry(),
      parseLimits: {},
      retentionMinYears: 15,
    });
    const instances = [
      makeInstance({ studyInstanceUid: study, sopInstanceUid: calibrated, rows: 16, columns: 16, modality: 'US', extra: { FrameOfReferenceUID: '2.25.77', PixelSpacing: [0.2, 0.25] } }),
      makeInstance({ studyInstanceUid: study, sopInstanceUid: plain, rows: 16, columns: 16, modality: 'US' }),
      makeInstance({ studyInstanceUid: newUid(), sopInstanceUid: other, rows: 16, columns: 16, modality: 'US' }),
    ];
    for (const bytes of instances) {
      expect((await pipeline.ingest(bytes, { clinicId: clinic, actor: { username: 'test-device' }, sourceIp: '127.0.0.1', via: 'STOW-RS' })).status).toBe('stored');
    }
    const { rows } = await catalog.pool.query<{ id: string }>('SELECT id::text FROM studies WHERE study_instance_uid = $1', [study]);
    studyRef = rows[0]?.id ?? '';
  });

  afterAll(async () => {
    await catalog.drop();
    await storage.cleanup();
  });

  it('reads the facts of the asked current instances of the study from their stored DICOM JSON', async () => {
    const facts = await sourceFacts(catalog.pool, studyRef, [calibrated, plain, other]);
    expect([...facts.keys()].sort()).toEqual([calibrated, plain].sort());
    expect(facts.get(calibrated)).toMatchObject({ frameOfReferenceUid: '2.25.77', pixelSpacing: [0.2, 0.25] });
    expect(facts.get(plain)).toMatchObject({ frameOfReferenceUid: null, pixelSpacing: null });
  });

  it('finds the clinic the study belongs to, and none for a study that does not exist', async () => {
    expect(await studyClinic(catalog.pool, studyRef)).toBe(clinic);
    expect(await studyClinic(catalog.pool, '999999999')).toBeNull();
  });
});
