import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { importJWK, SignJWT, type JWK } from 'jose';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { loadConfig, type Config } from '@yunying/config';
import { createLogger } from '@yunying/core';
import { createMetricsRegistry, createServiceApp } from '@yunying/http';
import { createAuthRouter } from '../../auth.route';
import { AuthService } from '../../auth.service';
import type { Authenticator } from '../../middleware';
import { withOidc } from '../oidc.authenticator';
import { createOidcRouter } from './oidc.route';

/**
 * The embedded OIDC provider over real HTTP, as a browser app (OHIF) uses it: discovery, the authorization
 * code flow with PKCE through Yunying's login page, the token endpoint, a refresh, revocation. Its access
 * tokens are checked by the same authenticator that accepts an external issuer's (withOidc), against the
 * real catalog. The client here is fetch with a small cookie jar and redirects followed by hand.
 */
const CLIENT_ID = 'ohif';
const REDIRECT_URI = 'http://127.0.0.1:1/callback';
const PASSWORD = 'correct horse battery staple';

/** RFC 6238 (SHA-1, 6 digits, 30 s) written out here, independent of the library the server uses. */
function totpAt(base32: string, at: Date): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at.getTime() / 30_000)));
  const mac = crypto.createHmac('sha1', key).update(counter).digest();
  const offset = (mac[mac.length - 1] ?? 0) & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

class Browser {
  private readonly cookies = new Map<string, string>();

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (pair === undefined || eq < 0) continue;
      const value = pair.slice(eq + 1);
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(pair.slice(0, eq));
      else this.cookies.set(pair.slice(0, eq), value);
    }
    return res;
  }

  /** Follows redirects within the issuer; stops at the first one leaving it (the client's redirect URI). */
  async follow(url: string, issuerOrigin: string, init: RequestInit = {}): Promise<Response> {
    let res = await this.request(url, init);
    let location = res.headers.get('location');
    while (res.status >= 300 && res.status < 400 && location !== null) {
      const next = new URL(location, url);
      if (next.origin !== issuerOrigin) return res;
      url = next.href;
      res = await this.request(url);
      location = res.headers.get('location');
    }
    return res;
  }
}

