import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type JWK, type KeyLike } from 'jose';
import request from 'supertest';
import { loadConfig } from '@yunying/config';
import { createLogger } from '@yunying/core';
import { createMetricsRegistry, createServiceApp } from '@yunying/http';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import type { AuthAuditEvent } from '../auth.audit';
import { AuthService } from '../auth.service';
import { SecureRouter } from '../secure-router';
import { OidcAuthenticator, withOidc } from './oidc.authenticator';
import { OidcVerifier } from './oidc.verifier';

/**
 * OIDC access tokens against the real catalog (users, roles, grants) and a real HTTP issuer: a local
 * server publishing a discovery document and a JWKS, tokens signed with its private key (RS256), so
 * discovery, key fetching, key rotation and every claim check run as they would against Keycloak.
 */
describe('OidcAuthenticator', () => {
  let catalog: TestCatalog;
  let auth: AuthService;
  let server: http.Server;
  let issuer: string;
  let clinicA: string;
  let clinicB: string;
  const jwks: { keys: JWK[] } = { keys: [] };
  let discoveryHits = 0;
  let signingKey: KeyLike;
  let kid = 'k1';

  const token = (claims: Record<string, unknown>, opts: { iss?: string; aud?: string; exp?: string | number; key?: KeyLike; kid?: string } = {}): Promise<string> =>
    new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: opts.kid ?? kid, typ: 'at+jwt' })
      .setIssuer(opts.iss ?? issuer)
      .setAudience(opts.aud ?? 'yunying')
      .setSubject('idp-subject-1')
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? '5m')
      .sign(opts.key ?? signingKey);

  beforeAll(async () => {
    catalog = await createTestCatalog('oidc');
    auth = new AuthService({ pool: catalog.pool, tokenSecret: 'oidc-test-secret-oidc-test-secret-0123456789', accessTokenTtlSeconds: 60, refreshTokenTtlSeconds: 3600 });
    clinicA = (await auth.createClinic({ code: 'clinic-a', name: 'A' })).id;
    clinicB = (await auth.createClinic({ code: 'clinic-b', name: 'B' })).id;
    await auth.createUser({ username: 'alice', role: 'clinic', clinicId: clinicA, password: 'correct horse battery staple' });
    const rad = await auth.createUser({ username: 'rita', role: 'radiologist', password: 'correct horse battery staple' });
    await auth.grantClinic(rad.id, clinicB);
    const off = await auth.createUser({ username: 'olga', role: 'radiologist', password: 'correct horse battery staple' });
    await auth.updateUser(off.id, { disabled: true });

    const pair = await generateKeyPair('RS256');
    signingKey = pair.privateKey;
    jwks.keys = [{ ...(await exportJWK(pair.publicKey)), kid, alg: 'RS256', use: 'sig' }];
    server = http.createServer((req, res) => {
      if (req.url === '/realm/.well-known/openid-configuration') {
        discoveryHits += 1;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks`, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token` }));
        return;
      }
      if (req.url === '/realm/jwks') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(jwks));
        return;
      }
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/realm`;
  });

  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await catalog.drop();
  });

  const authenticator = (): OidcAuthenticator =>
    new OidcAuthenticator(auth, { verifier: new OidcVerifier({ issuer, audience: 'yunying' }), users: auth, usernameClaim: 'preferred_username' });

  it('maps a verified token to the existing user, with their role and clinic grants', async () => {
    const a = authenticator();
    await expect(a.authenticateAccessToken(await token({ preferred_username: 'rita' }))).resolves.toMatchObject({
      kind: 'user',
      username: 'rita',
      role: 'radiologist',
      clinics: { all: false, clinicIds: [clinicB] },
    });
    await expect(a.authenticateAccessToken(await token({ preferred_username: 'alice' }))).resolves.toMatchObject({ role: 'clinic', clinicId: clinicA });
    expect(discoveryHits).toBeGreaterThanOrEqual(1);
  });

  it('refuses unknown and disabled subjects, and tokens naming nobody', async () => {
    const a = authenticator();
    await expect(a.authenticateAccessToken(await token({ preferred_username: 'mallory' }))).rejects.toMatchObject({ code: 'unauthenticated' });
    await expect(a.authenticateAccessToken(await token({ preferred_username: 'olga' }))).rejects.toMatchObject({ code: 'unauthenticated' });
    await expect(a.authenticateAccessToken(await token({}))).rejects.toMatchObject({ code: 'unauthenticated' });
  });

  it('refuses a wrong audience, an expired token and a token signed by another key', async () => {
    const a = authenticator();
    await expect(a.authenticateAccessToken(await token({ preferred_username: 'rita' }, { aud: 'someone-else' }))).rejects.toMatchObject({ code: 'unauthenticated' });
    await expect(a.authenticateAccessToken(await token({ preferred_username: 'rita' }, { exp: Math.floor(Date.now() / 1000) - 120 }))).rejects.toMatchObject({
      code: 'unauthenticated',
      message: 'Access token expired',
    });
    const stranger = await generateKeyPair('RS256');
    await expect(a.authenticateAccessToken(await token({ preferred_username: 'rita' }, { key: stranger.privateKey }))).rejects.toMatchObject({ code: 'unauthenticated' });
  });

  it('allows the configured clock skew past expiry and no more (OIDC_CLOCK_TOLERANCE_SECONDS, default 30 s)', async () => {
    const secret = 'oidc-test-secret-oidc-test-secret-0123456789';
    const expiredAgo = async (seconds: number): Promise<string> => token({ preferred_username: 'rita' }, { exp: Math.floor(Date.now() / 1000) - seconds });
    const lenient = withOidc(auth, loadConfig({ AUTH_TOKEN_SECRET: secret, OIDC_ISSUER: issuer }));
    const strict = withOidc(auth, loadConfig({ AUTH_TOKEN_SECRET: secret, OIDC_ISSUER: issuer, OIDC_CLOCK_TOLERANCE_SECONDS: '5' }));
    await expect(lenient.authenticateAccessToken(await expiredAgo(15))).resolves.toMatchObject({ username: 'rita' });
    await expect(lenient.authenticateAccessToken(await expiredAgo(45))).rejects.toMatchObject({ code: 'unauthenticated', message: 'Access token expired' });
    await expect(strict.authenticateAccessToken(await expiredAgo(15))).rejects.toMatchObject({ code: 'unauthenticated', message: 'Access token expired' });
    await expect(strict.authenticateAccessToken(await expiredAgo(1))).resolves.toMatchObject({ username: 'rita' });
  });

  it('refuses an HS256 token that claims the issuer (no symmetric algorithms)', async () => {
    const forged = await new SignJWT({ preferred_username: 'rita' })
      .setProtectedHeader({ alg: 'HS256', kid })
      .setIssuer(issuer)
      .setAudience('yunying')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('x'.repeat(32)));
    await expect(authenticator().authenticateAccessToken(forged)).rejects.toMatchObject({ code: 'unauthenticated' });
  });

  it('follows key rotation: a new kid is fetched from the JWKS without a restart', async () => {
    const a = new OidcAuthenticator(auth, { verifier: new OidcVerifier({ issuer, audience: 'yunying', keyRefetchCooldownMs: 0 }), users: auth, usernameClaim: 'preferred_username' });
    await expect(a.authenticateAccessToken(await token({ preferred_username: 'alice' }))).resolves.toMatchObject({ username: 'alice' });
    const next = await generateKeyPair('RS256');
    kid = 'k2';
    jwks.keys = [{ ...(await exportJWK(next.publicKey)), kid, alg: 'RS256', use: 'sig' }];
    signingKey = next.privateKey;
    await expect(a.authenticateAccessToken(await token({ preferred_username: 'alice' }))).resolves.toMatchObject({ username: 'alice' });
  });

  it('leaves Yunying’s own tokens and other issuers’ tokens to the wrapped authenticator', async () => {
    const a = authenticator();
    const pair = await auth.signIn('alice', 'correct horse battery staple');
    await expect(a.authenticateAccessToken(pair.accessToken)).resolves.toMatchObject({ username: 'alice', sessionId: pair.principal.sessionId });
    await expect(a.authenticateAccessToken(await token({ preferred_username: 'rita' }, { iss: 'https://other.example' }))).rejects.toMatchObject({ code: 'unauthenticated' });
  });

  it('with a second factor required, accepts a privileged user only when the provider shows one (amr/acr), and audits the refusal', async () => {
    const events: AuthAuditEvent[] = [];
    const secret = 'oidc-test-secret-oidc-test-secret-0123456789';
    const config = loadConfig({ AUTH_TOKEN_SECRET: secret, OIDC_ISSUER: issuer, AUTH_SECOND_FACTOR: 'privileged', OIDC_SECOND_FACTOR_ACR: 'urn:idp:loa:mfa' });
    const audited = new AuthService({ pool: catalog.pool, tokenSecret: secret, accessTokenTtlSeconds: 60, refreshTokenTtlSeconds: 3600, audit: { append: (e) => Promise.resolve(events.push(e)) } });
    // The wiring the services use (withOidc from the configuration), behind the real middleware and problem+json.
    const routes = new SecureRouter('oidc-test.router', withOidc(audited, config));
    routes.get('/api/whoami', { scope: 'clinic-data', roles: ['clinic', 'radiologist'] }, (req, res) => {
      res.json({ user: req.principal.username });
    });
    const app = createServiceApp({ service: 'test', logger: createLogger({ level: 'silent', service: 'test' }), metrics: createMetricsRegistry(), readiness: [], routes: [routes.router] });
    const get = async (claims: Record<string, unknown>): Promise<request.Response> => request(app).get('/api/whoami').set('Authorization', `Bearer ${await token(claims)}`);

    const bare = await get({ preferred_username: 'rita', amr: ['pwd'] });
    expect(bare.status).toBe(401);
    expect(bare.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(bare.body).toMatchObject({ error: 'insufficient_user_authentication', secondFactorRequired: true, detail: expect.stringMatching(/radiologist must sign in with a second factor/) });
    expect((await get({ preferred_username: 'rita' })).status).toBe(401);
    expect((await get({ preferred_username: 'rita', acr: 'urn:idp:loa:low' })).status).toBe(401);
    expect((await get({ preferred_username: 'rita', amr: ['pwd', 'otp'] })).body).toEqual({ user: 'rita' });
    expect((await get({ preferred_username: 'rita', amr: ['hwk'] })).body).toEqual({ user: 'rita' });
    expect((await get({ preferred_username: 'rita', acr: 'urn:idp:loa:mfa' })).body).toEqual({ user: 'rita' });
    // Roles outside the requirement are not asked for one.
    expect((await get({ preferred_username: 'alice', amr: ['pwd'] })).body).toEqual({ user: 'alice' });

    const refusals = events.filter((e) => e.details?.reason === 'oidc-second-factor-missing');
    expect(refusals).toHaveLength(3);
    expect(refusals[0]).toMatchObject({ type: 'User Authentication', outcome: 4, actor: { username: 'rita', role: 'radiologist' }, details: { subtype: 'Login', method: 'oidc' } });
    expect(refusals[0]?.sourceIp).toMatch(/127\.0\.0\.1/);
    // Audited once, as the sign-in it is, not again as a bad credential.
    expect(events.filter((e) => e.type === 'Security Alert')).toHaveLength(0);
    expect(JSON.stringify(events)).not.toContain('eyJ');

    // Without the requirement (the development default) the same token passes, as before.
    const optional = withOidc(audited, loadConfig({ AUTH_TOKEN_SECRET: secret, OIDC_ISSUER: issuer }));
    await expect(optional.authenticateAccessToken(await token({ preferred_username: 'rita' }))).resolves.toMatchObject({ username: 'rita' });
  });

  it('answers 503-class unavailable when the issuer cannot be discovered', async () => {
    const broken = new OidcAuthenticator(auth, { verifier: new OidcVerifier({ issuer: `${issuer}/missing`, audience: 'yunying' }), users: auth, usernameClaim: 'preferred_username' });
    const t = await token({ preferred_username: 'rita' }, { iss: `${issuer}/missing` });
    await expect(broken.authenticateAccessToken(t)).rejects.toMatchObject({ code: 'unavailable' });
  });
});
