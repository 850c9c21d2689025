import { randomUUID } from 'node:crypto';
import { IngestPipeline } from '@yunying/archive';
import type { Principal } from '@yunying/auth';
import { inTransaction } from '@yunying/catalog';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { createLogger } from '@yunying/core';
import { makeInstance, newUid } from '@yunying/dicom/testing';
import { createMetricsRegistry } from '@yunying/http';
import { ReplicatedStore } from '@yunying/storage';
import { tempFsTargets, type TempFsTargets } from '@yunying/storage/testing';
import { BannerRepository } from './banner.repository';

const principal = (clinicIds: string[] | 'all'): Principal => ({
  kind: 'user',
  username: 'banner-test',
  role: clinicIds === 'all' ? 'auditor' : 'radiologist',
  clinicId: null,
  clinics: clinicIds === 'all' ? { all: true } : { all: false, clinicIds },
});

/**
 * The banner's SQL on the real PostgreSQL: the study row with its clinic, the name's DICOM JSON from the first
 * current instance, only within the caller's clinics and only while the study is not disposed.
 */
describe('banner repository (real PostgreSQL)', () => {
  let catalog: TestCatalog;
  let storage: TempFsTargets;
  const clinicA = randomUUID();
  const clinicB = randomUUID();
  const study = newUid();
  const repo = new BannerRepository();
  const banner = (p: Principal) => inTransaction(catalog.pool, (db) => repo.banner(db, study, p));

  beforeAll(async () => {
    catalog = await createTestCatalog('banner_repo');
    storage = await tempFsTargets();
    await catalog.pool.query(`INSERT INTO clinics (id, code, name) VALUES ($1, 'bn-a', 'Clinic A'), ($2, 'bn-b', 'Clinic B')`, [clinicA, clinicB]);
    const pipeline = new IngestPipeline({
      pool: catalog.pool,
      store: new ReplicatedStore({ targets: storage.targets, writeQuorum: 3 }),
      logger: createLogger({ level: 'silent', service: 'banner-test' }),
      metrics: createMetricsRegistry(),
      parseLimits: {},
      retentionMinYears: 15,
    });
    const bytes = makeInstance({ studyInstanceUid: study, rows: 32, columns: 32, modality: 'US', patientName: 'Banner^Patient', patientId: 'BN-1' });
    expect((await pipeline.ingest(bytes, { clinicId: clinicA, actor: { username: 'test-device' }, sourceIp: '127.0.0.1', via: 'STOW-RS' })).status).toBe('stored');
  });

  afterAll(async () => {
    await catalog.drop();
    await storage.cleanup();
  });

  it('reads the study, its clinic and the first instance’s name within the caller’s clinics', async () => {
    for (const p of [principal([clinicA]), principal('all')]) {
      const row = await banner(p);
      expect(row).toMatchObject({ clinicId: clinicA, clinicCode: 'bn-a', clinicName: 'Clinic A', patientName: 'Banner^Patient', patientId: 'BN-1', modalities: ['US'], aiCategory: null, aiScore: null });
      expect(row?.pn).toMatchObject({ vr: 'PN', Value: [{ Alphabetic: 'Banner^Patient' }] });
    }
    expect(await banner(principal([clinicB]))).toBeNull();
    expect(await banner(principal([]))).toBeNull();
  });

  it('does not show a disposed study', async () => {
    await catalog.pool.query('UPDATE studies SET disposed_at = now() WHERE study_instance_uid = $1', [study]);
    expect(await banner(principal('all'))).toBeNull();
  });
});
