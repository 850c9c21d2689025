import request from 'supertest';
import { IngestPipeline } from '@yunying/archive';
import { AuditLog } from '@yunying/audit';
import { AuthService, seedDemo, type DemoCredentials } from '@yunying/auth';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { createLogger } from '@yunying/core';
import { makeInstance, newUid } from '@yunying/dicom/testing';
import { createMetricsRegistry, createServiceApp } from '@yunying/http';
import { ReplicatedStore } from '@yunying/storage';
import { tempFsTargets, type TempFsTargets } from '@yunying/storage/testing';
import { priorsRoutes } from '../priors/priors.route';
import type { PriorsView } from '../priors/priors.service';
import type { CorrectionView, ReviewView } from './patient-index.admin';
import { PatientIndexAdmin } from './patient-index.admin';
import { patientIndexRoutes } from './patient-index.route';
import { PatientIndexer } from './patient-indexer';

const SECRET = 'pcorr-secret-pcorr-secret-pcorr-secret-000001';

interface Visit {
  patientId: string;
  name: string;
  birthDate: string;
  sex: string;
  date: string;
}

/**
 * Demographics corrections (#20) on the real PostgreSQL, studies through the real write path, requests
 * through the HTTP routes: the wrong patient was chosen at the scanner, so a study of Chen was filed under
 * Liu. An admin corrects it; the index files it under Chen at once, Liu's and Chen's priors follow, the
 * correction is audited without patient data; a correction that contradicts its person goes to the queue.
 */
