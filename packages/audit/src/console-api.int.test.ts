import request from 'supertest';
import { createLogger } from '@yunying/core';
import { createMetricsRegistry, createServiceApp } from '@yunying/http';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { AuthService, collectRouteTables, createAuthRouter, seedDemo, type DemoCredentials, type RouteEntry } from '@yunying/auth';
import { runAuthorizationMatrix, type ExpectationTable, type MatrixActor, type MatrixRequest, type MatrixCaller, type MatrixClinic } from '@yunying/auth/testing';
import { AuditLog } from './audit.repository';
import { createAuditRouter } from './audit.route';
import { verifyAuditChain } from './verify';

const SECRET = 'console-secret-console-secret-console-secret-01';
const STRONG = 'a long enough password';

/** Who may call what: written by hand, not derived from the policies (that is the point). */
const EXPECTATIONS: ExpectationTable = {
  'POST /api/auth/sign-in': { allow: 'public', otherClinic: 'allow' },
  'POST /api/auth/refresh': { allow: 'public', otherClinic: 'allow' },
  'POST /api/auth/sign-out': { allow: 'public', otherClinic: 'allow' },
  'GET /api/auth/me': { allow: ['clinic', 'radiologist', 'auditor', 'admin', 'device'], otherClinic: 'allow' },
  'POST /api/auth/password': { allow: ['clinic', 'radiologist', 'auditor', 'admin'], otherClinic: 'allow' },
  'GET /api/auth/sessions': { allow: ['clinic', 'radiologist', 'auditor', 'admin'], otherClinic: 'allow' },
  'POST /api/auth/totp': { allow: ['clinic', 'radiologist', 'auditor', 'admin'], otherClinic: 'allow' },
  'POST /api/auth/totp/confirm': { allow: ['clinic', 'radiologist', 'auditor', 'admin'], otherClinic: 'allow' },
  'GET /api/auth/second-factor': { allow: ['clinic', 'radiologist', 'auditor', 'admin'], otherClinic: 'allow' },
  'POST /api/auth/recovery-codes': { allow: ['clinic', 'radiologist', 'auditor', 'admin'], otherClinic: 'allow' },
  'DELETE /api/auth/sessions/:id': { allow: ['clinic', 'radiologist', 'auditor', 'admin'], otherClinic: 'allow' },
  'GET /api/admin/clinics': { allow: ['admin'], otherClinic: 'allow' },
  'POST /api/admin/clinics': { allow: ['admin'], otherClinic: 'allow' },
  'PUT /api/admin/clinics/:id/ae-titles/:ae': { allow: ['admin'], otherClinic: 'allow' },
  'DELETE /api/admin/clinics/:id/ae-titles/:ae': { allow: ['admin'], otherClinic: 'allow' },
  'GET /api/admin/users': { allow: ['admin'], otherClinic: 'allow' },
  'POST /api/admin/users': { allow: ['admin'], otherClinic: 'allow' },
  'PATCH /api/admin/users/:id': { allow: ['admin'], otherClinic: 'allow' },
  'DELETE /api/admin/users/:id/totp': { allow: ['admin'], otherClinic: 'allow' },
  'GET /api/admin/users/:id/sessions': { allow: ['admin'], otherClinic: 'allow' },
  'DELETE /api/admin/users/:id/sessions': { allow: ['admin'], otherClinic: 'allow' },
  'POST /api/admin/grants': { allow: ['admin'], otherClinic: 'allow' },
  'DELETE /api/admin/grants/:userId/:clinicId': { allow: ['admin'], otherClinic: 'allow' },
  'GET /api/admin/api-keys': { allow: ['admin'], otherClinic: 'allow' },
  'POST /api/admin/api-keys': { allow: ['admin'], otherClinic: 'allow' },
  'POST /api/admin/api-keys/:id/rotate': { allow: ['admin'], otherClinic: 'allow' },
  'DELETE /api/admin/api-keys/:id': { allow: ['admin'], otherClinic: 'allow' },
  'GET /api/audit/events': { allow: ['auditor', 'admin'], otherClinic: 'allow' },
  'GET /api/audit/events.csv': { allow: ['auditor', 'admin'], otherClinic: 'allow' },
  'GET /api/audit/verify': { allow: ['auditor', 'admin'], otherClinic: 'allow' },
  'GET /api/audit/retention': { allow: ['auditor', 'admin'], otherClinic: 'allow' },
  'GET /api/audit/retention.csv': { allow: ['auditor', 'admin'], otherClinic: 'allow' },
};

