import { createHash } from 'node:crypto';
import request from 'supertest';
import sharp from 'sharp';
import { IngestPipeline } from '@yunying/archive';
import { AuditLog } from '@yunying/audit';
import { AuthService, createAuthRouter, seedDemo, type DemoCredentials } from '@yunying/auth';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { createLogger } from '@yunying/core';
import { makeInstance, newUid } from '@yunying/dicom/testing';
import { createMetricsRegistry, createServiceApp } from '@yunying/http';
import { ReplicatedStore } from '@yunying/storage';
import { tempFsTargets, type TempFsTargets } from '@yunying/storage/testing';
import { readingRouters } from '../reading';
import { shareRoutes } from './share.route';
import { ShareService } from './share.service';

const SECRET = 'share-secret-share-secret-share-secret-000001';
const FINDINGS = 'Right lobe: 12 mm solid very hypoechoic nodule.';
const IMPRESSION = 'TR5 nodule, FNA recommended.';

interface Created {
  id: string;
  token: string;
  path: string;
  code: string | null;
  expiresAt: string;
  status: string;
}

/**
 * Share links (#20) on the real PostgreSQL and fs replicas: created and revoked only by the study's
 * clinic, opened with the token alone (and the code when it has one), refused alike when unknown, expired
 * or revoked; wrong codes lock the share; only the token's hash is stored; every view is audited by
 * share id; the token opens nothing but the two share endpoints.
 */
