import request from 'supertest';
import { IngestPipeline } from '@yunying/archive';
import { AuditLog } from '@yunying/audit';
import { AuthService, seedDemo, type DemoCredentials } from '@yunying/auth';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { createLogger } from '@yunying/core';
import { makeInstance, newUid, type AttributeItem } from '@yunying/dicom/testing';
import { createMetricsRegistry, createServiceApp } from '@yunying/http';
import { ReplicatedStore } from '@yunying/storage';
import { tempFsTargets, type TempFsTargets } from '@yunying/storage/testing';
import { priorsRoutes } from '../priors/priors.route';
import type { PriorsView } from '../priors/priors.service';
import { PatientIndexAdmin } from './patient-index.admin';
import { patientIndexRoutes } from './patient-index.route';
import { PatientIndexer } from './patient-indexer';
import type { MergeView, ReviewView } from './patient-index.admin';

const SECRET = 'pindex-secret-pindex-secret-pindex-secret-0001';
const PASSWORD = 'a long enough password';

interface Visit {
  clinic: 'demo-clinic' | 'other-clinic';
  patientId: string;
  issuer?: string;
  name: string;
  birthDate: string;
  sex: string;
  date: string;
  otherIds?: AttributeItem[];
}

/**
 * The patient index (#20) on the real PostgreSQL, studies stored through the real write path and every
 * request through the HTTP routes with real sign-ins: linking on identifiers with the demographic checks,
 * the admin queue for what is ambiguous, audited merge and unmerge, and priors that follow the index only
 * within the reader's grants.
 */