describe('patient index: demographics correction re-links the study (real PostgreSQL)', () => {
  let catalog: TestCatalog;
  let storage: TempFsTargets;
  let demo: DemoCredentials;
  let pipeline: IngestPipeline;
  let app: ReturnType<typeof createServiceApp>;
  const uid: Record<string, string> = {};
  const token: Record<string, string> = {};

  const nameOf = (studyUid: string): string => Object.keys(uid).find((k) => uid[k] === studyUid) ?? '?';
  const as = (who: string): { Authorization: string } => ({ Authorization: `Bearer ${token[who] ?? ''}` });
  const priors = async (study: string): Promise<string[]> => {
    const res = await request(app).get(`/api/studies/${uid[study] ?? study}/priors`).set(as('radiologist'));
    expect(res.status).toBe(200);
    return ((res.body as PriorsView).studies ?? []).map((s) => nameOf(s.studyInstanceUid)).sort();
  };
  const correct = (study: string, body: object, who = 'admin') => request(app).post(`/api/admin/patient-index/studies/${uid[study] ?? study}/correction`).set(as(who)).send(body);
  const store = async (name: string, v: Visit): Promise<void> => {
    uid[name] = newUid();
    const bytes = makeInstance({
      studyInstanceUid: uid[name],
      rows: 8,
      columns: 8,
      modality: 'US',
      patientId: v.patientId,
      patientName: v.name,
      birthDate: v.birthDate,
      studyDate: v.date,
      studyDescription: 'Thyroid US',
      extra: { PatientSex: v.sex, BodyPartExamined: 'THYROID' },
    });
    const clinicId = demo.clinics.find((c) => c.code === 'demo-clinic')?.id ?? '';
    expect((await pipeline.ingest(bytes, { clinicId, actor: { username: 'test-device' }, sourceIp: '127.0.0.1', via: 'STOW-RS' })).status).toBe('stored');
  };

  const liu = { patientId: 'HC-LIU', name: 'Liu^Min', birthDate: '19700303', sex: 'F' };
  const chen = { patientId: 'HC-CHEN', name: 'Chen^Jing', birthDate: '19850707', sex: 'F' };

  beforeAll(async () => {
    catalog = await createTestCatalog('pcorr');
    storage = await tempFsTargets();
    const seeded = await seedDemo(catalog.pool, { tokenSecret: SECRET });
    if (!seeded) throw new Error('seed created nothing');
    demo = seeded;
    const auth = new AuthService({
      pool: catalog.pool,
      tokenSecret: SECRET,
      accessTokenTtlSeconds: 300,
      refreshTokenTtlSeconds: 3600,
      audit: new AuditLog(catalog.pool),
      signInLimits: { maxFailures: 1000, maxFailuresPerIp: 1000 },
    });
    pipeline = new IngestPipeline({
      pool: catalog.pool,
      store: new ReplicatedStore({ targets: storage.targets, writeQuorum: 3 }),
      logger: createLogger({ level: 'silent', service: 'pcorr-test' }),
      metrics: createMetricsRegistry(),
      parseLimits: {},
      retentionMinYears: 15,
    });
    for (const u of ['radiologist', 'admin']) token[u] = (await auth.signIn(u, demo.users.find((x) => x.username === u)?.password ?? '')).accessToken;
    app = createServiceApp({
      service: 'viewer',
      logger: createLogger({ level: 'silent', service: 'viewer' }),
      metrics: createMetricsRegistry(),
      readiness: [],
      routes: [priorsRoutes(catalog.pool, auth, new AuditLog(catalog.pool)).router, patientIndexRoutes(new PatientIndexAdmin(catalog.pool, new PatientIndexer(catalog.pool)), auth).router],
    });
    await store('liu2023', { ...liu, date: '20230101' });
    await store('chen2023', { ...chen, date: '20230202' });
    // Chen's 2024 visit, sent under Liu's identity (the wrong worklist entry was picked at the scanner).
    await store('chen2024', { ...liu, date: '20240202' });
    // Filed by the ordinary sweep before anyone noticed.
    await new PatientIndexer(catalog.pool).indexPending();
  }, 120_000);

  afterAll(async () => {
    await catalog?.drop();
    await storage?.cleanup();
  });

  it('before the correction the misfiled study sits with Liu: the wrong priors', async () => {
    expect(await priors('chen2024')).toEqual(['liu2023']);
    expect(await priors('liu2023')).toEqual(['chen2024']);
    expect(await priors('chen2023')).toEqual([]);
  });

  it('only an admin corrects, with a reason and an identity', async () => {
    expect((await correct('chen2024', { ...chen, reason: 'wrong worklist entry' }, 'radiologist')).status).toBe(403);
    expect((await correct('chen2024', { patientId: chen.patientId })).status).toBe(400);
    expect((await correct('chen2024', { reason: 'no identity given' })).status).toBe(400);
    expect((await correct(newUid(), { ...chen, reason: 'no such study' })).status).toBe(404);
    expect(await priors('chen2024')).toEqual(['liu2023']);
  });

  it('the correction files the study under Chen at once: both patients’ priors follow, and it is audited without patient data', async () => {
    const before = (await catalog.pool.query<{ root: string }>(
      `SELECT coalesce(p.merged_into, p.id)::text AS root FROM patient_index_studies x JOIN patient_index_persons p ON p.id = x.person_ref JOIN studies s ON s.id = x.study_ref WHERE s.study_instance_uid = $1`,
      [uid.liu2023],
    )).rows[0]?.root;
    const res = await correct('chen2024', { ...chen, reason: 'wrong worklist entry picked at the scanner' });
    expect(res.status).toBe(200);
    const view = res.body as CorrectionView;
    expect(view).toMatchObject({ studyInstanceUid: uid.chen2024, previousPersonId: before, linkedBy: 'identifier', withdrawnReviews: 0 });
    expect(view.personId).not.toBe(before);
    expect(await priors('chen2024')).toEqual(['chen2023']);
    expect(await priors('chen2023')).toEqual(['chen2024']);
    expect(await priors('liu2023')).toEqual([]);

    const { rows } = await catalog.pool.query<{ event_type: string; action: string; details: Record<string, unknown> }>(
      `SELECT event_type, action, details FROM audit_events WHERE details->>'what' = 'patient-index-correction' ORDER BY seq`,
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ event_type: 'Patient Record', action: 'U', details: { correctionId: view.correctionId, studies: [uid.chen2024], previousPerson: before, person: view.personId } });
    // The audit names index ids and the study UID only: no name, ID, birth date or reason.
    expect(JSON.stringify(rows[0]?.details).replaceAll(view.studyInstanceUid, '<study>')).not.toMatch(/Chen|Liu|HC-|1985|1970|worklist/);
    // The stored objects are records: the catalog's header of the study is not rewritten.
    const header = await catalog.pool.query<{ patient_id: string }>('SELECT patient_id FROM studies WHERE study_instance_uid = $1', [uid.chen2024]);
    expect(header.rows[0]?.patient_id).toBe('HC-LIU');
  });

  it('a correction that contradicts the person its ID points at goes to the admin queue, never linked on a guess; correcting it back withdraws that review', async () => {
    // Chen's ID, another birth date: the index cannot tell a typo in the correction from another person.
    const res = await correct('chen2024', { ...chen, birthDate: '19850708', reason: 'birth date from the ID card' });
    expect(res.status).toBe(200);
    expect((res.body as CorrectionView).linkedBy).toBe('review');
    expect(await priors('chen2024')).toEqual([]);
    expect(await priors('chen2023')).toEqual([]);
    const open = (await request(app).get('/api/admin/patient-index/reviews?status=open').set(as('admin'))).body as { reviews: ReviewView[] };
    expect(open.reviews.map((r) => [nameOf(r.studyInstanceUid), r.reason, r.differs])).toEqual([['chen2024', 'identifier-demographics-differ', ['birthDate']]]);

    // Corrected back: the undecided review the study raised is withdrawn, and it joins Chen again.
    const again = await correct('chen2024', { ...chen, reason: 'the card was misread' });
    expect(again.body as CorrectionView).toMatchObject({ linkedBy: 'identifier', withdrawnReviews: 1 });
    expect(await priors('chen2024')).toEqual(['chen2023']);
    expect(((await request(app).get('/api/admin/patient-index/reviews?status=open').set(as('admin'))).body as { reviews: ReviewView[] }).reviews).toEqual([]);
    // Every correction is kept, with who made it.
    const kept = await catalog.pool.query<{ by_admin: boolean }>(
      `SELECT c.corrected_by = u.id::text AS by_admin FROM patient_index_corrections c LEFT JOIN users u ON u.username = 'admin' ORDER BY c.id`,
    );
    expect(kept.rows).toEqual([{ by_admin: true }, { by_admin: true }, { by_admin: true }]);
  });
});