describe('share links (real PostgreSQL)', () => {
  let catalog: TestCatalog;
  let storage: TempFsTargets;
  let demo: DemoCredentials;
  let app: ReturnType<typeof createServiceApp>;
  const tokens: Record<'clinic' | 'radiologist' | 'other' | 'auditor', string> = { clinic: '', radiologist: '', other: '', auditor: '' };
  let study = '';
  /** Stores a study of one US instance for the demo clinic, through the real write path. */
  let storeStudy: () => Promise<string>;

  const as = (who: keyof typeof tokens) => ({ Authorization: `Bearer ${tokens[who]}` });
  const create = async (body: object = {}, who: keyof typeof tokens = 'clinic'): Promise<Created> => {
    const res = await request(app).post(`/api/studies/${study}/shares`).set(as(who)).send(body);
    expect(res.status).toBe(201);
    return res.body as Created;
  };
  const view = (token: string, code?: string) => {
    const r = request(app).get('/api/share/view').set('Authorization', `Share ${token}`);
    return code === undefined ? r : r.set('X-Share-Code', code);
  };
  const image = (token: string, n = 1) => request(app).get(`/api/share/images/${n}`).set('Authorization', `Share ${token}`).buffer(true);
  const audits = async (shareId: string): Promise<{ event_type: string; outcome: number; actor_username: string; details: Record<string, unknown> }[]> =>
    (
      await catalog.pool.query<{ event_type: string; outcome: number; actor_username: string; details: Record<string, unknown> }>(
        `SELECT event_type, outcome, actor_username, details FROM audit_events WHERE details->>'shareId' = $1 ORDER BY seq`,
        [shareId],
      )
    ).rows;

  beforeAll(async () => {
    catalog = await createTestCatalog('share');
    storage = await tempFsTargets();
    const seeded = await seedDemo(catalog.pool, { tokenSecret: SECRET });
    if (!seeded) throw new Error('seed created nothing');
    demo = seeded;
    const audit = new AuditLog(catalog.pool);
    const auth = new AuthService({ pool: catalog.pool, tokenSecret: SECRET, accessTokenTtlSeconds: 300, refreshTokenTtlSeconds: 3600, audit, signInLimits: { maxFailures: 1000, maxFailuresPerIp: 1000 } });
    const store = new ReplicatedStore({ targets: storage.targets, writeQuorum: 3 });
    const pipeline = new IngestPipeline({
      pool: catalog.pool,
      store,
      logger: createLogger({ level: 'silent', service: 'share-test' }),
      metrics: createMetricsRegistry(),
      parseLimits: {},
      retentionMinYears: 15,
    });
    const clinic = demo.clinics.find((c) => c.code === 'demo-clinic');
    const other = demo.clinics.find((c) => c.code === 'other-clinic');
    if (!clinic || !other) throw new Error('no demo clinics');
    study = newUid();
    // Two series: the share shows the first image of each.
    for (const series of [newUid(), newUid()]) {
      const bytes = makeInstance({ studyInstanceUid: study, seriesInstanceUid: series, rows: 64, columns: 80, modality: 'US', patientName: 'Share^Patient', patientId: 'SH-1' });
      expect((await pipeline.ingest(bytes, { clinicId: clinic.id, actor: { username: 'test-device' }, sourceIp: '127.0.0.1', via: 'STOW-RS' })).status).toBe('stored');
    }
    storeStudy = async () => {
      const uid = newUid();
      const bytes = makeInstance({ studyInstanceUid: uid, rows: 64, columns: 80, modality: 'US', patientName: 'Kept^Past', patientId: 'SH-2' });
      expect((await pipeline.ingest(bytes, { clinicId: clinic.id, actor: { username: 'test-device' }, sourceIp: '127.0.0.1', via: 'STOW-RS' })).status).toBe('stored');
      return uid;
    };
    const radiologist = demo.users.find((u) => u.username === 'radiologist');
    const { rows } = await catalog.pool.query<{ id: string }>(`SELECT id FROM users WHERE username = 'radiologist'`);
    // The signed report the share shows, and an older draft it must not.
    await catalog.pool.query(
      `INSERT INTO reports (study_ref, version, kind, author_user_id, findings, impression, tirads_category, status, signed_at)
       SELECT id, 1, 'report', $2, $3, $4, 'TR5', 'signed', now() FROM studies WHERE study_instance_uid = $1`,
      [study, rows[0]?.id, FINDINGS, IMPRESSION],
    );
    await catalog.pool.query(
      `INSERT INTO reports (study_ref, version, kind, author_user_id, findings, impression, status)
       SELECT id, 2, 'addendum', $2, 'DRAFT-NOT-SHOWN', '', 'draft' FROM studies WHERE study_instance_uid = $1`,
      [study, rows[0]?.id],
    );
    await auth.createUser({ username: 'other-clinic-user', role: 'clinic', clinicId: other.id, password: 'Qv7#mRk2!pWz9xLt' });
    const password = (name: string): string => demo.users.find((u) => u.username === name)?.password ?? '';
    tokens.clinic = (await auth.signIn('clinic', password('clinic'))).accessToken;
    tokens.radiologist = (await auth.signIn('radiologist', radiologist?.password ?? '')).accessToken;
    tokens.auditor = (await auth.signIn('auditor', password('auditor'))).accessToken;
    tokens.other = (await auth.signIn('other-clinic-user', 'Qv7#mRk2!pWz9xLt')).accessToken;
    app = createServiceApp({
      service: 'viewer',
      logger: createLogger({ level: 'silent', service: 'viewer' }),
      metrics: createMetricsRegistry(),
      readiness: [],
      routes: [
        createAuthRouter(auth).router,
        ...readingRouters({
          pool: catalog.pool,
          audit: new AuditLog(catalog.pool),
          authenticator: auth,
          reportPipeline: pipeline,
          reports: { signingAlgorithm: 'ecdsa-p256', signingSecretFile: `${storage.dir}/secrets/report-signing.key`, generateMissingSecret: true },
          logger: createLogger({ level: 'silent', service: 'viewer' }),
        }).map((r) => r.router),
        shareRoutes(new ShareService(catalog.pool, store, audit, { defaultDays: 30, maxDays: 60, maxImages: 12 }), auth, { publicRequestsPerMinute: 1000 }).router,
      ],
    });
  }, 120_000);

  afterAll(async () => {
    await catalog?.drop();
    await storage?.cleanup();
  });

  it('creates a 30-day share, shows the key images and the latest signed report only, and audits the view by share id', async () => {
    const before = Date.now();
    const share = await create();
    expect(share.path).toBe(`/share#${share.token}`);
    expect(share.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(share.code).toBeNull();
    const days = (Date.parse(share.expiresAt) - before) / 86_400_000;
    expect(days).toBeGreaterThan(29.99);
    expect(days).toBeLessThan(30.01);

    const res = await view(share.token);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({
      expiresAt: share.expiresAt,
      // No key images marked in this study: the first image of each series.
      keyImages: 'first-of-series',
      images: [{ number: 1 }, { number: 2 }],
      report: { kind: 'report', version: 1, signedAt: expect.any(String), tiradsCategory: 'TR5', findings: FINDINGS, impression: IMPRESSION },
    });
    // Nothing that names the patient or the study reaches the public page.
    expect(JSON.stringify(res.body)).not.toMatch(/Share\^Patient|SH-1|DRAFT-NOT-SHOWN/);
    expect(JSON.stringify(res.body)).not.toContain(study);

    const jpeg = await image(share.token, 2);
    expect(jpeg.status).toBe(200);
    expect(jpeg.headers['content-type']).toBe('image/jpeg');
    const meta = await sharp(jpeg.body as Buffer).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 80, 64]);
    expect((await image(share.token, 3)).status).toBe(404);

    const records = await audits(share.id);
    expect(records.map((r) => [r.event_type, r.details.action])).toEqual([
      ['Export', 'share-create'],
      ['DICOM Instances Accessed', 'share-view'],
      ['DICOM Instances Accessed', 'share-image'],
    ]);
    expect(records[1]?.actor_username).toBe(`share:${share.id}`);
    const list = await request(app).get(`/api/studies/${study}/shares`).set(as('radiologist'));
    expect(list.status).toBe(200);
    const listed = (list.body as { items: { id: string; viewCount: number; status: string }[] }).items.find((s) => s.id === share.id);
    expect(listed).toEqual(expect.objectContaining({ status: 'active', viewCount: 1 }));
    expect(JSON.stringify(list.body)).not.toContain(share.token);
  });

  it('stores only the token’s SHA-256, and never writes the token into the audit log', async () => {
    const share = await create({ accessCode: true });
    const { rows } = await catalog.pool.query<Record<string, unknown>>(`SELECT * FROM study_shares WHERE id = $1`, [share.id]);
    const row = rows[0] ?? {};
    expect(row.token_sha256).toEqual(createHash('sha256').update(share.token).digest());
    const stored = JSON.stringify(row, (_k, v: unknown) => (v instanceof Buffer || (typeof v === 'object' && v !== null && (v as { type?: string }).type === 'Buffer') ? Buffer.from(v as Buffer).toString('base64url') : v));
    expect(stored).not.toContain(share.token);
    expect(stored).not.toContain(share.code ?? 'no code');
    const logged = await catalog.pool.query(`SELECT 1 FROM audit_events WHERE details::text LIKE $1 OR actor_username LIKE $1`, [`%${share.token}%`]);
    expect(logged.rowCount).toBe(0);
  });

  it('refuses an expired and a revoked link exactly like an unknown one (problem+json, nothing about the study)', async () => {
    const expired = await create();
    await catalog.pool.query(`UPDATE study_shares SET created_at = now() - interval '31 days', expires_at = now() - interval '1 second' WHERE id = $1`, [expired.id]);
    const revoked = await create({}, 'radiologist');
    expect((await view(revoked.token)).status).toBe(200);
    const revoke = await request(app).post(`/api/studies/${study}/shares/${revoked.id}/revoke`).set(as('clinic'));
    expect([revoke.status, (revoke.body as { status: string }).status]).toEqual([200, 'revoked']);

    const answers = await Promise.all([view(expired.token), view(revoked.token), view('A'.repeat(43)), view('not-a-token'), image(revoked.token)]);
    for (const res of answers) {
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    // The same body for all: whether a study (or a share) is behind the link is not told.
    const bodies = answers.slice(0, 4).map((r) => ({ ...(r.body as Record<string, unknown>), instance: undefined, requestId: undefined }));
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
    expect(JSON.stringify(bodies[0])).not.toContain(study);
    expect((await audits(revoked.id)).map((r) => [r.event_type, r.details.action, r.details.reason ?? null])).toEqual([
      ['Export', 'share-create', null],
      ['DICOM Instances Accessed', 'share-view', null],
      ['Export', 'share-revoke', null],
      ['Security Alert', 'share-refused', 'revoked'],
      ['Security Alert', 'share-refused', 'revoked'],
    ]);
  });

  it('asks for the access code, counts wrong ones and locks the share after five, even against the right code', async () => {
    const share = await create({ accessCode: true });
    expect(share.code).toMatch(/^[0-9]{6}$/);
    const code = share.code ?? '';
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    const asked = await view(share.token);
    expect([asked.status, (asked.body as { accessCodeRequired?: boolean }).accessCodeRequired]).toEqual([401, true]);
    expect((await view(share.token, code)).status).toBe(200);
    expect((await image(share.token)).status).toBe(401);
    for (let i = 0; i < 5; i += 1) expect((await view(share.token, wrong)).status).toBe(401);
    const locked = await view(share.token, code);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect(locked.headers['content-type']).toMatch(/^application\/problem\+json/);
    const reasons = (await audits(share.id)).filter((r) => r.event_type === 'Security Alert').map((r) => r.details.reason);
    expect(reasons).toEqual(['wrong-code', 'wrong-code', 'wrong-code', 'wrong-code', 'wrong-code', 'locked']);
    // Once the lock has run out, the right code opens the share again.
    await catalog.pool.query(`UPDATE study_shares SET code_locked_until = now() - interval '1 second' WHERE id = $1`, [share.id]);
    expect((await view(share.token, code)).status).toBe(200);
  });

  it('lets only the study’s clinic create, list and revoke; limits the expiry; validates input as problem+json', async () => {
    const share = await create();
    const otherCreate = await request(app).post(`/api/studies/${study}/shares`).set(as('other')).send({});
    const otherList = await request(app).get(`/api/studies/${study}/shares`).set(as('other'));
    const otherRevoke = await request(app).post(`/api/studies/${study}/shares/${share.id}/revoke`).set(as('other'));
    expect([otherCreate.status, otherList.status, otherRevoke.status]).toEqual([404, 404, 404]);
    const auditor = await request(app).post(`/api/studies/${study}/shares`).set(as('auditor')).send({});
    expect(auditor.status).toBe(403);
    expect((await view(share.token)).status).toBe(200);
    const tooLong = await request(app).post(`/api/studies/${study}/shares`).set(as('clinic')).send({ expiresInDays: 61 });
    const bad = await request(app).post(`/api/studies/${study}/shares`).set(as('clinic')).send({ expiresInDays: 'soon' });
    expect([tooLong.status, bad.status]).toEqual([400, 400]);
    expect(bad.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect((await request(app).post(`/api/studies/${study}/shares/not-a-uuid/revoke`).set(as('clinic'))).status).toBe(400);
  });

  it('a share of a study disposed of after its retention opens nothing, and none can be made or listed for it', async () => {
    const disposed = await storeStudy();
    const created = await request(app).post(`/api/studies/${disposed}/shares`).set(as('clinic')).send({});
    expect(created.status).toBe(201);
    const share = created.body as Created;
    expect((await view(share.token)).status).toBe(200);
    // The keeper's tombstone marks the study disposed (services/ingest keeper; its rows and copies are gone).
    await catalog.pool.query('UPDATE studies SET disposed_at = now() WHERE study_instance_uid = $1', [disposed]);
    const answers = await Promise.all([view(share.token), image(share.token), view('A'.repeat(43))]);
    expect(answers.map((r) => r.status)).toEqual([404, 404, 404]);
    // Refused like an unknown link, and audited as disposed.
    expect({ ...(answers[0]?.body as Record<string, unknown>), instance: undefined, requestId: undefined }).toEqual({ ...(answers[2]?.body as Record<string, unknown>), instance: undefined, requestId: undefined });
    expect((await audits(share.id)).map((r) => [r.details.action, r.details.reason ?? null])).toEqual([
      ['share-create', null],
      ['share-view', null],
      ['share-refused', 'disposed'],
      ['share-refused', 'disposed'],
    ]);
    for (const res of [await request(app).post(`/api/studies/${disposed}/shares`).set(as('clinic')).send({}), await request(app).get(`/api/studies/${disposed}/shares`).set(as('clinic'))]) {
      expect(res.status).toBe(404);
    }
  });

  it('opens nothing else: the share token is no credential for the study’s report, the queue or the account', async () => {
    const share = await create();
    for (const header of [`Share ${share.token}`, `Bearer ${share.token}`, `ApiKey ${share.token}`]) {
      for (const path of [`/api/studies/${study}/report`, `/api/studies/${study}/shares`, '/api/queue', '/api/auth/me', '/api/clinic/studies']) {
        const res = await request(app).get(path).set('Authorization', header);
        expect([path, res.status]).toEqual([path, 401]);
      }
    }
    const byQuery = await request(app).get(`/api/studies/${study}/report?token=${share.token}`);
    expect(byQuery.status).toBe(401);
  });
});