describe('embedded OIDC provider', () => {
  let catalog: TestCatalog;
  let auth: AuthService;
  let server: http.Server;
  let base: string;
  let issuer: string;
  let config: Config;
  let dataDir: string;
  let authenticator: Authenticator;
  let close: () => void;
  let clinicB: string;
  // The sign-in clock, 10 s into a TOTP step, so codes of the steps around it are known to be in the window.
  const clock = new Date(Math.floor(Date.now() / 30_000) * 30_000 + 10_000);
  // The pages a sign-in showed after the code and before the client (see signIn).
  const notices: string[] = [];

  beforeAll(async () => {
    catalog = await createTestCatalog('oidcp');
    // Auditors and admins need a second factor here (#17); radiologists not, so the other cases stay one step.
    auth = new AuthService({
      pool: catalog.pool,
      tokenSecret: 'oidc-provider-test-secret-0123456789abcdef',
      accessTokenTtlSeconds: 300,
      refreshTokenTtlSeconds: 3600,
      secondFactorRoles: ['auditor', 'admin'],
      now: () => clock,
    });
    const clinicA = (await auth.createClinic({ code: 'clinic-a', name: 'A' })).id;
    clinicB = (await auth.createClinic({ code: 'clinic-b', name: 'B' })).id;
    await auth.createUser({ username: 'alice', role: 'clinic', clinicId: clinicA, password: PASSWORD });
    const rita = await auth.createUser({ username: 'rita', role: 'radiologist', password: PASSWORD });
    await auth.grantClinic(rita.id, clinicB);
    await auth.createUser({ username: 'otto', role: 'auditor', password: PASSWORD });

    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-oidc-'));
    // The issuer must be known before the provider exists: take a port first, then serve on it.
    server = http.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    config = loadConfig({
      NODE_ENV: 'test',
      DATA_DIR: dataDir,
      AUTH_TOKEN_SECRET: 'oidc-provider-test-secret-0123456789abcdef',
      ACCESS_TOKEN_TTL_SECONDS: '300',
      REFRESH_TOKEN_TTL_SECONDS: '3600',
      PUBLIC_VIEWER_URL: base,
      OIDC_CLIENTS: JSON.stringify([{ client_id: CLIENT_ID, redirect_uris: [REDIRECT_URI], post_logout_redirect_uris: ['http://127.0.0.1:1/'] }]),
    });
    issuer = config.auth.oidc?.issuer ?? '';
    const logger = createLogger({ level: 'silent', service: 'viewer' });
    const oidc = await createOidcRouter({ config, pool: catalog.pool, auth, logger });
    close = oidc.close;
    // The web app's auth routes as the viewer service mounts them next to the provider (one origin).
    const webApp = createAuthRouter(auth, { alsoSignOutBrowser: (exchange) => oidc.oidc.endBrowserSession(exchange) });
    const app = createServiceApp({ service: 'viewer', logger, metrics: createMetricsRegistry(), readiness: [], routes: [oidc.router, webApp.router] });
    server.on('request', app);
    authenticator = withOidc(auth, config);
  });

  afterAll(async () => {
    close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await catalog.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** The authorization code flow with PKCE (RFC 7636, S256) up to the token response. */
  async function signIn(
    username: string,
    password: string = PASSWORD,
    /** Answers a one-time code page (its HTML and status) with the code to post. */
    codeStep?: (html: string, status: number) => string,
    /** The browser (its cookies) signing in; a fresh one by default. */
    browser: Browser = new Browser(),
  ): Promise<{ access_token: string; refresh_token: string; id_token: string }> {
    const verifier = crypto.randomBytes(32).toString('base64url');
    const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
    const state = crypto.randomBytes(8).toString('hex');
    const params = new URLSearchParams({ client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid profile', state, code_challenge: challenge, code_challenge_method: 'S256' });
    const page = await browser.follow(`${issuer}/auth?${params.toString()}`, base);
    expect(page.status).toBe(200);
    const html = await page.text();
    const action = /action="([^"]+)"/.exec(html)?.[1];
    if (action === undefined) throw new Error('no login form');
    expect(html).toContain(CLIENT_ID);
    const post = (fields: Record<string, string>): Promise<Response> =>
      browser.follow(new URL(action.replace(/&#47;/g, '/'), base).href, base, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields).toString(),
      });
    let back = await post({ username, password });
    // The code step: the same form action, the challenge from the page, the code (no password again).
    let shownPage: string | null = null;
    while (back.status !== 303 && back.status !== 302 && codeStep !== undefined) {
      shownPage = await back.text();
      const challengeField = /name="challenge" value="([^"]+)"/.exec(shownPage)?.[1];
      if (challengeField === undefined) break;
      back = await post({ challenge: challengeField, totp: codeStep(shownPage, back.status) });
      shownPage = null;
    }
    if (back.status === 401) throw Object.assign(new Error('login refused'), { status: 401 });
    // A page to read once (new recovery codes, or how many are left): a plain link goes on to the client.
    if (back.status === 200) {
      const notice = shownPage ?? (await back.text());
      notices.push(notice);
      const onward = /href="([^"]+)" data-testid="continue"/.exec(notice)?.[1];
      if (onward === undefined) throw new Error('a page with neither a code form nor a way on');
      back = await browser.follow(new URL(onward.replace(/&amp;/g, '&').replace(/&#47;/g, '/'), base).href, base);
    }
    const location = new URL(back.headers.get('location') ?? '');
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
    expect(location.searchParams.get('state')).toBe(state);
    const code = location.searchParams.get('code') ?? '';
    const tokens = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, client_id: CLIENT_ID, code_verifier: verifier }).toString(),
    });
    expect(tokens.status).toBe(200);
    return (await tokens.json()) as { access_token: string; refresh_token: string; id_token: string };
  }

  async function refresh(refreshToken: string): Promise<Response> {
    return fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: CLIENT_ID }).toString(),
    });
  }

  it('publishes a discovery document for the code flow with PKCE, and its keys', async () => {
    const res = await fetch(`${issuer}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Record<string, unknown>;
    expect(doc).toMatchObject({ issuer, response_types_supported: ['code'], code_challenge_methods_supported: ['S256'] });
    expect(doc.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token']));
    expect(doc.end_session_endpoint).toBe(`${issuer}/session/end`);
    const jwks = (await (await fetch(String(doc.jwks_uri))).json()) as { keys: JWK[] };
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256' });
    expect(jwks.keys[0]?.d).toBeUndefined();
    // Generated at first start, kept with the other local secrets, owner-only.
    expect(fs.statSync(path.join(dataDir, 'secrets', 'oidc-provider.jwks.json')).mode & 0o777).toBe(0o600);
  });

  it('signs a user in with code + PKCE; the access token maps to their role and clinic grants; a refresh works', async () => {
    const tokens = await signIn('rita');
    expect(tokens.refresh_token).toEqual(expect.any(String));
    await expect(authenticator.authenticateAccessToken(tokens.access_token)).resolves.toMatchObject({
      kind: 'user',
      username: 'rita',
      role: 'radiologist',
      clinics: { all: false, clinicIds: [clinicB] },
    });
    const res = await refresh(tokens.refresh_token);
    expect(res.status).toBe(200);
    const next = (await res.json()) as { access_token: string; refresh_token: string };
    expect(next.refresh_token).not.toBe(tokens.refresh_token);
    await expect(authenticator.authenticateAccessToken(next.access_token)).resolves.toMatchObject({ username: 'rita', role: 'radiologist' });
    // A rotated refresh token presented again is reuse: refused, and the sign-in ends.
    expect((await refresh(tokens.refresh_token)).status).toBe(400);
    await expect(authenticator.authenticateAccessToken(next.access_token)).rejects.toMatchObject({ code: 'unauthenticated' });
  });

  it('refuses a wrong password and an unknown user at the login page, and a token for an unknown subject', async () => {
    await expect(signIn('rita', 'not the password')).rejects.toMatchObject({ status: 401 });
    await expect(signIn('mallory')).rejects.toMatchObject({ status: 401 });
    // Even signed with the provider's own key, a subject Yunying does not know is refused.
    const file = JSON.parse(fs.readFileSync(path.join(dataDir, 'secrets', 'oidc-provider.jwks.json'), 'utf8')) as { keys: JWK[] };
    const jwk = file.keys[0] as JWK;
    const forged = await new SignJWT({ preferred_username: 'mallory', yunying_sid: crypto.randomUUID() })
      .setProtectedHeader({ alg: 'RS256', kid: jwk.kid ?? '', typ: 'at+jwt' })
      .setIssuer(issuer)
      .setAudience('yunying')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(await importJWK(jwk, 'RS256'));
    await expect(authenticator.authenticateAccessToken(forged)).rejects.toMatchObject({ code: 'unauthenticated', message: 'No Yunying user for this identity' });
  });

  it('asks an auditor to set up a one-time code generator at the login page, then for a code each time (#17)', async () => {
    const pages: { html: string; status: number }[] = [];
    let secret = '';
    const enrolled = await signIn('otto', PASSWORD, (html, status) => {
      pages.push({ html, status });
      secret = /data-testid="totp-secret">([A-Z2-7 ]+)</.exec(html)?.[1]?.replace(/ /g, '') ?? secret;
      // First a wrong code (the page says so and keeps the key), then the current one.
      return totpAt(secret, new Date(clock.getTime() - (pages.length === 1 ? 300_000 : 30_000)));
    });
    expect(pages.map((p) => p.status)).toEqual([200, 401]);
    expect(pages[0]?.html).toContain('Set up a one-time code generator');
    expect(pages[0]?.html).toContain('href="otpauth://totp/Yunying:otto?secret=');
    expect(pages[0]?.html).not.toContain('name="password"');
    expect(pages[1]?.html).toContain('Invalid one-time code.');
    expect(pages[1]?.html).toContain('data-testid="totp-secret"');
    await expect(authenticator.authenticateAccessToken(enrolled.access_token)).resolves.toMatchObject({ username: 'otto', role: 'auditor' });
    // The recovery codes made with the generator were shown once, on their own page, before the client got its code.
    const shown = [...(notices.at(-1) ?? '').matchAll(/<li><code>([0-9a-z]{5}-[0-9a-z]{5})<\/code><\/li>/g)].map((m) => m[1] ?? '');
    expect(shown).toHaveLength(10);

    // Enrolled: the password page leads to a code page without a key; the confirming code is not accepted again.
    const later: string[] = [];
    const codes = [totpAt(secret, new Date(clock.getTime() - 30_000)), totpAt(secret, clock)];
    await signIn('otto', PASSWORD, (html) => {
      later.push(html);
      return codes[later.length - 1] ?? '';
    });
    expect(later).toHaveLength(2);
    expect(later[0]).not.toContain('totp-secret');
    expect(later[1]).toContain('Invalid one-time code.');

    // A lost phone: a recovery code at the same page signs in, and the page before the client says how many are left.
    const noticesBefore = notices.length;
    const recovered = await signIn('otto', PASSWORD, () => shown[0] ?? '');
    await expect(authenticator.authenticateAccessToken(recovered.access_token)).resolves.toMatchObject({ username: 'otto' });
    expect(notices.length).toBe(noticesBefore + 1);
    expect(notices.at(-1)).toMatch(/data-testid="recovery-codes-left">You signed in with a recovery code\. 9 left\./);
  });

  it('sign-out revokes: Yunying sign-out ends the OIDC tokens, OIDC revocation ends the Yunying session', async () => {
    const first = await signIn('alice');
    const principal = await authenticator.authenticateAccessToken(first.access_token);
    await auth.signOut({ sessionId: principal.sessionId ?? '' });
    await expect(authenticator.authenticateAccessToken(first.access_token)).rejects.toMatchObject({ code: 'unauthenticated', message: 'Access token revoked' });
    expect((await refresh(first.refresh_token)).status).toBe(400);

    const second = await signIn('alice');
    const sessionId = (await authenticator.authenticateAccessToken(second.access_token)).sessionId ?? '';
    const revoked = await fetch(`${issuer}/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: second.refresh_token, token_type_hint: 'refresh_token', client_id: CLIENT_ID }).toString(),
    });
    expect(revoked.status).toBe(200);
    expect(revoked.headers.get('content-type')).toBeNull();
    expect(await auth.isSessionActive(sessionId, principal.userId ?? '')).toBe(false);
    await expect(authenticator.authenticateAccessToken(second.access_token)).rejects.toMatchObject({ code: 'unauthenticated' });
  });

  it('revokes its own JWT access token as OHIF does on sign-out (RFC 7009): 200, and the sign-in ends', async () => {
    const revoke = (token: string): Promise<Response> =>
      fetch(`${issuer}/token/revocation`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token', client_id: CLIENT_ID }).toString(),
      });
    const tokens = await signIn('rita');
    // A JWT signed by another key: "invalid", answered 200 (RFC 7009 2.2), and nothing ends.
    const { privateKey } = await import('jose').then((jose) => jose.generateKeyPair('RS256'));
    const forged = await new SignJWT({ client_id: CLIENT_ID, yunying_sid: 'x' }).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt' }).setIssuer(issuer).setAudience('yunying').sign(privateKey);
    expect((await revoke(forged)).status).toBe(200);
    await expect(authenticator.authenticateAccessToken(tokens.access_token)).resolves.toMatchObject({ username: 'rita' });

    const res = await revoke(tokens.access_token);
    expect(res.status).toBe(200);
    // oidc-client-ts refuses an answer typed other than JSON; an empty one has no type at all.
    expect(res.headers.get('content-type')).toBeNull();
    await expect(authenticator.authenticateAccessToken(tokens.access_token)).rejects.toMatchObject({ code: 'unauthenticated', message: 'Access token revoked' });
    expect((await refresh(tokens.refresh_token)).status).toBe(400);
  });

  it('accepts a post-logout redirect anywhere within a registered origin (OHIF sends the page it was on), no other origin', async () => {
    const { id_token } = await signIn('rita');
    const endSession = (uri: string): Promise<Response> =>
      fetch(`${issuer}/session/end?${new URLSearchParams({ id_token_hint: id_token, post_logout_redirect_uri: uri }).toString()}`, { redirect: 'manual' });
    expect((await endSession('http://127.0.0.1:1/viewer?StudyInstanceUIDs=1.2.3')).status).toBe(200);
    const foreign = await endSession('http://127.0.0.1:2/');
    expect(foreign.status).toBe(400);
    expect(await foreign.text()).toContain('post_logout_redirect_uri not registered');
  });

  it("signs the browser out of OHIF too when it signs out of the web app; the user's other devices stay signed in (#15)", async () => {
    const browser = new Browser();
    const webSignIn = await browser.request(`${base}/api/auth/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'rita', password: PASSWORD, client: 'browser' }),
    });
    expect(webSignIn.status).toBe(200);
    // OHIF in the same browser, and on another device.
    const ohif = await signIn('rita', PASSWORD, undefined, browser);
    const otherDevice = await signIn('rita');
    const ohifSession = (await authenticator.authenticateAccessToken(ohif.access_token)).sessionId ?? '';

    // A page of another origin cannot end the browser's sign-in with its cookies.
    const crossSite = await browser.request(`${base}/api/auth/sign-out`, { method: 'POST', headers: { origin: 'http://127.0.0.1:1' } });
    expect(crossSite.status).toBe(403);
    await expect(authenticator.authenticateAccessToken(ohif.access_token)).resolves.toMatchObject({ username: 'rita' });

    const signOut = await browser.request(`${base}/api/auth/sign-out`, { method: 'POST', headers: { origin: base } });
    expect(signOut.status).toBe(204);
    // OHIF's access token is refused, its refresh token is gone, its Yunying session ended.
    await expect(authenticator.authenticateAccessToken(ohif.access_token)).rejects.toMatchObject({ code: 'unauthenticated' });
    const refused = await refresh(ohif.refresh_token);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toBe('invalid_grant');
    const { rowCount } = await catalog.pool.query("SELECT 1 FROM oidc_payloads WHERE model IN ('RefreshToken', 'Grant', 'Session') AND grant_id IN (SELECT grant_id FROM oidc_grant_sessions WHERE session_id = $1)", [ohifSession]);
    expect(rowCount).toBe(0);
    // Reopening OHIF in that browser asks for a sign-in again instead of handing out a code.
    const params = new URLSearchParams({ client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid', state: 's', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' });
    const reopened = await browser.follow(`${issuer}/auth?${params.toString()}`, base);
    expect(reopened.status).toBe(200);
    expect(await reopened.text()).toContain('name="password"');
    // The same user's sign-in on another device is not this browser's: it still refreshes.
    await expect(authenticator.authenticateAccessToken(otherDevice.access_token)).resolves.toMatchObject({ username: 'rita' });
    expect((await refresh(otherDevice.refresh_token)).status).toBe(200);
  });
});
