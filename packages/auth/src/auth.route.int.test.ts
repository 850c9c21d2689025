import { createHmac } from 'node:crypto';
import request from 'supertest';
import { createLogger } from '@yunying/core';
import { createMetricsRegistry, createServiceApp } from '@yunying/http';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { AuthService } from './auth.service';
import { createAuthRouter } from './auth.route';

const SECRET = 'route-secret-route-secret-route-secret-0123';
const PASSWORD = 'a long enough password';

function cookies(res: request.Response): string[] {
  const raw = res.headers['set-cookie'] as unknown;
  return Array.isArray(raw) ? (raw as string[]) : [];
}

function cookieValue(res: request.Response, name: string): string | undefined {
  const line = cookies(res).find((c) => c.startsWith(`${name}=`));
  return line ? decodeURIComponent(line.slice(name.length + 1).split(';')[0] ?? '') : undefined;
}

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

describe('auth routes', () => {
  let catalog: TestCatalog;
  let app: ReturnType<typeof createServiceApp>;
  let auth: AuthService;
  let clinicId: string;

  beforeAll(async () => {
    catalog = await createTestCatalog('authroute');
    auth = new AuthService({
      pool: catalog.pool,
      tokenSecret: SECRET,
      accessTokenTtlSeconds: 120,
      refreshTokenTtlSeconds: 3600,
      signInLimits: { maxFailures: 3, maxAccountFailures: 4 },
    });
    const clinic = await auth.createClinic({ code: 'route-clinic', name: 'R' });
    await auth.createUser({ username: 'carol', role: 'clinic', clinicId: clinic.id, password: PASSWORD });
    await auth.createUser({ username: 'dave', role: 'clinic', clinicId: clinic.id, password: PASSWORD });
    await auth.createUser({ username: 'erin', role: 'clinic', clinicId: clinic.id, password: PASSWORD });
    await auth.createUser({ username: 'gwen', role: 'clinic', clinicId: clinic.id, password: PASSWORD });
    clinicId = clinic.id;
    app = createServiceApp({
      service: 'viewer',
      logger: createLogger({ level: 'silent', service: 'viewer' }),
      metrics: createMetricsRegistry(),
      readiness: [],
      routes: [createAuthRouter(auth, { name: 'authroute-test' }).router],
      // The TLS-terminating proxy of a deployment, on loopback here.
      security: { trustedProxies: ['loopback'] },
    });
  });
  afterAll(async () => {
    await catalog.drop();
  });

  it('signs a browser in with httpOnly, SameSite=Strict, __Host- cookies, Secure behind https', async () => {
    const res = await request(app).post('/api/auth/sign-in').set('X-Forwarded-Proto', 'https').send({ username: 'carol', password: PASSWORD }).expect(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toMatchObject({ tokenType: 'Bearer', expiresIn: 120, principal: { username: 'carol', role: 'clinic' } });
    expect(res.body.refreshToken).toBeUndefined();
    const access = cookies(res).find((c) => c.startsWith('__Host-yy_access='))!;
    const refresh = cookies(res).find((c) => c.startsWith('__Host-yy_refresh='))!;
    for (const c of [access, refresh]) {
      expect(c).toMatch(/HttpOnly/);
      expect(c).toMatch(/SameSite=Strict/);
      expect(c).toMatch(/Secure/);
      // What a browser requires of a __Host- cookie: Path=/ and no Domain.
      expect(c).toMatch(/Path=\/(;|$)/);
      expect(c).not.toMatch(/Domain=/i);
    }
    const refreshed = await request(app)
      .post('/api/auth/refresh')
      .set('X-Forwarded-Proto', 'https')
      .set('Cookie', `__Host-yy_refresh=${cookieValue(res, '__Host-yy_refresh') ?? ''}`)
      .expect(200);
    expect(cookieValue(refreshed, '__Host-yy_access')).toEqual(expect.any(String));
    const plain = await request(app).post('/api/auth/sign-in').send({ username: 'carol', password: PASSWORD }).expect(200);
    expect(cookies(plain).join()).not.toMatch(/Secure/);
    expect(cookies(plain).find((c) => c.startsWith('yy_refresh='))).toMatch(/Path=\/api\/auth/);
  });

  it('refuses a cookie refresh from Origin: null or a cross-site page', async () => {
    const signIn = await request(app).post('/api/auth/sign-in').send({ username: 'carol', password: PASSWORD }).expect(200);
    const refresh = cookieValue(signIn, 'yy_refresh') ?? '';
    await request(app).post('/api/auth/refresh').set('Cookie', `yy_refresh=${refresh}`).set('Origin', 'null').expect(403);
    await request(app).post('/api/auth/refresh').set('Cookie', `yy_refresh=${refresh}`).set('Sec-Fetch-Site', 'cross-site').expect(403);
    await request(app).post('/api/auth/refresh').set('Cookie', `yy_refresh=${refresh}`).set('Sec-Fetch-Site', 'same-origin').expect(200);
  });

  it('refreshes and signs out with the cookies; me answers for cookie and Bearer', async () => {
    const signIn = await request(app).post('/api/auth/sign-in').send({ username: 'carol', password: PASSWORD }).expect(200);
    const access = cookieValue(signIn, 'yy_access')!;
    const refresh = cookieValue(signIn, 'yy_refresh')!;
    await request(app).get('/api/auth/me').set('Cookie', `yy_access=${access}`).expect(200);
    await request(app).get('/api/auth/me').set('Authorization', `Bearer ${signIn.body.accessToken as string}`).expect(200);
    const refreshed = await request(app).post('/api/auth/refresh').set('Cookie', `yy_refresh=${refresh}`).expect(200);
    const access2 = cookieValue(refreshed, 'yy_access')!;
    const refresh2 = cookieValue(refreshed, 'yy_refresh')!;
    expect(refresh2).not.toBe(refresh);
    await request(app).post('/api/auth/sign-out').set('Cookie', `yy_access=${access2}; yy_refresh=${refresh2}`).expect(204);
    await request(app).get('/api/auth/me').set('Cookie', `yy_access=${access2}`).expect(401);
    await request(app).post('/api/auth/refresh').set('Cookie', `yy_refresh=${refresh2}`).expect(401);
    await request(app).post('/api/auth/refresh').expect(401);
  });

  it('gives API clients both tokens in the body and rotates them', async () => {
    const signIn = await request(app).post('/api/auth/sign-in').send({ username: 'carol', password: PASSWORD, client: 'api' }).expect(200);
    expect(cookies(signIn)).toEqual([]);
    const refreshed = await request(app).post('/api/auth/refresh').send({ refreshToken: signIn.body.refreshToken as string }).expect(200);
    expect(refreshed.body.refreshToken).toEqual(expect.any(String));
    await request(app).post('/api/auth/refresh').send({ refreshToken: signIn.body.refreshToken as string }).expect(401);
  });

  it('backs an account off after guesses from ever new addresses, but not from where its user signed in before (#17)', async () => {
    const from = (ip: string, password: string): request.Test =>
      request(app).post('/api/auth/sign-in').set('X-Forwarded-For', ip).send({ username: 'dave', password, client: 'api' });
    await from('198.51.100.7', PASSWORD).expect(200);
    // The penetration test's guessing: a new forwarded address for every guess (through the trusted proxy).
    for (let i = 1; i <= 4; i += 1) await from(`203.0.113.${i}`, `wrong password ${i}`).expect(401);
    // Now even the right password from a new address is not checked.
    const limited = await from('203.0.113.5', PASSWORD).expect(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.body.detail).toBe('Too many failed sign-in attempts; try again later');
    // dave, from where he signed in before, is not locked out.
    await from('198.51.100.7', PASSWORD).expect(200);
  });

  it('refuses weak and common passwords (#17): aaaaaaaaaaaa, Password2024!, the user name', async () => {
    for (const [password, why] of [
      ['aaaaaaaaaaaa', 'too few different characters'],
      ['Password2024!', 'a commonly used or breached password (or one with only digits and symbols added)'],
      ['frank-is-my-name', 'contains the user name'],
    ] as const) {
      await expect(auth.createUser({ username: 'frank', role: 'clinic', clinicId, password })).rejects.toMatchObject({ code: 'bad_request', message: `Password refused: ${why}` });
    }
  });

  it('lets a user change their own password and see and revoke their sessions (#17)', async () => {
    const PHONE_UA = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36';
    const signIn = async (ip: string, password = PASSWORD, userAgent = 'yunying-test'): Promise<string> =>
      (await request(app).post('/api/auth/sign-in').set('X-Forwarded-For', ip).set('User-Agent', userAgent).send({ username: 'erin', password, client: 'api' }).expect(200)).body
        .accessToken as string;
    const here = await signIn('198.51.100.20');
    const laptop = await signIn('198.51.100.21', PASSWORD, `${'x'.repeat(300)}`);
    const phone = await signIn('198.51.100.22', PASSWORD, PHONE_UA);
    const listed = await request(app).get('/api/auth/sessions').set('Authorization', `Bearer ${here}`).expect(200);
    const sessions = listed.body.sessions as { id: string; sourceIp: string; userAgent: string | null; current: boolean }[];
    expect(sessions.map((x) => x.sourceIp).sort()).toEqual(['198.51.100.20', '198.51.100.21', '198.51.100.22']);
    // Each sign-in's device as its User-Agent said (cut at 256 characters), for the account page to name it.
    expect(Object.fromEntries(sessions.map((x) => [x.sourceIp, x.userAgent]))).toEqual({ '198.51.100.20': 'yunying-test', '198.51.100.21': 'x'.repeat(256), '198.51.100.22': PHONE_UA });
    expect(sessions.filter((x) => x.current).map((x) => x.sourceIp)).toEqual(['198.51.100.20']);

    // Revoke the phone's session: its token stops working at once; another user's session id is not found.
    const phoneSession = sessions.find((x) => x.sourceIp === '198.51.100.22')?.id ?? '';
    await request(app).delete(`/api/auth/sessions/${phoneSession}`).set('Authorization', `Bearer ${here}`).expect(204);
    await request(app).get('/api/auth/me').set('Authorization', `Bearer ${phone}`).expect(401);
    const carol = (await request(app).post('/api/auth/sign-in').set('X-Forwarded-For', '198.51.100.30').send({ username: 'carol', password: PASSWORD, client: 'api' }).expect(200)).body.accessToken as string;
    const carolSession = ((await request(app).get('/api/auth/sessions').set('Authorization', `Bearer ${carol}`).expect(200)).body.sessions as { id: string }[])[0]?.id ?? '';
    await request(app).delete(`/api/auth/sessions/${carolSession}`).set('Authorization', `Bearer ${here}`).expect(404);
    await request(app).get('/api/auth/me').set('Authorization', `Bearer ${carol}`).expect(200);

    // Password change: the current password is required, the policy applies, the same password is refused.
    const change = (token: string, currentPassword: string, newPassword: string): request.Test =>
      request(app).post('/api/auth/password').set('Authorization', `Bearer ${token}`).set('X-Forwarded-For', '198.51.100.20').send({ currentPassword, newPassword });
    await change(here, 'not my password', 'a new and long passphrase').expect(403);
    expect((await change(here, PASSWORD, 'aaaaaaaaaaaa').expect(400)).body.detail).toBe('Password refused: too few different characters');
    await change(here, PASSWORD, PASSWORD).expect(400);
    const changed = await change(here, PASSWORD, 'a new and long passphrase').expect(200);
    expect(changed.body.otherSessionsRevoked).toBe(1);
    // The laptop session is revoked, the old token of this one too (token version); the new one works.
    await request(app).get('/api/auth/me').set('Authorization', `Bearer ${laptop}`).expect(401);
    await request(app).get('/api/auth/me').set('Authorization', `Bearer ${here}`).expect(401);
    await request(app).get('/api/auth/me').set('Authorization', `Bearer ${changed.body.accessToken as string}`).expect(200);
    await request(app).post('/api/auth/sign-in').set('X-Forwarded-For', '198.51.100.20').send({ username: 'erin', password: PASSWORD, client: 'api' }).expect(401);
    await signIn('198.51.100.20', 'a new and long passphrase');
    // Nothing of the password comes back.
    expect(JSON.stringify(changed.body)).not.toContain('passphrase');
  });

  it('sets up a TOTP second factor; then sign-in needs a current code, accepted once (#17)', async () => {
    const signIn = (totp?: string): request.Test =>
      request(app).post('/api/auth/sign-in').set('X-Forwarded-For', '198.51.100.40').send({ username: 'gwen', password: PASSWORD, client: 'api', ...(totp !== undefined ? { totp } : {}) });
    const token = (await signIn().expect(200)).body.accessToken as string;
    const bearer = `Bearer ${token}`;
    await request(app).post('/api/auth/totp').set('Authorization', bearer).send({ currentPassword: 'not my password' }).expect(403);
    const enrol = await request(app).post('/api/auth/totp').set('Authorization', bearer).send({ currentPassword: PASSWORD }).expect(200);
    const secret = enrol.body.secret as string;
    expect(enrol.body.uri).toMatch(/^otpauth:\/\/totp\/Yunying:gwen\?/);
    expect((await request(app).get('/api/auth/second-factor').set('Authorization', bearer).expect(200)).body.totp).toBe('pending');
    // Not on until confirmed with a current code (a code of an hour ago is refused).
    await signIn().expect(200);
    await request(app).post('/api/auth/totp/confirm').set('Authorization', bearer).send({ code: totpAt(secret, new Date(Date.now() - 3_600_000)) }).expect(400);
    const confirmed = await request(app).post('/api/auth/totp/confirm').set('Authorization', bearer).send({ code: totpAt(secret, new Date()) }).expect(200);
    // The recovery codes come with the confirmation, once, and are not cached.
    expect(confirmed.headers['cache-control']).toBe('no-store');
    expect(confirmed.body.recoveryCodes).toHaveLength(10);
    const status = await request(app).get('/api/auth/second-factor').set('Authorization', bearer).expect(200);
    expect(status.body).toEqual({ totp: 'confirmed', required: false, recoveryCodes: { remaining: 10, issuedAt: expect.any(String) } });
    // Now the password alone is not enough, a wrong code neither; the next step's code works, once.
    expect((await signIn().expect(401)).body.totpRequired).toBe(true);
    await signIn(totpAt(secret, new Date(Date.now() - 3_600_000))).expect(401);
    const next = totpAt(secret, new Date(Date.now() + 30_000));
    await signIn(next).expect(200);
    await signIn(next).expect(401);
    // The secret is sealed in the database, not stored as given.
    const stored = await catalog.pool.query<{ secret_sealed: string }>("SELECT secret_sealed FROM user_totp t JOIN users u ON u.id = t.user_id WHERE u.username = 'gwen'");
    expect(stored.rows[0]?.secret_sealed).not.toContain(secret);
    await request(app).post('/api/auth/totp').set('Authorization', bearer).send({ currentPassword: PASSWORD }).expect(409);
  });

  it('answers 429 with Retry-After after repeated failures, and 400 for a malformed body', async () => {
    for (let i = 0; i < 3; i += 1) await request(app).post('/api/auth/sign-in').send({ username: 'carol', password: 'wrong password' }).expect(401);
    const res = await request(app).post('/api/auth/sign-in').send({ username: 'carol', password: PASSWORD }).expect(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(res.body.code).toBe('too_many_requests');
    const bad = await request(app).post('/api/auth/sign-in').send({ username: 'carol' }).expect(400);
    expect(JSON.stringify(bad.body)).not.toContain(PASSWORD);
  });
});
