import { createHmac } from 'node:crypto';
import request from 'supertest';
import { createLogger } from '@yunying/core';
import { createMetricsRegistry, createServiceApp } from '@yunying/http';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { AuthService, type AuthAuditEvent } from './auth.service';
import { createAuthRouter } from './auth.route';

const SECRET = 'second-factor-secret-second-factor-secret-01';
const PASSWORD = 'a long enough password';

/** RFC 6238 (SHA-1, 6 digits, 30 s) written out here, independent of the library the server uses. */
function totpAt(base32: string, at: Date): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at.getTime() / 30_000)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = (mac[mac.length - 1] ?? 0) & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/**
 * #17: a second factor required of radiologists, auditors and admins (AUTH_SECOND_FACTOR=privileged), through
 * the API sign-in on real PostgreSQL: enrolment at the first sign-in before any session, the code at every
 * later one, replay refused, wrong codes throttled like passwords, audited without secrets. The service's
 * clock is set by the test, so codes are computed for known time steps.
 */
describe('second factor required for privileged roles', () => {
  let catalog: TestCatalog;
  let auth: AuthService;
  let app: ReturnType<typeof createServiceApp>;
  const events: AuthAuditEvent[] = [];
  // 10 s into a 30 s step: the codes of the steps before and after are in the accepted window too.
  const clock = new Date(Math.floor(Date.now() / 30_000) * 30_000 + 10_000);
  const at = (stepOffset: number): Date => new Date(clock.getTime() + stepOffset * 30_000);
  let clinicId: string;

  const signIn = (body: Record<string, unknown>, ip = '198.51.100.70'): request.Test =>
    request(app).post('/api/auth/sign-in').set('X-Forwarded-For', ip).send({ client: 'api', ...body });
  const sessionsOf = async (username: string): Promise<number> =>
    Number((await catalog.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = $1', [username])).rows[0]?.n);

  /** The whole enrolment as a client does it: password -> key -> first code; returns the key and a bearer. */
  async function enrol(username: string, ip: string): Promise<{ secret: string; bearer: string; recoveryCodes: string[] }> {
    const first = await signIn({ username, password: PASSWORD }, ip).expect(401);
    const secret = first.body.secret as string;
    const done = await signIn({ challenge: first.body.challenge, totp: totpAt(secret, at(-1)) }, ip).expect(200);
    return { secret, bearer: `Bearer ${done.body.accessToken as string}`, recoveryCodes: done.body.recoveryCodes as string[] };
  }

  beforeAll(async () => {
    catalog = await createTestCatalog('secondfactor');
    auth = new AuthService({
      pool: catalog.pool,
      tokenSecret: SECRET,
      accessTokenTtlSeconds: 120,
      refreshTokenTtlSeconds: 3600,
      signInLimits: { maxFailures: 3, maxAccountFailures: 6 },
      secondFactorRoles: ['radiologist', 'auditor', 'admin'],
      audit: { append: (e) => Promise.resolve(events.push(e)) },
      now: () => clock,
    });
    clinicId = (await auth.createClinic({ code: 'lakeside-hz', name: 'Lakeside Imaging Centre' })).id;
    await auth.createUser({ username: 'rosa', role: 'radiologist', password: PASSWORD });
    await auth.createUser({ username: 'otto', role: 'auditor', password: PASSWORD });
    await auth.createUser({ username: 'ada', role: 'admin', password: PASSWORD });
    await auth.createUser({ username: 'cleo', role: 'clinic', clinicId, password: PASSWORD });
    app = createServiceApp({
      service: 'viewer',
      logger: createLogger({ level: 'silent', service: 'viewer' }),
      metrics: createMetricsRegistry(),
      readiness: [],
      routes: [createAuthRouter(auth, { name: 'second-factor-test' }).router],
      security: { trustedProxies: ['loopback'] },
    });
  });
  afterAll(async () => {
    await catalog.drop();
  });
  beforeEach(() => {
    events.length = 0;
  });

  it('enrols a radiologist at the first sign-in before any session, then asks for a code every time, each accepted once', async () => {
    const first = await signIn({ username: 'rosa', password: PASSWORD }).expect(401);
    expect(first.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(first.body).toMatchObject({ totpRequired: true, totpEnrolmentRequired: true });
    const secret = first.body.secret as string;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(first.body.uri).toBe(`otpauth://totp/Yunying:rosa?secret=${secret}&period=30&digits=6&algorithm=SHA1&issuer=Yunying`);
    expect(first.body.accessToken).toBeUndefined();
    expect(await sessionsOf('rosa')).toBe(0);
    // Signing in again (a reload) shows the same key, so one already added to the app still works.
    const again = await signIn({ username: 'rosa', password: PASSWORD }).expect(401);
    expect(again.body.secret).toBe(secret);
    // The challenge is no access token.
    await request(app).get('/api/auth/me').set('Authorization', `Bearer ${again.body.challenge as string}`).expect(401);
    // A wrong code: still no session, the key comes again; then the current code confirms and signs in.
    const wrong = await signIn({ challenge: again.body.challenge, totp: totpAt(secret, at(-5)) }).expect(401);
    expect(wrong.body).toMatchObject({ detail: 'Invalid one-time code', totpEnrolmentRequired: true, secret });
    expect(await sessionsOf('rosa')).toBe(0);
    const confirmCode = totpAt(secret, at(-1));
    const done = await signIn({ challenge: again.body.challenge, totp: confirmCode }).expect(200);
    expect(done.body.principal).toMatchObject({ username: 'rosa', role: 'radiologist' });
    expect(await sessionsOf('rosa')).toBe(1);
    // Replay of the confirming code, through either form, is refused.
    await signIn({ challenge: again.body.challenge, totp: confirmCode }).expect(401);
    await signIn({ username: 'rosa', password: PASSWORD, totp: confirmCode }).expect(401);
    // From now on the password alone gets a challenge, no key.
    const later = await signIn({ username: 'rosa', password: PASSWORD }).expect(401);
    expect(later.body).toMatchObject({ totpRequired: true, detail: 'A one-time code is required' });
    expect(later.body.secret).toBeUndefined();
    expect(later.body.totpEnrolmentRequired).toBeUndefined();
    const now = totpAt(secret, at(0));
    await signIn({ challenge: later.body.challenge, totp: now }).expect(200);
    await signIn({ challenge: later.body.challenge, totp: now }).expect(401);
    // The one-step form (user name, password and code together) works too.
    await signIn({ username: 'rosa', password: PASSWORD, totp: totpAt(secret, at(1)) }).expect(200);

    const reasons = events.map((e) => `${e.type}:${e.outcome}:${String(e.details?.reason ?? e.details?.change ?? e.details?.secondFactor ?? '')}`);
    expect(reasons).toEqual(
      expect.arrayContaining([
        'User Authentication:4:totp-enrolment-required',
        'User Authentication:4:bad-totp-enrolment',
        'Security Alert:0:totp-enabled',
        'User Authentication:0:totp',
        'User Authentication:4:bad-totp',
        'User Authentication:4:totp-required',
      ]),
    );
    // No key, code or challenge in any audit record.
    const audited = JSON.stringify(events);
    for (const secretThing of [secret, confirmCode, now, String(again.body.challenge)]) expect(audited).not.toContain(secretThing);
  });

  it('does not ask a clinic user for a code, and voids a challenge when the password changes', async () => {
    const clinic = await signIn({ username: 'cleo', password: PASSWORD }).expect(200);
    expect(clinic.body.principal.role).toBe('clinic');
    const pending = await signIn({ username: 'otto', password: PASSWORD }, '198.51.100.71').expect(401);
    const user = await auth.findUserByUsername('otto');
    await auth.updateUser(user?.id ?? '', { password: 'another long passphrase here' });
    const code = totpAt(pending.body.secret as string, at(0));
    const refused = await signIn({ challenge: pending.body.challenge, totp: code }, '198.51.100.71').expect(401);
    expect(refused.body.detail).toMatch(/expired/);
    await signIn({ challenge: `${String(pending.body.challenge).slice(0, -2)}xx`, totp: code }, '198.51.100.71').expect(401);
    await signIn({ challenge: pending.body.challenge }, '198.51.100.71').expect(401);
  });

  it('throttles wrong codes like wrong passwords (429 with Retry-After, even for the right code)', async () => {
    const ip = '198.51.100.72';
    const first = await signIn({ username: 'ada', password: PASSWORD }, ip).expect(401);
    const secret = first.body.secret as string;
    for (const offset of [-7, -6, -5]) await signIn({ challenge: first.body.challenge, totp: totpAt(secret, at(offset)) }, ip).expect(401);
    const limited = await signIn({ challenge: first.body.challenge, totp: totpAt(secret, at(0)) }, ip).expect(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(events.some((e) => e.details?.reason === 'rate-limited' && e.details.method === 'totp')).toBe(true);
  });

  it("lets an admin remove another user's lost authenticator: their sessions end and they enrol again; not their own", async () => {
    const admin = await auth.createUser({ username: 'abel', role: 'admin', password: PASSWORD });
    const { bearer } = await enrol(admin.username, '198.51.100.74');
    const reader = await auth.createUser({ username: 'rhea', role: 'radiologist', password: PASSWORD });
    const first = await enrol(reader.username, '198.51.100.75');
    await request(app).get('/api/auth/me').set('Authorization', first.bearer).expect(200);
    await request(app).delete(`/api/admin/users/${reader.id}/totp`).set('Authorization', first.bearer).expect(403);
    await request(app).delete(`/api/admin/users/${admin.id}/totp`).set('Authorization', bearer).expect(403);
    await request(app).delete(`/api/admin/users/${reader.id}/totp`).set('Authorization', bearer).expect(204);
    // The session signed in with the lost device is over; the next sign-in shows a new key.
    await request(app).get('/api/auth/me').set('Authorization', first.bearer).expect(401);
    const again = await signIn({ username: reader.username, password: PASSWORD }, '198.51.100.75').expect(401);
    expect(again.body.totpEnrolmentRequired).toBe(true);
    expect(again.body.secret).not.toBe(first.secret);
    expect(events.some((e) => e.type === 'Security Alert' && e.details?.change === 'totp-reset' && e.details.targetUserId === reader.id)).toBe(true);
    // Counts as a change of the account by this admin (four eyes: abel cannot approve rhea's requests or be approved by her).
    const changes = await catalog.pool.query<{ change: string }>('SELECT change FROM user_account_changes WHERE user_id = $1 AND changed_by = $2', [reader.id, admin.id]);
    expect(changes.rows.map((r) => r.change)).toEqual(['updated']);
    // Idempotent.
    await request(app).delete(`/api/admin/users/${reader.id}/totp`).set('Authorization', bearer).expect(204);
  });

  it('lets a user who lost the phone sign in once per recovery code; a new set voids the old; an admin reset removes them', async () => {
    const nina = await auth.createUser({ username: 'nina', role: 'radiologist', password: PASSWORD });
    await auth.createUser({ username: 'noel', role: 'radiologist', password: PASSWORD });
    const { bearer, recoveryCodes } = await enrol('nina', '198.51.100.80');
    const others = (await enrol('noel', '198.51.100.81')).recoveryCodes;
    // Ten codes, shown with the enrolment that made them; only keyed hashes are stored.
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    const stored = await catalog.pool.query<{ code_hash: string; used_at: Date | null }>('SELECT code_hash, used_at FROM user_recovery_codes WHERE user_id = $1', [nina.id]);
    expect(stored.rows).toHaveLength(10);
    for (const code of recoveryCodes) for (const row of stored.rows) expect(row.code_hash).not.toContain(code.replace('-', ''));
    const [first = '', second = '', third = ''] = recoveryCodes;

    // In place of the app's code, typed as from paper (upper case, no dash): signs in, and says how many are left.
    const recovered = await signIn({ username: 'nina', password: PASSWORD, totp: first.replace('-', '').toUpperCase() }, '198.51.100.82').expect(200);
    expect(recovered.body).toMatchObject({ recoveryCodesLeft: 9, principal: { username: 'nina' } });
    expect(recovered.body.recoveryCodes).toBeUndefined();
    // Once only; another user's code is no code for nina; the challenge form takes one too.
    expect((await signIn({ username: 'nina', password: PASSWORD, totp: first }, '198.51.100.83').expect(401)).body.detail).toBe('Invalid one-time code');
    const step = await signIn({ username: 'nina', password: PASSWORD }, '198.51.100.84').expect(401);
    await signIn({ challenge: step.body.challenge, totp: others[0] ?? '' }, '198.51.100.84').expect(401);
    expect((await signIn({ challenge: step.body.challenge, totp: second }, '198.51.100.84').expect(200)).body.recoveryCodesLeft).toBe(8);
    expect((await request(app).get('/api/auth/second-factor').set('Authorization', bearer).expect(200)).body).toEqual({
      totp: 'confirmed',
      required: true,
      recoveryCodes: { remaining: 8, issuedAt: expect.any(String) },
    });

    // A new set needs the password; the old codes stop working, the new ones work.
    await request(app).post('/api/auth/recovery-codes').set('Authorization', bearer).send({ currentPassword: 'not the password' }).expect(403);
    const renewed = await request(app).post('/api/auth/recovery-codes').set('Authorization', bearer).send({ currentPassword: PASSWORD }).expect(200);
    expect(renewed.headers['cache-control']).toBe('no-store');
    const fresh = renewed.body.recoveryCodes as string[];
    expect(fresh).toHaveLength(10);
    expect(fresh).not.toContain(third);
    await signIn({ username: 'nina', password: PASSWORD, totp: third }, '198.51.100.85').expect(401);
    expect((await signIn({ username: 'nina', password: PASSWORD, totp: fresh[0] }, '198.51.100.86').expect(200)).body.recoveryCodesLeft).toBe(9);

    // A user without a generator has no codes to renew.
    const cleo = await signIn({ username: 'cleo', password: PASSWORD }, '198.51.100.87').expect(200);
    expect((await request(app).get('/api/auth/second-factor').set('Authorization', `Bearer ${cleo.body.accessToken as string}`).expect(200)).body).toEqual({
      totp: 'none',
      required: false,
      recoveryCodes: { remaining: 0, issuedAt: null },
    });
    await request(app).post('/api/auth/recovery-codes').set('Authorization', `Bearer ${cleo.body.accessToken as string}`).send({ currentPassword: PASSWORD }).expect(409);

    // An admin reset removes the codes with the generator: the next sign-in enrols, and no code is taken for it.
    const admin = await auth.createUser({ username: 'arne', role: 'admin', password: PASSWORD });
    const adminBearer = (await enrol(admin.username, '198.51.100.88')).bearer;
    await request(app).delete(`/api/admin/users/${nina.id}/totp`).set('Authorization', adminBearer).expect(204);
    expect((await catalog.pool.query('SELECT 1 FROM user_recovery_codes WHERE user_id = $1', [nina.id])).rowCount).toBe(0);
    const enrolAgain = await signIn({ username: 'nina', password: PASSWORD, totp: fresh[1] }, '198.51.100.89').expect(401);
    expect(enrolAgain.body.totpEnrolmentRequired).toBe(true);

    // Audited as a sign-in by recovery code and a new set, never with a code in it.
    const details = events.filter((e) => e.details?.secondFactor === 'recovery-code').map((e) => e.details?.recoveryCodesLeft);
    expect(details).toEqual([9, 8, 9]);
    expect(events.some((e) => e.type === 'Security Alert' && e.details?.change === 'recovery-codes-issued' && e.details.targetUserId === nina.id)).toBe(true);
    const audited = JSON.stringify(events);
    for (const code of [...recoveryCodes, ...fresh]) {
      expect(audited).not.toContain(code);
      expect(audited).not.toContain(code.replace('-', ''));
    }
  });

  it("lets an admin end another user's sign-ins at once (a stolen device), not their own; the account stays usable", async () => {
    const admin = await auth.createUser({ username: 'alma', role: 'admin', password: PASSWORD });
    const { bearer } = await enrol(admin.username, '198.51.100.90');
    const clinicUser = await auth.createUser({ username: 'cody', role: 'clinic', clinicId, password: PASSWORD });
    const phone = await signIn({ username: 'cody', password: PASSWORD }, '198.51.100.91').expect(200);
    const laptop = await signIn({ username: 'cody', password: PASSWORD }, '198.51.100.92').expect(200);
    await request(app).get('/api/auth/me').set('Authorization', `Bearer ${phone.body.accessToken as string}`).expect(200);
    await request(app).delete(`/api/admin/users/${clinicUser.id}/sessions`).set('Authorization', `Bearer ${phone.body.accessToken as string}`).expect(403);
    // First, where the user is signed in: both devices, with their addresses.
    await request(app).get(`/api/admin/users/${clinicUser.id}/sessions`).set('Authorization', `Bearer ${phone.body.accessToken as string}`).expect(403);
    const listed = await request(app).get(`/api/admin/users/${clinicUser.id}/sessions`).set('Authorization', bearer).set('User-Agent', 'admin-console').expect(200);
    expect((listed.body as { sessions: { sourceIp: string; createdAt: string }[] }).sessions.map((s) => s.sourceIp).sort()).toEqual(['198.51.100.91', '198.51.100.92']);
    await request(app).get('/api/admin/users/00000000-0000-4000-8000-000000000000/sessions').set('Authorization', bearer).expect(404);
    const ended = await request(app).delete(`/api/admin/users/${clinicUser.id}/sessions`).set('Authorization', bearer).expect(200);
    expect(ended.body).toEqual({ ended: 2 });
    // Access tokens stop now and refresh tokens do not renew; the password still signs in.
    for (const session of [phone, laptop]) {
      await request(app).get('/api/auth/me').set('Authorization', `Bearer ${session.body.accessToken as string}`).expect(401);
      await request(app).post('/api/auth/refresh').send({ refreshToken: session.body.refreshToken }).expect(401);
    }
    expect((await request(app).get(`/api/admin/users/${clinicUser.id}/sessions`).set('Authorization', bearer).expect(200)).body).toEqual({ sessions: [] });
    await signIn({ username: 'cody', password: PASSWORD }, '198.51.100.93').expect(200);
    await request(app).delete(`/api/admin/users/${admin.id}/sessions`).set('Authorization', bearer).expect(403);
    await request(app).delete('/api/admin/users/00000000-0000-4000-8000-000000000000/sessions').set('Authorization', bearer).expect(404);
    expect(events.some((e) => e.type === 'Security Alert' && e.details?.change === 'sessions-ended' && e.details.targetUserId === clinicUser.id && e.details.sessions === 2)).toBe(true);
  });

  it('refuses common, breached and context passwords with a problem+json that says why', async () => {
    const admin = await auth.createUser({ username: 'adele', role: 'admin', password: PASSWORD });
    const { bearer } = await enrol(admin.username, '198.51.100.73');
    const create = (username: string, password: string): request.Test =>
      request(app).post('/api/admin/users').set('Authorization', bearer).send({ username, role: 'clinic', clinicId, password });
    const common = await create('dana', 'Sunshine!!2024').expect(400);
    expect(common.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(common.body).toMatchObject({ passwordProblem: 'common-password', detail: expect.stringMatching(/^Password refused: a commonly used or breached password/) });
    expect((await create('dana', 'QAZWSXEDCRFV').expect(400)).body.passwordProblem).toBe('common-password');
    expect((await create('dana', 'lakeside imaging 4 me').expect(400)).body.passwordProblem).toBe('contains-context-word');
    expect((await create('dana', 'my yunying login 99').expect(400)).body.passwordProblem).toBe('contains-context-word');
    expect((await create('dana', 'dana likes long walks').expect(400)).body.passwordProblem).toBe('contains-user-name');
    for (const res of [common]) expect(JSON.stringify(res.body)).not.toContain('Sunshine');
    await create('dana', 'violet kettle under moonlight').expect(201);
  });
});
