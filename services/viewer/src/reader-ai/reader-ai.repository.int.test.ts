import { randomUUID } from 'node:crypto';
import { IngestPipeline } from '@yunying/archive';
import type { Principal } from '@yunying/auth';
import { inTransaction } from '@yunying/catalog';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { createLogger } from '@yunying/core';
import { makeInstance, newUid } from '@yunying/dicom/testing';
import { createMetricsRegistry } from '@yunying/http';
import type { NoduleFinding } from '@yunying/nodule-model';
import { ReplicatedStore } from '@yunying/storage';
import { tempFsTargets, type TempFsTargets } from '@yunying/storage/testing';
import { ReaderAiRepository, type ReaderAiRow } from './reader-ai.repository';

const principal = (clinicIds: string[] | 'all'): Principal => ({
  kind: 'user',
  username: 'reader-ai-test',
  role: clinicIds === 'all' ? 'auditor' : 'radiologist',
  clinicId: null,
  clinics: clinicIds === 'all' ? { all: true } : { all: false, clinicIds },
});

/**
 * Reader-guided scoring's SQL on the real PostgreSQL: the instance and study a reader points at are found only
 * within the reader's clinics (tenancy through clinicCondition), with the object key and size the write path
 * recorded; a stored result reads back as written.
 */
describe('reader AI repository (real PostgreSQL)', () => {
  let catalog: TestCatalog;
  let storage: TempFsTargets;
  const clinicA = randomUUID();
  const clinicB = randomUUID();
  const study = newUid();
  const sop = newUid();
  const repo = new ReaderAiRepository();

  beforeAll(async () => {
    catalog = await createTestCatalog('reader_ai');
    storage = await tempFsTargets();
    await catalog.pool.query(`INSERT INTO clinics (id, code, name) VALUES ($1, 'ra-a', 'A'), ($2, 'ra-b', 'B')`, [clinicA, clinicB]);
    const pipeline = new IngestPipeline({
      pool: catalog.pool,
      store: new ReplicatedStore({ targets: storage.targets, writeQuorum: 3 }),
      logger: createLogger({ level: 'silent', service: 'reader-ai-test' }),
      metrics: createMetricsRegistry(),
      parseLimits: {},
      retentionMinYears: 15,
    });
    const bytes = makeInstance({ studyInstanceUid: study, sopInstanceUid: sop, rows: 32, columns: 32, modality: 'US' });
    expect((await pipeline.ingest(bytes, { clinicId: clinicA, actor: { username: 'test-device' }, sourceIp: '127.0.0.1', via: 'STOW-RS' })).status).toBe('stored');
  });

  afterAll(async () => {
    await catalog.drop();
    await storage.cleanup();
  });

  it('finds the pointed instance and the study only within the caller’s clinics', async () => {
    const { rows } = await catalog.pool.query<{ id: string; object_key: string; size_bytes: string }>(
      `SELECT s.id::text, o.object_key, i.size_bytes::text FROM studies s JOIN instances i ON i.study_ref = s.id JOIN objects o ON o.sha256 = i.sha256 WHERE s.study_instance_uid = $1`,
      [study],
    );
    const expected = rows[0];
    if (!expected) throw new Error('the ingest stored no instance');
    await inTransaction(catalog.pool, async (db) => {
      for (const p of [principal([clinicA]), principal('all')]) {
        expect(await repo.instance(db, study, sop, p)).toEqual({ studyRef: expected.id, clinicId: clinicA, objectKey: expected.object_key, sizeBytes: Number(expected.size_bytes) });
        expect(await repo.studyRef(db, study, p)).toEqual({ id: expected.id, clinicId: clinicA });
      }
      for (const p of [principal([clinicB]), principal([])]) {
        expect(await repo.instance(db, study, sop, p)).toBeNull();
        expect(await repo.studyRef(db, study, p)).toBeNull();
      }
      expect(await repo.instance(db, study, newUid(), principal([clinicA]))).toBeNull();
    });
  });

  it('reads stored results back as written, oldest first', async () => {
    const studyRef = (await inTransaction(catalog.pool, (db) => repo.studyRef(db, study, principal('all'))))?.id ?? '';
    const finding = { index: 1, score: 0.42, source: 'reader' } as unknown as NoduleFinding;
    const written = await inTransaction(catalog.pool, async (db) => [
      await repo.insert(db, { studyRef, sopInstanceUid: sop, frameNumber: 1, requestedBy: randomUUID(), model: { id: 'm', version: '1', sha256: 'a'.repeat(64) }, box: { x: 1, y: 2, width: 10, height: 12 }, finding }),
      await repo.insert(db, { studyRef, sopInstanceUid: sop, frameNumber: 1, requestedBy: randomUUID(), model: { id: 'm', version: '2', sha256: 'b'.repeat(64) }, box: { x: 3, y: 4, width: 9, height: 8 }, finding }),
    ]);
    const listed = await inTransaction(catalog.pool, (db) => repo.list(db, studyRef));
    // The insert answers with the row it was given (studyRef included); the list names the study by the query.
    const asListed = written.map(({ studyRef: _studyRef, ...rest }: ReaderAiRow & { studyRef?: string }) => rest);
    expect(listed).toEqual(asListed.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id)));
    expect(listed[0]).toMatchObject({ model: { id: 'm' }, box: { x: expect.any(Number) as number }, finding: { score: 0.42 } });
  });
});
