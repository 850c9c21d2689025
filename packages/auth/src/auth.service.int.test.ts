import { SignJWT } from 'jose';
import { kyselyOn } from '@yunying/catalog';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { AuthService, type AuthAuditEvent } from './auth.service';
import { clinicCondition, clinicFilter } from './clinic-scope.sql';

const SECRET = 'test-secret-test-secret-test-secret-0123456789';
const PASSWORD = 'correct horse battery staple';

describe('AuthService', () => {
  let catalog: TestCatalog;
  let auth: AuthService;
  const events: AuthAuditEvent[] = [];
  let clock = new Date();
  let clinicA: string;
  let clinicB: string;

  beforeAll(async () => {
    catalog = await createTestCatalog('auth');
    auth = new AuthService({
      pool: catalog.pool,
      tokenSecret: SECRET,
      accessTokenTtlSeconds: 60,
      refreshTokenTtlSeconds: 3600,
      audit: { append: (e) => Promise.resolve(events.push(e)) },
      now: () => clock,
    });
    clinicA = (await auth.createClinic({ code: 'clinic-a', name: 'A', aeTitles: ['A_US'] })).id;
    clinicB = (await auth.createClinic({ code: 'clinic-b', name: 'B' })).id;
    await auth.createUser({ username: 'alice', role: 'clinic', clinicId: clinicA, password: PASSWORD });
    const rad = await auth.createUser({ username: 'rita', role: 'radiologist', password: PASSWORD });
    await auth.grantClinic(rad.id, clinicB);
  });
  afterAll(async () => {
    await catalog.drop();
  });
  beforeEach(() => {
    clock = new Date();
    events.length = 0;
  });

  it('creates clinics that require DIMSE credentials unless an ae_only policy is asked for (#17)', async () => {
    const clinics = await auth.listClinics();
    expect(clinics.find((c) => c.id === clinicA)?.dimseAuth).toBe('credentials');
    const gateway = await auth.createClinic({ code: 'clinic-gw', name: 'Behind a gateway', aeTitles: ['GW_US'], dimseAuth: 'ae_only' });
    expect(gateway.dimseAuth).toBe('ae_only');
    const { rows } = await catalog.pool.query<{ dimse_auth: string }>('SELECT dimse_auth FROM clinics WHERE id = $1', [gateway.id]);
    expect(rows[0]?.dimse_auth).toBe('ae_only');
  });

  it('stores passwords only as argon2id hashes', async () => {
    const { rows } = await catalog.pool.query<{ password_hash: string }>('SELECT password_hash FROM users');
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.password_hash.startsWith('$argon2id$')).toBe(true);
      expect(row.password_hash).not.toContain(PASSWORD);
    }
  });

  it('signs in with a password, audits it, and authenticates the access token', async () => {
    const pair = await auth.signIn('Alice', PASSWORD, { sourceIp: '10.1.1.1', requestId: 'r-1' });
    expect(pair.principal).toMatchObject({ kind: 'user', username: 'alice', role: 'clinic', clinicId: clinicA, clinics: { all: false, clinicIds: [clinicA] } });
    const principal = await auth.authenticateAccessToken(pair.accessToken);
    expect(principal.userId).toBe(pair.principal.userId);
    expect(events).toEqual([expect.objectContaining({ type: 'User Authentication', outcome: 0, sourceIp: '10.1.1.1', requestId: 'r-1' })]);
    const radiologist = await auth.signIn('rita', PASSWORD);
    expect(radiologist.principal.clinics).toEqual({ all: false, clinicIds: [clinicB] });
  });

  it('refuses a wrong password and an unknown user with the same answer, and audits both', async () => {
    await expect(auth.signIn('alice', 'wrong password!!', { sourceIp: '10.1.1.2' })).rejects.toMatchObject({ status: 401, message: 'Invalid username or password' });
    await expect(auth.signIn('nobody', 'wrong password!!', { sourceIp: '10.1.1.2' })).rejects.toMatchObject({ status: 401, message: 'Invalid username or password' });
    expect(events.map((e) => [e.outcome, e.details?.reason])).toEqual([
      [4, 'bad-password'],
      [4, 'unknown-user'],
    ]);
  });

  it('rate-limits failed sign-ins per username and IP with Retry-After', async () => {
    for (let i = 0; i < 5; i += 1) await expect(auth.signIn('rita', 'wrong password!!', { sourceIp: '10.9.9.9' })).rejects.toMatchObject({ status: 401 });
    // Even the right password is not checked while limited.
    const limited = await auth.signIn('rita', PASSWORD, { sourceIp: '10.9.9.9' }).catch((e: unknown) => e);
    expect(limited).toMatchObject({ status: 429, code: 'too_many_requests' });
    expect((limited as { retryAfterSeconds: number }).retryAfterSeconds).toBeGreaterThan(800);
    expect(events[events.length - 1]).toMatchObject({ outcome: 8, details: { reason: 'rate-limited' } });
    // Another IP is not limited; the window passing lifts the limit.
    await expect(auth.signIn('rita', PASSWORD, { sourceIp: '10.9.9.10' })).resolves.toBeDefined();
    clock = new Date(Date.now() + 16 * 60 * 1000);
    await expect(auth.signIn('rita', PASSWORD, { sourceIp: '10.9.9.9' })).resolves.toBeDefined();
  });

  it('refuses expired, forged and revoked access tokens', async () => {
    const pair = await auth.signIn('alice', PASSWORD);
    clock = new Date(Date.now() + 61_000);
    await expect(auth.authenticateAccessToken(pair.accessToken)).rejects.toMatchObject({ status: 401, message: 'Access token expired' });
    clock = new Date();
    const forged = await new SignJWT({ sid: pair.principal.sessionId, ver: 1, role: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(pair.principal.userId!)
      .setIssuer('yunying')
      .setAudience('yunying')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('another-secret-another-secret-another-secret'));
    await expect(auth.authenticateAccessToken(forged)).rejects.toMatchObject({ status: 401 });
    await expect(auth.authenticateAccessToken('not.a.jwt')).rejects.toMatchObject({ status: 401 });
    await auth.signOut({ refreshToken: pair.refreshToken });
    await expect(auth.authenticateAccessToken(pair.accessToken)).rejects.toMatchObject({ status: 401, message: 'Access token revoked' });
  });

  it('refuses the access tokens of a disabled user or after a password change', async () => {
    const user = await auth.createUser({ username: 'temp', role: 'auditor', password: PASSWORD });
    const pair = await auth.signIn('temp', PASSWORD);
    await auth.updateUser(user.id, { disabled: true });
    await expect(auth.authenticateAccessToken(pair.accessToken)).rejects.toMatchObject({ status: 401 });
    await expect(auth.signIn('temp', PASSWORD)).rejects.toMatchObject({ status: 401 });
    await auth.updateUser(user.id, { disabled: false });
    const again = await auth.signIn('temp', PASSWORD);
    await auth.updateUser(user.id, { password: 'a brand new password' });
    await expect(auth.authenticateAccessToken(again.accessToken)).rejects.toMatchObject({ status: 401 });
    await expect(auth.refresh(again.refreshToken)).rejects.toMatchObject({ status: 401 });
  });

  it('rotates refresh tokens and revokes the session when a used one comes back', async () => {
    const first = await auth.signIn('alice', PASSWORD);
    const second = await auth.refresh(first.refreshToken);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    await expect(auth.authenticateAccessToken(second.accessToken)).resolves.toMatchObject({ username: 'alice' });
    // The spent token comes back (stolen): the whole session is revoked, the new tokens too.
    await expect(auth.refresh(first.refreshToken)).rejects.toMatchObject({ status: 401 });
    expect(events[events.length - 1]).toMatchObject({ type: 'Security Alert', outcome: 8, details: { reason: 'refresh-token-reuse' } });
    await expect(auth.refresh(second.refreshToken)).rejects.toMatchObject({ status: 401 });
    await expect(auth.authenticateAccessToken(second.accessToken)).rejects.toMatchObject({ status: 401 });
  });

  it('refuses expired refresh tokens and stores them hashed', async () => {
    const pair = await auth.signIn('alice', PASSWORD);
    const { rows } = await catalog.pool.query<{ token_hash: string }>('SELECT token_hash FROM refresh_tokens');
    expect(rows.some((r) => r.token_hash === pair.refreshToken)).toBe(false);
    clock = new Date(Date.now() + 3601_000);
    await expect(auth.refresh(pair.refreshToken)).rejects.toMatchObject({ status: 401 });
  });

  it('creates device API keys stored hashed, shown once, and refuses revoked, rotated and expired ones', async () => {
    const created = await auth.createApiKey({ clinicId: clinicA, name: 'us-room-1' });
    expect(created.key).toMatch(/^yy_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$/);
    const { rows } = await catalog.pool.query<Record<string, unknown>>('SELECT * FROM api_keys WHERE id = $1', [created.id]);
    // The secret is base64url and may itself hold '_': take everything after the prefix.
    expect(JSON.stringify(rows)).not.toContain(created.key.slice('yy_'.length + 9));
    const device = await auth.authenticateApiKey(created.key);
    expect(device).toMatchObject({ kind: 'device', role: 'clinic', clinicId: clinicA, apiKeyId: created.id, clinics: { all: false, clinicIds: [clinicA] } });
    await expect(auth.authenticateApiKey(created.key.slice(0, -1) + (created.key.endsWith('A') ? 'B' : 'A'))).rejects.toMatchObject({ status: 401 });

    const rotated = await auth.rotateApiKey(created.id);
    await expect(auth.authenticateApiKey(created.key)).rejects.toMatchObject({ status: 401, message: 'API key revoked' });
    await expect(auth.authenticateApiKey(rotated.key)).resolves.toMatchObject({ clinicId: clinicA });
    await auth.revokeApiKey(rotated.id);
    await expect(auth.authenticateApiKey(rotated.key)).rejects.toMatchObject({ status: 401, message: 'API key revoked' });

    const expiring = await auth.createApiKey({ clinicId: clinicB, name: 'short', expiresAt: new Date(Date.now() + 60_000) });
    await expect(auth.authenticateApiKey(expiring.key)).resolves.toBeDefined();
    clock = new Date(Date.now() + 120_000);
    await expect(auth.authenticateApiKey(expiring.key)).rejects.toMatchObject({ status: 401, message: 'API key expired' });
    // An expired key is not rotated into another key that could never work, and no key is issued already expired.
    await expect(auth.rotateApiKey(expiring.id)).rejects.toMatchObject({ status: 409, message: /expired/ });
    await expect(auth.createApiKey({ clinicId: clinicB, name: 'late', expiresAt: new Date(clock.getTime() - 1000) })).rejects.toMatchObject({ status: 400, message: /future/ });
    const keys = await auth.listApiKeys(clinicB);
    expect(keys.filter((k) => k.name === 'late')).toEqual([]);
    expect(keys.find((k) => k.id === expiring.id)?.revokedAt).toBeNull();
  });

  it('lists when each user last signed in and how many sign-ins are open, and flags accounts unused for 90 days as dormant', async () => {
    const dora = await auth.createUser({ username: 'dora', role: 'auditor', password: PASSWORD });
    const entry = async () => (await auth.listUsers()).find((u) => u.id === dora.id);
    expect(await entry()).toMatchObject({ lastSignInAt: null, openSessions: 0, dormant: false });

    const signedInAt = new Date(clock.getTime());
    const first = await auth.signIn('dora', PASSWORD);
    clock = new Date(signedInAt.getTime() + 60_000);
    const second = await auth.signIn('dora', PASSWORD);
    expect(await entry()).toMatchObject({ lastSignInAt: clock, openSessions: 2, dormant: false });
    expect('refreshToken' in first && (await auth.signOut({ refreshToken: first.refreshToken }))).toBe(true);
    expect(await entry()).toMatchObject({ lastSignInAt: clock, openSessions: 1 });

    // Three months later, nobody used it: dormant, and its sign-in has long expired. Disabled, it is no longer flagged.
    clock = new Date(signedInAt.getTime() + 91 * 86_400_000);
    expect(await entry()).toMatchObject({ openSessions: 0, dormant: true });
    expect((await auth.listUsers()).find((u) => u.username === 'alice')?.dormant).toBe(true);
    await auth.updateUser(dora.id, { disabled: true });
    expect(await entry()).toMatchObject({ disabled: true, dormant: false });
    expect('refreshToken' in second).toBe(true);
  });

  it('binds an AE title to its clinic', async () => {
    await expect(auth.principalForAeTitle('A_US ')).resolves.toMatchObject({ kind: 'device', clinicId: clinicA, username: 'ae:A_US' });
    await expect(auth.principalForAeTitle('UNKNOWN')).resolves.toBeNull();
  });

  it('registers a modality AE title for an existing clinic and removes it, each change audited (#19)', async () => {
    const context = { actor: { kind: 'user' as const, username: 'root-admin', role: 'admin' as const, clinicId: null, clinics: { all: true as const } }, sourceIp: '10.9.9.9' };
    await expect(auth.addAeTitle(clinicB, ' B_NEW_US ', context)).resolves.toEqual({ created: true });
    await expect(auth.principalForAeTitle('B_NEW_US')).resolves.toMatchObject({ kind: 'device', clinicId: clinicB });
    await expect(auth.addAeTitle(clinicB, 'B_NEW_US', context)).resolves.toEqual({ created: false });
    // An AE title names one clinic: another clinic's is a conflict, and nothing changes.
    await expect(auth.addAeTitle(clinicA, 'B_NEW_US', context)).rejects.toMatchObject({ status: 409 });
    await expect(auth.principalForAeTitle('B_NEW_US')).resolves.toMatchObject({ clinicId: clinicB });
    await expect(auth.addAeTitle(clinicB, 'BAD\\AE', context)).rejects.toMatchObject({ status: 400 });
    await expect(auth.addAeTitle('00000000-0000-4000-8000-000000000000', 'NOWHERE', context)).rejects.toMatchObject({ status: 404 });
    await expect(auth.removeAeTitle(clinicA, 'B_NEW_US', context)).resolves.toBe(false);
    await expect(auth.removeAeTitle(clinicB, 'B_NEW_US', context)).resolves.toBe(true);
    await expect(auth.principalForAeTitle('B_NEW_US')).resolves.toBeNull();
    expect(events.map((e) => [e.type, e.details?.subtype, e.details?.change, e.details?.aeTitle, e.clinicId, e.sourceIp])).toEqual([
      ['Security Alert', 'Security Configuration', 'ae-title-added', 'B_NEW_US', clinicB, '10.9.9.9'],
      ['Security Alert', 'Security Configuration', 'ae-title-removed', 'B_NEW_US', clinicB, '10.9.9.9'],
    ]);
  });

  it('filters rows by the caller clinics in SQL', async () => {
    await catalog.pool.query("INSERT INTO patients (clinic_id, patient_key) VALUES ($1, 'pa'), ($2, 'pb')", [clinicA, clinicB]);
    await catalog.pool.query(
      `INSERT INTO studies (clinic_id, patient_ref, study_instance_uid, retain_until)
       SELECT p.clinic_id, p.id, '1.2.3.' || p.patient_key, now() + interval '15 years' FROM patients p`,
    );
    const alice = (await auth.signIn('alice', PASSWORD)).principal;
    const rita = (await auth.signIn('rita', PASSWORD)).principal;
    const query = async (p: typeof alice): Promise<string[]> => {
      const f = clinicFilter(p, 's.clinic_id', 2);
      const { rows } = await catalog.pool.query<{ uid: string }>(
        `SELECT s.study_instance_uid AS uid FROM studies s WHERE s.study_instance_uid LIKE $1 AND ${f.sql} ORDER BY 1`,
        ['1.2.3.%', ...f.params],
      );
      return rows.map((r) => r.uid);
    };
    expect(await query(alice)).toEqual(['1.2.3.pa']);
    expect(await query(rita)).toEqual(['1.2.3.pb']);
    expect(await query({ ...alice, clinics: { all: true } })).toEqual(['1.2.3.pa', '1.2.3.pb']);
    expect(await query({ ...alice, clinics: { all: false, clinicIds: [] } })).toEqual([]);
    // The typed form (clinicCondition in a kyselyOn query) keeps exactly the same rows.
    const typed = async (p: typeof alice): Promise<string[]> => {
      const rows = await kyselyOn(catalog.pool)
        .selectFrom('studies as s')
        .select('s.studyInstanceUid as uid')
        .where('s.studyInstanceUid', 'like', '1.2.3.%')
        .where(clinicCondition(p, 's.clinic_id'))
        .orderBy('uid')
        .execute();
      return rows.map((r) => r.uid);
    };
    expect(await typed(alice)).toEqual(['1.2.3.pa']);
    expect(await typed(rita)).toEqual(['1.2.3.pb']);
    expect(await typed({ ...alice, clinics: { all: true } })).toEqual(['1.2.3.pa', '1.2.3.pb']);
    expect(await typed({ ...alice, clinics: { all: false, clinicIds: [] } })).toEqual([]);
  });
});
