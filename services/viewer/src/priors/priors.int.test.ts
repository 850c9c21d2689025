import request from 'supertest';
import { IngestPipeline } from '@yunying/archive';
import { AuditLog } from '@yunying/audit';
import { AuthService, seedDemo, type DemoCredentials } from '@yunying/auth';
import { createTestCatalog, storeTriagedResult, type TestCatalog } from '@yunying/catalog/testing';
import { createLogger } from '@yunying/core';
import { makeInstance, newUid } from '@yunying/dicom/testing';
import { createMetricsRegistry, createServiceApp } from '@yunying/http';
import { scoredImage } from '@yunying/nodule-model/testing';
import { ReplicatedStore } from '@yunying/storage';
import { tempFsTargets, type TempFsTargets } from '@yunying/storage/testing';
import { priorsRoutes } from './priors.route';
import type { FollowUpView } from './follow-up.service';
import type { PriorsView } from './priors.service';

const SECRET = 'priors-secret-priors-secret-priors-secret-0001';
const PASSWORD = 'a long enough password';

interface StudySpec {
  clinic: 'demo-clinic' | 'other-clinic';
  patientId: string;
  issuer: string | null;
  date: string;
  modality?: string;
  bodyPart?: string;
}

/**
 * GET /api/studies/{uid}/priors against the real PostgreSQL, with studies stored through the real write
 * path (IngestPipeline, three fs replicas) and callers signed in for real: linking on PatientID + issuer,
 * tenancy by clinic and by the reader's grants, and the audit record the request writes.
 */