describe('patient index (real PostgreSQL)', () => {
  let catalog: TestCatalog;
  let storage: TempFsTargets;
  let demo: DemoCredentials;
  let pipeline: IngestPipeline;
  let app: ReturnType<typeof createServiceApp>;
  const uid: Record<string, string> = {};
  const token: Record<string, string> = {};

  const clinicId = (code: string): string => demo.clinics.find((c) => c.code === code)?.id ?? '';
  const nameOf = (studyUid: string): string => Object.keys(uid).find((k) => uid[k] === studyUid) ?? '?';
  const as = (who: string): { Authorization: string } => ({ Authorization: `Bearer ${token[who] ?? ''}` });
  const priors = async (study: string, who: string): Promise<{ status: number; body: PriorsView; names: string[] }> => {
    const res = await request(app).get(`/api/studies/${uid[study] ?? study}/priors`).set(as(who));
    const body = res.body as PriorsView;
    return { status: res.status, body, names: (body.studies ?? []).map((s) => nameOf(s.studyInstanceUid)).sort() };
  };
  const reviews = async (status = 'open'): Promise<ReviewView[]> => {
    const res = await request(app).get(`/api/admin/patient-index/reviews?status=${status}`).set(as('admin'));
    expect(res.status).toBe(200);
    return (res.body as { reviews: ReviewView[] }).reviews;
  };
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
      extra: {
        PatientSex: v.sex,
        BodyPartExamined: 'THYROID',
        ...(v.issuer !== undefined ? { IssuerOfPatientID: v.issuer } : {}),
        ...(v.otherIds !== undefined ? { OtherPatientIDsSequence: v.otherIds } : {}),
      },
    });
    const outcome = await pipeline.ingest(bytes, { clinicId: clinicId(v.clinic), actor: { username: 'test-device' }, sourceIp: '127.0.0.1', via: 'STOW-RS' });
    expect(outcome.status).toBe('stored');
  };

  beforeAll(async () => {
    catalog = await createTestCatalog('pindex');
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
      logger: createLogger({ level: 'silent', service: 'pindex-test' }),
      metrics: createMetricsRegistry(),
      parseLimits: {},
      retentionMinYears: 15,
    });
    const both = await auth.createUser({ username: 'reader-both', role: 'radiologist', password: PASSWORD });
    await auth.grantClinic(both.id, clinicId('demo-clinic'));
    await auth.grantClinic(both.id, clinicId('other-clinic'));
    const password = (u: string): string => demo.users.find((x) => x.username === u)?.password ?? '';
    for (const u of ['radiologist', 'clinic', 'admin', 'auditor']) token[u] = (await auth.signIn(u, password(u))).accessToken;
    token.both = (await auth.signIn('reader-both', PASSWORD)).accessToken;
    app = createServiceApp({
      service: 'viewer',
      logger: createLogger({ level: 'silent', service: 'viewer' }),
      metrics: createMetricsRegistry(),
      readiness: [],
      routes: [priorsRoutes(catalog.pool, auth, new AuditLog(catalog.pool)).router, patientIndexRoutes(new PatientIndexAdmin(catalog.pool, new PatientIndexer(catalog.pool)), auth).router],
    });

    // Configured before any study is indexed: the chain files a national ID in Other Patient IDs.
    const put = await request(app)
      .put('/api/admin/patient-index/identifier-issuers')
      .set(as('admin'))
      .send({ issuers: [{ issuer: 'CN-NID', label: 'Resident identity card' }] });
    expect(put.status).toBe(200);

    const wang = { name: 'Wang^Fang', birthDate: '19800101', sex: 'F' };
    await store('wang2023', { clinic: 'demo-clinic', patientId: 'HC-9', issuer: 'HC-CHAIN', ...wang, date: '20230601' });
    // The chain's member number at another clinic: the same person.
    await store('wang2024other', { clinic: 'other-clinic', patientId: 'HC-9', issuer: 'HC-CHAIN', ...wang, name: 'wang ^ fang', date: '20240601' });
    // Same number, another birth date: a typo or a reused number; never linked on a guess.
    await store('wangTypo', { clinic: 'demo-clinic', patientId: 'HC-9', issuer: 'HC-CHAIN', ...wang, birthDate: '19800110', date: '20250601' });
    // Same name, birth date and sex under the clinic's own number: maybe registered twice.
    await store('wangLocal', { clinic: 'demo-clinic', patientId: 'L-100', ...wang, date: '20220601' });
    // A national ID under a configured issuer links two clinics' own numbers.
    const nid = (value: string, issuer = 'CN-NID'): AttributeItem[] => [{ PatientID: value, IssuerOfPatientID: issuer }];
    const li = { name: 'Li^Lei=李^雷', birthDate: '19750505', sex: 'M' };
    await store('li2023', { clinic: 'demo-clinic', patientId: 'X-1', ...li, otherIds: nid('110101197505051234'), date: '20230301' });
    await store('li2024other', { clinic: 'other-clinic', patientId: 'Y-2', ...li, name: '=李^雷', otherIds: nid('110101197505051234'), date: '20240301' });
    // The same number under an issuer nobody configured says nothing.
    await store('zhao', { clinic: 'other-clinic', patientId: 'Z-3', name: 'Zhao^Yun', birthDate: '19900909', sex: 'M', otherIds: nid('110101197505051234', 'SOME-HOSPITAL'), date: '20240301' });
  }, 120_000);

  afterAll(async () => {
    await catalog?.drop();
    await storage?.cleanup();
  });

  it('links the same person across visits and clinics on the issuer’s ID or a configured national ID, shown only within the reader’s grants', async () => {
    const both = await priors('wang2023', 'both');
    expect(both.status).toBe(200);
    expect(both.names).toEqual(['wang2024other']);
    // A reader granted only demo-clinic: the other clinic's visit stays invisible.
    expect((await priors('wang2023', 'radiologist')).names).toEqual([]);
    expect((await priors('wang2024other', 'radiologist')).status).toBe(404);
    expect((await priors('li2024other', 'both')).names).toEqual(['li2023']);
    expect((await priors('li2023', 'clinic')).names).toEqual([]);
    expect((await priors('zhao', 'both')).names).toEqual([]);
    const { rows } = await catalog.pool.query<{ linked_by: string; n: number }>('SELECT linked_by, count(*)::int AS n FROM patient_index_studies GROUP BY 1 ORDER BY 1');
    expect(rows).toEqual([
      { linked_by: 'identifier', n: 2 },
      { linked_by: 'new', n: 4 },
      { linked_by: 'review', n: 1 },
    ]);
  });

  it('queues the ambiguous matches for an admin and links nothing silently', async () => {
    const typo = await priors('wangTypo', 'both');
    expect(typo.names).toEqual([]);
    expect(typo.body.identityUnderReview).toBe(true);
    expect(typo.body.notLinked).toBe(2);
    const open = await reviews();
    const summary = open.map((r) => ({ study: nameOf(r.studyInstanceUid), reason: r.reason, differs: r.differs, person: r.person.studies.map((s) => nameOf(s.studyInstanceUid)).sort(), candidate: r.candidate.studies.map((s) => nameOf(s.studyInstanceUid)).sort() }));
    expect(summary).toEqual([
      { study: 'wangTypo', reason: 'identifier-demographics-differ', differs: ['birthDate'], person: ['wangTypo'], candidate: ['wang2023', 'wang2024other'] },
      { study: 'wangLocal', reason: 'demographics-match', differs: ['identifier'], person: ['wangLocal'], candidate: ['wang2023', 'wang2024other'] },
    ]);
    // The admin sees what they must decide on: identifiers with their issuer or clinic, demographics.
    expect(open[1]?.person).toMatchObject({ name: 'Wang^Fang', birthDate: '19800101', sex: 'F', identifiers: [{ issuer: null, clinic: 'demo-clinic', value: 'L-100' }] });
    expect(open[1]?.candidate.identifiers).toEqual([{ issuer: 'HC-CHAIN', clinic: null, value: 'HC-9' }]);
    // Nobody but an admin reads the queue.
    for (const who of ['radiologist', 'clinic', 'auditor']) expect((await request(app).get('/api/admin/patient-index/reviews').set(as(who))).status).toBe(403);
  });

  it('merges on an admin’s decision, audited without patient data, and unmerges exactly', async () => {
    const review = (await reviews()).find((r) => nameOf(r.studyInstanceUid) === 'wangLocal');
    const merged = await request(app).post(`/api/admin/patient-index/reviews/${review?.id ?? ''}/merge`).set(as('admin'));
    expect(merged.status).toBe(200);
    const merge = merged.body as MergeView;
    expect(merge).toMatchObject({ reviewId: review?.id, studiesMoved: 1, unmergedAt: null });
    expect((await priors('wang2023', 'both')).names).toEqual(['wang2024other', 'wangLocal']);
    expect((await priors('wangLocal', 'radiologist')).names).toEqual(['wang2023']);
    // Deciding twice is refused; the decided review has left the open queue.
    expect((await request(app).post(`/api/admin/patient-index/reviews/${review?.id ?? ''}/merge`).set(as('admin'))).status).toBe(409);
    expect((await reviews()).map((r) => nameOf(r.studyInstanceUid))).toEqual(['wangTypo']);
    // A new visit with the merged clinic number links without another review.
    await store('wangLocal2025', { clinic: 'demo-clinic', patientId: 'L-100', name: 'Wang^Fang', birthDate: '19800101', sex: 'F', date: '20250701' });
    expect((await priors('wangLocal2025', 'both')).names).toEqual(['wang2023', 'wang2024other', 'wangLocal']);
    expect((await reviews()).map((r) => nameOf(r.studyInstanceUid))).toEqual(['wangTypo']);

    const undone = await request(app).post(`/api/admin/patient-index/merges/${merge.id}/unmerge`).set(as('admin'));
    expect(undone.status).toBe(200);
    expect((undone.body as MergeView).unmergedAt).not.toBeNull();
    expect((await priors('wang2023', 'both')).names).toEqual(['wang2024other']);
    expect((await priors('wangLocal2025', 'both')).names).toEqual(['wangLocal']);
    expect((await request(app).post(`/api/admin/patient-index/merges/${merge.id}/unmerge`).set(as('admin'))).status).toBe(409);
    // Kept apart from now on: the pair does not come back with the next visit.
    expect((await reviews('kept-apart')).map((r) => nameOf(r.studyInstanceUid))).toEqual(['wangLocal']);

    const { rows } = await catalog.pool.query<{ event_code: string; action: string; actor_username: string; details: { what: string; studies?: string[] } }>(
      `SELECT event_code, action, actor_username, details FROM audit_events WHERE event_type = 'Patient Record' ORDER BY seq`,
    );
    expect(rows.map((r) => [r.event_code, r.action, r.actor_username, r.details.what])).toEqual([
      ['110110', 'U', 'admin', 'patient-index-merge'],
      ['110110', 'U', 'admin', 'patient-index-unmerge'],
    ]);
    expect(rows[0]?.details.studies).toEqual([uid.wangLocal]);
    const everything = await catalog.pool.query<{ details: unknown }>('SELECT details FROM audit_events');
    expect(JSON.stringify(everything.rows)).not.toMatch(/Wang|HC-9|L-100|19800101|110101197505051234|李/);
  });

  it('keeps apart on an admin’s decision and refuses what is not there', async () => {
    const review = (await reviews()).find((r) => nameOf(r.studyInstanceUid) === 'wangTypo');
    expect((await request(app).post(`/api/admin/patient-index/reviews/${review?.id ?? ''}/keep-apart`).set(as('admin'))).status).toBe(204);
    expect(await reviews()).toEqual([]);
    expect((await priors('wangTypo', 'both')).body.identityUnderReview).toBe(false);
    expect((await request(app).post('/api/admin/patient-index/reviews/999999/merge').set(as('admin'))).status).toBe(404);
    expect((await request(app).post('/api/admin/patient-index/merges/abc/unmerge').set(as('admin'))).status).toBe(404);
    const bad = await request(app).put('/api/admin/patient-index/identifier-issuers').set(as('admin')).send({ issuers: [{ issuer: '' }] });
    expect(bad.status).toBe(400);
    expect(bad.headers['content-type']).toMatch(/problem\+json/);
  });
});