describe('auth + auditor API over HTTP', () => {
  let catalog: TestCatalog;
  let auth: AuthService;
  let app: ReturnType<typeof createServiceApp>;
  let demo: DemoCredentials;
  let routes: RouteEntry[];
  const password = (username: string): string => demo.users.find((u) => u.username === username)!.password;
  const clinicId = (code: string): string => demo.clinics.find((c) => c.code === code)!.id;

  beforeAll(async () => {
    catalog = await createTestCatalog('console');
    const seeded = await seedDemo(catalog.pool, { tokenSecret: SECRET });
    if (!seeded) throw new Error('seed created nothing');
    demo = seeded;
    auth = new AuthService({
      pool: catalog.pool,
      tokenSecret: SECRET,
      accessTokenTtlSeconds: 300,
      refreshTokenTtlSeconds: 3600,
      audit: new AuditLog(catalog.pool),
      signInLimits: { maxFailures: 1000, maxFailuresPerIp: 1000 },
    });
    const authRoutes = createAuthRouter(auth, { name: 'console-test.auth' });
    const auditRoutes = createAuditRouter({ pool: catalog.pool, auth, name: 'console-test.audit' });
    routes = collectRouteTables([authRoutes, auditRoutes]);
    app = createServiceApp({
      service: 'viewer',
      logger: createLogger({ level: 'silent', service: 'viewer' }),
      metrics: createMetricsRegistry(),
      readiness: [],
      routes: [authRoutes.router, auditRoutes.router],
    });
  });
  afterAll(async () => {
    await catalog.drop();
  });

  it('seeds the demo set once, and only reports credentials it created', async () => {
    expect(demo.users.map((u) => u.username).sort()).toEqual(['admin', 'auditor', 'clinic', 'radiologist']);
    expect(demo.apiKey?.key).toMatch(/^yy_/);
    expect(demo.clinics.map((c) => [c.code, c.aeTitle])).toEqual([
      ['demo-clinic', 'DEMO_US'],
      ['other-clinic', 'OTHER_US'],
    ]);
    await expect(seedDemo(catalog.pool, { tokenSecret: SECRET })).resolves.toBeNull();
    const rad = await auth.findUserByUsername('radiologist');
    expect(rad?.grants).toEqual([clinicId('demo-clinic')]);
    const { rows } = await catalog.pool.query<{ password_hash: string }>('SELECT password_hash FROM users');
    for (const row of rows) for (const u of demo.users) expect(row.password_hash).not.toContain(u.password);
  });

  it('passes the authorization matrix: every route x caller x own/other clinic/no credentials', async () => {
    const signIn = async (username: string): Promise<string> => (await auth.signIn(username, password(username))).accessToken;
    const credentials: Record<MatrixActor, Record<string, string>> = {
      clinic: { Authorization: `Bearer ${await signIn('clinic')}` },
      radiologist: { Cookie: `yy_access=${await signIn('radiologist')}` },
      auditor: { Authorization: `Bearer ${await signIn('auditor')}` },
      admin: { Authorization: `Bearer ${await signIn('admin')}` },
      device: { Authorization: `ApiKey ${demo.apiKey!.key}` },
    };
    let n = 0;
    const admin = (await auth.findUserByUsername('admin'))!;
    const target = await auth.createUser({ username: 'matrix-target', role: 'auditor', password: STRONG });
    const buildRequest = async (route: RouteEntry, ctx: { caller: MatrixCaller; clinic: MatrixClinic }): Promise<MatrixRequest> => {
      n += 1;
      const clinic = clinicId(ctx.clinic === 'own' ? 'demo-clinic' : 'other-clinic');
      switch (`${route.method} ${route.path}`) {
        case 'POST /api/auth/sign-in':
          return { url: route.path, body: { username: 'auditor', password: password('auditor'), client: 'api' } };
        case 'POST /api/auth/refresh':
          return { url: route.path, body: { refreshToken: (await auth.signIn('auditor', password('auditor'))).refreshToken } };
        case 'POST /api/auth/sign-out': {
          // Sign out a fresh session, never the caller's own (the matrix reuses the callers' tokens).
          const fresh = await auth.signIn('auditor', password('auditor'));
          return { url: route.path, headers: { Authorization: `Bearer ${fresh.accessToken}`, Cookie: `yy_refresh=${fresh.refreshToken}` } };
        }
        // Self-service on the caller's own account: an empty body never changes the password, TOTP or sessions the
        // matrix's callers keep using; getting past authorization to the body check (400) is what "allowed" means here.
        case 'POST /api/auth/password':
        case 'POST /api/auth/totp':
        case 'POST /api/auth/totp/confirm':
        case 'POST /api/auth/recovery-codes':
          return { url: route.path, body: {}, allowStatuses: [400] };
        case 'DELETE /api/auth/sessions/:id':
          return { url: route.path.replace(':id', '00000000-0000-4000-8000-000000000000'), allowStatuses: [204, 404] };
        case 'POST /api/admin/clinics':
          return { url: route.path, body: { code: `matrix-${n}`, name: 'Matrix clinic' } };
        case 'PUT /api/admin/clinics/:id/ae-titles/:ae':
          return { url: `/api/admin/clinics/${clinic}/ae-titles/MX_${n}` };
        case 'DELETE /api/admin/clinics/:id/ae-titles/:ae': {
          await auth.addAeTitle(clinic, `MXD_${n}`);
          return { url: `/api/admin/clinics/${clinic}/ae-titles/MXD_${n}` };
        }
        case 'POST /api/admin/users':
          return { url: route.path, body: { username: `matrix-user-${n}`, role: 'clinic', clinicId: clinic, password: STRONG } };
        case 'PATCH /api/admin/users/:id':
          return { url: `/api/admin/users/${target.id}`, body: { displayName: `renamed ${n}` } };
        case 'DELETE /api/admin/users/:id/totp':
          return { url: `/api/admin/users/${target.id}/totp` };
        case 'GET /api/admin/users/:id/sessions':
        case 'DELETE /api/admin/users/:id/sessions':
          return { url: `/api/admin/users/${target.id}/sessions` };
        case 'POST /api/admin/grants': {
          const rad = await auth.createUser({ username: `matrix-rad-${n}`, role: 'radiologist', password: STRONG });
          return { url: route.path, body: { userId: rad.id, clinicId: clinic } };
        }
        case 'DELETE /api/admin/grants/:userId/:clinicId': {
          const rad = await auth.createUser({ username: `matrix-rad-${n}`, role: 'radiologist', password: STRONG });
          await auth.grantClinic(rad.id, clinic);
          return { url: `/api/admin/grants/${rad.id}/${clinic}` };
        }
        case 'GET /api/admin/api-keys':
          return { url: `${route.path}?clinic=${clinic}` };
        case 'POST /api/admin/api-keys':
          return { url: route.path, body: { clinicId: clinic, name: `matrix ${n}` } };
        case 'POST /api/admin/api-keys/:id/rotate':
        case 'DELETE /api/admin/api-keys/:id': {
          const key = await auth.createApiKey({ clinicId: clinic, name: `matrix ${n}` }, { actor: { kind: 'user', userId: admin.id, username: 'admin', role: 'admin', clinicId: null, clinics: { all: true } } });
          return { url: route.path.replace(':id', key.id) };
        }
        case 'GET /api/audit/events':
        case 'GET /api/audit/events.csv':
        case 'GET /api/audit/retention':
        case 'GET /api/audit/retention.csv':
          return { url: `${route.path}?clinic=${clinic}` };
        default:
          return { url: route.path };
      }
    };
    const result = await runAuthorizationMatrix({ app, routes, expectations: EXPECTATIONS, credentials, buildRequest });
    expect(result.failures).toEqual([]);
    expect(result.cases).toHaveLength(routes.length * 11);
    expect(routes).toHaveLength(Object.keys(EXPECTATIONS).length);
  });

  it('audits sign-ins through HTTP and keeps a valid chain', async () => {
    await request(app).post('/api/auth/sign-in').send({ username: 'clinic', password: 'wrong password' }).expect(401);
    const ok = await request(app).post('/api/auth/sign-in').send({ username: 'clinic', password: password('clinic') }).expect(200);
    expect(ok.body.principal).toMatchObject({ username: 'clinic', role: 'clinic', clinics: [clinicId('demo-clinic')] });
    const auditor = (await auth.signIn('auditor', password('auditor'))).accessToken;
    const res = await request(app).get('/api/audit/events?user=clinic&type=User%20Authentication').set('Authorization', `Bearer ${auditor}`).expect(200);
    const outcomes = (res.body.events as { outcome: number; details: { reason?: string } }[]).map((e) => [e.outcome, e.details.reason ?? null]);
    expect(outcomes.slice(0, 2)).toEqual([
      [0, null],
      [4, 'bad-password'],
    ]);
    const verify = await request(app).get('/api/audit/verify').set('Authorization', `Bearer ${auditor}`).expect(200);
    expect(verify.body).toMatchObject({ ok: true });
  });

  it('pages access history by cursor and filters by study and time range', async () => {
    const log = new AuditLog(catalog.pool);
    const actor = { username: 'radiologist', role: 'radiologist' };
    for (let i = 0; i < 5; i += 1) await log.append({ type: 'DICOM Instances Accessed', actor, studyInstanceUid: '1.2.3.4.5', clinicId: clinicId('demo-clinic') });
    const auditor = (await auth.signIn('auditor', password('auditor'))).accessToken;
    const first = await request(app).get('/api/audit/events?study=1.2.3.4.5&limit=3').set('Authorization', `Bearer ${auditor}`).expect(200);
    expect(first.body.events).toHaveLength(3);
    const second = await request(app).get(`/api/audit/events?study=1.2.3.4.5&limit=3&cursor=${first.body.nextCursor}`).set('Authorization', `Bearer ${auditor}`).expect(200);
    expect(second.body.events).toHaveLength(2);
    expect(second.body.nextCursor).toBeNull();
    const future = encodeURIComponent(new Date(Date.now() + 3600_000).toISOString());
    const none = await request(app).get(`/api/audit/events?study=1.2.3.4.5&from=${future}`).set('Authorization', `Bearer ${auditor}`).expect(200);
    expect(none.body.events).toEqual([]);
    await request(app).get('/api/audit/events?from=yesterday').set('Authorization', `Bearer ${auditor}`).expect(400);
  });

  it('exports the access history as CSV and audits the export', async () => {
    const auditor = (await auth.signIn('auditor', password('auditor'))).accessToken;
    const res = await request(app).get('/api/audit/events.csv?study=1.2.3.4.5').set('Authorization', `Bearer ${auditor}`).expect(200);
    expect(res.headers['content-type']).toMatch(/text\/csv/);
    const lines = res.text.trim().split('\r\n');
    expect(lines[0]).toMatch(/^seq,occurred_at,event_type,event_code/);
    // The export is recorded before the first byte is sent, so it is the newest record of its own export.
    expect(lines[1]).toContain('Export,DCM 110106,R');
    expect(lines.slice(2).every((l) => l.includes('DICOM Instances Accessed,DCM 110103,R'))).toBe(true);
    expect(lines).toHaveLength(7);
    const exports = await new AuditLog(catalog.pool).query({ type: 'Export', user: 'auditor' });
    expect(exports.events[0]).toMatchObject({ eventCode: '110106', action: 'R', studyInstanceUid: '1.2.3.4.5', details: { kind: 'audit-events', filters: { study: '1.2.3.4.5' } } });
  });

  it('reports retention per clinic and per study, at-risk first, and exports it audited', async () => {
    const pool = catalog.pool;
    const demoClinic = clinicId('demo-clinic');
    const otherClinic = clinicId('other-clinic');
    const addStudy = async (clinic: string, uid: string, copies: { state: string; verifiedDaysAgo: number; lock?: string }[], retainYears = 15): Promise<void> => {
      const patient = await pool.query<{ id: string }>('INSERT INTO patients (clinic_id, patient_key) VALUES ($1, $2) RETURNING id', [clinic, `p-${uid}`]);
      const study = await pool.query<{ id: string }>(
        `INSERT INTO studies (clinic_id, patient_ref, study_instance_uid, number_of_instances, retain_until)
         VALUES ($1, $2, $3, 1, now() + make_interval(years => $4)) RETURNING id`,
        [clinic, patient.rows[0]!.id, uid, retainYears],
      );
      const series = await pool.query<{ id: string }>("INSERT INTO series (study_ref, series_instance_uid) VALUES ($1, $2 || '.1') RETURNING id", [study.rows[0]!.id, uid]);
      const sha = (uid.replace(/\D/g, '') + '0'.repeat(64)).slice(0, 64);
      await pool.query("INSERT INTO objects (sha256, object_key, size_bytes, retain_until) VALUES ($1, $1, 10, now() + interval '15 years')", [sha]);
      await pool.query(
        `INSERT INTO instances (series_ref, study_ref, clinic_id, sop_instance_uid, sop_class_uid, transfer_syntax_uid, sha256, size_bytes, dicom_json)
         VALUES ($1, $2, $3, $4 || '.1.1', '1.2.840.10008.5.1.4.1.1.6.1', '1.2.840.10008.1.2.1', $5, 10, '{}')`,
        [series.rows[0]!.id, study.rows[0]!.id, clinic, uid, sha],
      );
      for (const [i, c] of copies.entries()) {
        await pool.query(
          `INSERT INTO copies (sha256, target, object_key, size_bytes, retain_until, lock_mode, state, last_verified_at)
           VALUES ($1, $2, $1, 10, now() + interval '15 years 1 day', $3, $4, now() - make_interval(days => $5))`,
          [sha, `replica-${i}`, c.lock ?? 'COMPLIANCE', c.state, c.verifiedDaysAgo],
        );
      }
    };
    const good = { state: 'ok', verifiedDaysAgo: 1 };
    await addStudy(demoClinic, '1.2.9.1', [good, good, good]);
    await addStudy(demoClinic, '1.2.9.2', [good, good, { state: 'missing', verifiedDaysAgo: 1 }]);
    await addStudy(otherClinic, '1.2.9.3', [good, good, { state: 'ok', verifiedDaysAgo: 30 }]);
    await addStudy(otherClinic, '1.2.9.4', [good, good, good], 5);

    const auditor = (await auth.signIn('auditor', password('auditor'))).accessToken;
    const res = await request(app).get('/api/audit/retention').set('Authorization', `Bearer ${auditor}`).expect(200);
    const studies = res.body.studies as { studyInstanceUid: string; copiesPresent: number; atRisk: boolean; risks: string[]; lockModes: string[] }[];
    expect(studies.map((s) => [s.studyInstanceUid, s.copiesPresent, s.risks])).toEqual([
      ['1.2.9.2', 2, ['copies-missing']],
      ['1.2.9.3', 3, ['verification-stale']],
      ['1.2.9.4', 3, ['retention-below-policy']],
      ['1.2.9.1', 3, []],
    ]);
    expect(res.body).toMatchObject({ total: 4, atRisk: 3 });
    const clinics = res.body.clinics as { clinicCode: string; studies: number; studiesAtRisk: number; minCopiesPresent: number }[];
    expect(clinics.map((c) => [c.clinicCode, c.studies, c.studiesAtRisk, c.minCopiesPresent])).toEqual([
      ['other-clinic', 2, 2, 3],
      ['demo-clinic', 2, 1, 2],
      ...clinics.slice(2).map((c) => [c.clinicCode, 0, 0, null]),
    ]);
    const onlyDemo = await request(app).get(`/api/audit/retention?clinic=${demoClinic}&atRisk=true`).set('Authorization', `Bearer ${auditor}`).expect(200);
    expect((onlyDemo.body.studies as { studyInstanceUid: string }[]).map((s) => s.studyInstanceUid)).toEqual(['1.2.9.2']);

    const csv = await request(app).get('/api/audit/retention.csv').set('Authorization', `Bearer ${auditor}`).expect(200);
    const lines = csv.text.trim().split('\r\n');
    expect(lines[0]).toBe('study_instance_uid,clinic_code,instances,copies_present,copies_required,last_verified_at,retain_until,copies_retain_until,lock_modes,legal_hold,at_risk,risks');
    expect(lines).toHaveLength(5);
    const exports = await new AuditLog(catalog.pool).query({ type: 'Export' });
    expect(exports.events[0]).toMatchObject({ actorUsername: 'auditor', details: { kind: 'retention' } });
    await expect(verifyAuditChain(catalog.pool)).resolves.toMatchObject({ ok: true });
  });
});