describe('priors API (real PostgreSQL)', () => {
  let catalog: TestCatalog;
  let storage: TempFsTargets;
  let auth: AuthService;
  let demo: DemoCredentials;
  let app: ReturnType<typeof createServiceApp>;
  const uid: Record<string, string> = {};
  const token: Record<string, string> = {};

  const clinicId = (code: string): string => {
    const clinic = demo.clinics.find((c) => c.code === code);
    if (!clinic) throw new Error(`no demo clinic ${code}`);
    return clinic.id;
  };
  const password = (username: string): string => demo.users.find((u) => u.username === username)?.password ?? '';
  const priorsOf = async (study: string, as: string): Promise<{ status: number; body: PriorsView }> => {
    const res = await request(app).get(`/api/studies/${uid[study] ?? study}/priors`).set('Authorization', `Bearer ${token[as] ?? ''}`);
    return { status: res.status, body: res.body as PriorsView };
  };
  const names = (view: PriorsView): string[] => view.studies.map((s) => Object.keys(uid).find((k) => uid[k] === s.studyInstanceUid) ?? '?');

  beforeAll(async () => {
    catalog = await createTestCatalog('priors');
    storage = await tempFsTargets();
    const seeded = await seedDemo(catalog.pool, { tokenSecret: SECRET });
    if (!seeded) throw new Error('seed created nothing');
    demo = seeded;
    const audit = new AuditLog(catalog.pool);
    auth = new AuthService({ pool: catalog.pool, tokenSecret: SECRET, accessTokenTtlSeconds: 300, refreshTokenTtlSeconds: 3600, audit, signInLimits: { maxFailures: 1000, maxFailuresPerIp: 1000 } });
    const pipeline = new IngestPipeline({
      pool: catalog.pool,
      store: new ReplicatedStore({ targets: storage.targets, writeQuorum: 3 }),
      logger: createLogger({ level: 'silent', service: 'priors-test' }),
      metrics: createMetricsRegistry(),
      parseLimits: {},
      retentionMinYears: 15,
    });
    const studies: Record<string, StudySpec> = {
      current: { clinic: 'demo-clinic', patientId: 'HC-1', issuer: 'HC-CHAIN', date: '20240614', bodyPart: 'THYROID' },
      prior2023: { clinic: 'demo-clinic', patientId: 'HC-1', issuer: 'HC-CHAIN', date: '20230610', bodyPart: 'THYROID' },
      chest2021: { clinic: 'demo-clinic', patientId: 'HC-1', issuer: 'HC-CHAIN', date: '20210501', modality: 'CT', bodyPart: 'CHEST' },
      later2025: { clinic: 'demo-clinic', patientId: 'HC-1', issuer: 'HC-CHAIN', date: '20250110', bodyPart: 'THYROID' },
      // Same clinic, same PatientID, no issuer: maybe the same person, never linked silently.
      noIssuer2022: { clinic: 'demo-clinic', patientId: 'HC-1', issuer: null, date: '20220301', bodyPart: 'THYROID' },
      otherPatient: { clinic: 'demo-clinic', patientId: 'HC-2', issuer: 'HC-CHAIN', date: '20230101', bodyPart: 'THYROID' },
      // Another clinic under the chain's issuer: the same person, shown only to a reader granted both.
      otherClinicChain: { clinic: 'other-clinic', patientId: 'HC-1', issuer: 'HC-CHAIN', date: '20231201', bodyPart: 'THYROID' },
      // Another clinic's local number that happens to be the same: never the same patient.
      otherClinicLocal: { clinic: 'other-clinic', patientId: 'HC-1', issuer: null, date: '20240101', bodyPart: 'THYROID' },
      localCurrent: { clinic: 'demo-clinic', patientId: 'L-7', issuer: null, date: '20240614', bodyPart: 'THYROID' },
      localOther: { clinic: 'other-clinic', patientId: 'L-7', issuer: null, date: '20230614', bodyPart: 'THYROID' },
    };
    for (const [name, spec] of Object.entries(studies)) {
      uid[name] = newUid();
      const bytes = makeInstance({
        studyInstanceUid: uid[name],
        rows: 8,
        columns: 8,
        modality: spec.modality ?? 'US',
        patientId: spec.patientId,
        patientName: 'Test^Patient',
        studyDate: spec.date,
        studyDescription: spec.modality === 'CT' ? 'CT chest' : 'Thyroid US',
        extra: { ...(spec.issuer ? { IssuerOfPatientID: spec.issuer } : {}), ...(spec.bodyPart ? { BodyPartExamined: spec.bodyPart } : {}) },
      });
      const outcome = await pipeline.ingest(bytes, { clinicId: clinicId(spec.clinic), actor: { username: 'test-device' }, sourceIp: '127.0.0.1', via: 'STOW-RS' });
      expect(outcome.status).toBe('stored');
    }
    const both = await auth.createUser({ username: 'reader-both', role: 'radiologist', password: PASSWORD });
    await auth.grantClinic(both.id, clinicId('demo-clinic'));
    await auth.grantClinic(both.id, clinicId('other-clinic'));
    const otherOnly = await auth.createUser({ username: 'reader-other', role: 'radiologist', password: PASSWORD });
    await auth.grantClinic(otherOnly.id, clinicId('other-clinic'));
    token.radiologist = (await auth.signIn('radiologist', password('radiologist'))).accessToken;
    token.clinic = (await auth.signIn('clinic', password('clinic'))).accessToken;
    token.auditor = (await auth.signIn('auditor', password('auditor'))).accessToken;
    token.both = (await auth.signIn('reader-both', PASSWORD)).accessToken;
    token.otherOnly = (await auth.signIn('reader-other', PASSWORD)).accessToken;
    app = createServiceApp({
      service: 'viewer',
      logger: createLogger({ level: 'silent', service: 'viewer' }),
      metrics: createMetricsRegistry(),
      readiness: [],
      routes: [priorsRoutes(catalog.pool, auth, new AuditLog(catalog.pool)).router],
    });
  }, 120_000);

  afterAll(async () => {
    await catalog?.drop();
    await storage?.cleanup();
  });

  it('lists the patient’s studies of the reader’s granted clinic on PatientID + issuer, most recent first, and picks the relevant prior', async () => {
    const { status, body } = await priorsOf('current', 'radiologist');
    expect(status).toBe(200);
    expect(names(body)).toEqual(['later2025', 'prior2023', 'chest2021']);
    expect(body.linkedOn).toEqual({ patientId: true, issuer: 'HC-CHAIN' });
    expect(body.current).toEqual({ modalities: ['US'], bodyParts: ['THYROID'], thyroid: true });
    expect(body.notLinked).toBe(1);
    expect(body.relevantPrior).toBe(uid.prior2023);
    const byName = Object.fromEntries(body.studies.map((s, i) => [names(body)[i], s]));
    expect(byName.prior2023).toMatchObject({ studyDate: '2023-06-10', modalities: ['US'], bodyParts: ['THYROID'], thyroid: true, earlier: true, relevant: true, clinic: { code: 'demo-clinic' } });
    expect(byName.chest2021).toMatchObject({ modalities: ['CT'], bodyParts: ['CHEST'], thyroid: false, earlier: true, relevant: false });
    expect(byName.later2025).toMatchObject({ earlier: false, relevant: true });
  });

  it('shows another clinic’s study only under the shared issuer and only to a reader granted that clinic', async () => {
    const both = await priorsOf('current', 'both');
    expect(names(both.body)).toEqual(['later2025', 'otherClinicChain', 'prior2023', 'chest2021']);
    expect(both.body.relevantPrior).toBe(uid.otherClinicChain);
    // A local PatientID (no issuer) never links across clinics, whatever the grants.
    expect(names((await priorsOf('localCurrent', 'both')).body)).toEqual([]);
    expect(names((await priorsOf('localOther', 'both')).body)).toEqual([]);
    // Granted the other clinic only: the current study is not theirs to see at all.
    expect((await priorsOf('current', 'otherOnly')).status).toBe(404);
    expect(names((await priorsOf('otherClinicChain', 'otherOnly')).body)).toEqual([]);
  });

  it('the sending clinic sees its own studies only; auditors and unknown studies get nothing', async () => {
    const clinic = await priorsOf('current', 'clinic');
    expect(clinic.status).toBe(200);
    expect(names(clinic.body)).toEqual(['later2025', 'prior2023', 'chest2021']);
    expect((await priorsOf('otherClinicChain', 'clinic')).status).toBe(404);
    expect((await priorsOf('current', 'auditor')).status).toBe(403);
    expect((await priorsOf(newUid(), 'radiologist')).status).toBe(404);
  });

  it('writes one audit record per request, naming the studies shown and no patient identifier', async () => {
    const before = await catalog.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_events WHERE details->>'what' = 'priors'`);
    await priorsOf('prior2023', 'both');
    const { rows } = await catalog.pool.query<{ event_type: string; actor_username: string; study_instance_uid: string; clinic_id: string; details: { count: number; studies: string[]; notLinked: number } }>(
      `SELECT event_type, actor_username, study_instance_uid, clinic_id::text, details FROM audit_events WHERE details->>'what' = 'priors' ORDER BY seq`,
    );
    expect(rows).toHaveLength((before.rows[0]?.n ?? 0) + 1);
    const last = rows.at(-1);
    expect(last).toMatchObject({ event_type: 'Query', actor_username: 'reader-both', study_instance_uid: uid.prior2023, clinic_id: clinicId('demo-clinic') });
    expect(last?.details.studies).toEqual([uid.later2025, uid.current, uid.otherClinicChain, uid.chest2021]);
    expect(last?.details.notLinked).toBe(1);
    expect(JSON.stringify(rows)).not.toMatch(/HC-1|HC-CHAIN|Test\^Patient/);
  });

  /** An AI result stored through the triage's writer: one TR4 nodule on a 200 x 100 frame. */
  async function storeAiResult(study: string, box: { x: number; y: number; width: number; height: number }, sizeMm: { long: number; short: number }): Promise<void> {
    const image = scoredImage({
      sopInstanceUid: newUid(),
      seriesInstanceUid: newUid(),
      rows: 100,
      columns: 200,
      nodules: [{ codes: { composition: 'solid', echogenicity: 'hypo', shape: 'wider', margin: 'smooth', echogenicFoci: 'none' }, box, sizeMm, score: 0.5 }],
    });
    await storeTriagedResult(catalog.pool, uid[study] ?? '', { instanceCount: 1, images: [image] });
  }

  it('follows the AI nodules over the thyroid visits the reader may see, flags ACR growth, and audits each study read', async () => {
    await storeAiResult('prior2023', { x: 90, y: 40, width: 20, height: 20 }, { long: 10, short: 8 });
    await storeAiResult('otherClinicChain', { x: 92, y: 41, width: 20, height: 20 }, { long: 10.5, short: 8.5 });
    await storeAiResult('current', { x: 93, y: 42, width: 24, height: 20 }, { long: 12.5, short: 10 });
    const get = async (as: string): Promise<{ status: number; body: FollowUpView }> => {
      const res = await request(app).get(`/api/studies/${uid.current}/nodule-follow-up`).set('Authorization', `Bearer ${token[as] ?? ''}`);
      return { status: res.status, body: res.body as FollowUpView };
    };
    const mine = await get('radiologist');
    expect(mine.status).toBe(200);
    expect(mine.body.visits.map((v) => [v.studyDate, v.aiResult])).toEqual([
      ['2023-06-10', true],
      ['2024-06-14', true],
    ]);
    expect(mine.body.nodules).toHaveLength(1);
    expect(mine.body.nodules[0]).toMatchObject({ label: 'N1', status: 'grown', growth: { sincePrevious: { significant: true, criterion: 'dimensions' }, sinceFirst: null } });
    expect(mine.body.nodules[0]?.history.map((h) => h?.sizeMm)).toEqual([
      { long: 10, short: 8 },
      { long: 12.5, short: 10 },
    ]);
    // The reader granted both clinics sees the visit at the other clinic in between (under the chain's issuer).
    const both = await get('both');
    expect(both.body.visits.map((v) => v.studyDate)).toEqual(['2023-06-10', '2023-12-01', '2024-06-14']);
    expect(both.body.nodules[0]?.history.map((h) => h?.sizeMm?.long)).toEqual([10, 10.5, 12.5]);
    expect(both.body.nodules[0]?.growth.sinceFirst?.significant).toBe(true);
    // Readers only, as the AI results are; the clinic gets 403.
    expect((await get('clinic')).status).toBe(403);
    const { rows } = await catalog.pool.query<{ study_instance_uid: string; actor_username: string }>(
      `SELECT study_instance_uid, actor_username FROM audit_events WHERE details->>'what' = 'nodule-follow-up' ORDER BY seq`,
    );
    expect(rows.map((r) => [r.actor_username, r.study_instance_uid])).toEqual([
      ['radiologist', uid.prior2023],
      ['radiologist', uid.current],
      ['reader-both', uid.prior2023],
      ['reader-both', uid.otherClinicChain],
      ['reader-both', uid.current],
    ]);
  });
});
