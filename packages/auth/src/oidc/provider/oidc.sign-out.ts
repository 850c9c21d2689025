import type { Request, Response } from 'express';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWK } from 'jose';
import type Provider from 'oidc-provider' with { 'resolution-mode': 'import' };
import type { KoaContextWithOIDC } from 'oidc-provider' with { 'resolution-mode': 'import' };
import { assertSameOrigin, readCookie } from '../../middleware';
import { YUNYING_SESSION_CLAIM } from '../oidc.authenticator';
import { escapeHtml } from './html';

/**
 * Sign-out through the embedded provider as OHIF (oidc-client-ts) does it, which the library's defaults
 * broke (#15): on sign-out the client revokes its access token, then its refresh token (RFC 7009), then
 * sends the browser to end_session with the page it was on as post_logout_redirect_uri.
 */

/** The private members of an RSA/EC JWK; what is left is the public key. */
const PRIVATE_MEMBERS = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']);

export function publicJwk(key: JWK): JWK {
  return Object.fromEntries(Object.entries(key).filter(([name]) => !PRIVATE_MEMBERS.has(name))) as JWK;
}

export interface AccessTokenRevocationOptions {
  issuer: string;
  audience: string;
  keys: JWK[];
  endSession: (sessionId: string) => Promise<void>;
}

/**
 * RFC 7009 revocation as browser clients (oidc-client-ts in OHIF) need it; each gap below made OHIF's
 * sign-out fail before it reached end_session, so the user stayed signed in (the refresh token, the
 * Yunying session and the provider's session all alive):
 *
 * - oidc-provider answers `400 unsupported_token_type` for its own structured (JWT) access tokens. An
 *   access token this provider signed for the calling client is now revoked the way the library revokes an
 *   opaque one, by ending its whole sign-in: its Yunying session, against which every use of its tokens and
 *   of its grant is checked. Other JWTs are invalid tokens, answered 200 (RFC 7009 2.2).
 * - The library's 200 has an empty body typed `text/plain` (Koa's default for a string), and
 *   oidc-client-ts refuses any answer that is not JSON. An empty body has no media type: none is sent.
 */
export function revocationForBrowserClients(provider: Provider, options: AccessTokenRevocationOptions): void {
  const keySet = createLocalJWKSet({ keys: options.keys.map(publicJwk) });
  provider.use(async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
    await next();
    if (ctx.oidc?.route !== 'revocation') return;
    // After client authentication (ctx.oidc.client) and the library's refusal of a structured token.
    const token = ctx.oidc.params?.token;
    if (ctx.status === 400 && ctx.oidc.client !== undefined && typeof token === 'string' && isJwt(token)) {
      const claims = await jwtVerify(token, keySet, { issuer: options.issuer, audience: options.audience, typ: 'at+jwt' }).then(
        (verified) => verified.payload,
        () => null,
      );
      // A client revokes only its own tokens (RFC 7009 2.1); others' are invalid tokens, answered 200 all the same.
      const sessionId = claims?.[YUNYING_SESSION_CLAIM];
      if (claims?.client_id === ctx.oidc.client.clientId && typeof sessionId === 'string') await options.endSession(sessionId);
      ctx.status = 200;
      ctx.body = '';
    }
    if (ctx.status === 200 && ctx.body === '') ctx.remove('Content-Type');
  });
}

/**
 * Post-logout redirects anywhere within a registered post_logout_redirect_uri's origin. OHIF sends the
 * page the user was on (e.g. /viewer?StudyInstanceUIDs=...), which no exact registration can list; the
 * library refused it ("post_logout_redirect_uri not registered") and the sign-out ended on an error page.
 * The origin is the operator's registration (OIDC_CLIENTS), so this is no open redirect.
 */
export function allowPostLogoutRedirectsWithinRegisteredOrigins(provider: Provider): void {
  const prototype = provider.Client.prototype;
  // The library's exact match, kept and called on the client it is asked about.
  const exact = Object.getOwnPropertyDescriptor(prototype, 'postLogoutRedirectUriAllowed')?.value as (this: typeof prototype, value: string) => boolean;
  prototype.postLogoutRedirectUriAllowed = function postLogoutRedirectUriAllowed(value: string): boolean {
    if (exact.call(this, value)) return true;
    const origin = originOf(value);
    return origin !== null && (this.postLogoutRedirectUris ?? []).some((registered) => originOf(registered) === origin);
  };
}

function isJwt(token: string): boolean {
  try {
    return typeof decodeProtectedHeader(token).alg === 'string';
  } catch {
    return false;
  }
}

function originOf(url: string): string | null {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.origin : null;
  } catch {
    return null;
  }
}

/** The end-session confirmation: plain HTML like the login page (the library's default loads a web font and inline style, which the CSP refuses). */
export function logoutPage(host: string, form: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign out - Yunying</title></head>
<body>
<main>
<h1>Yunying</h1>
<p>Sign out of Yunying at <strong>${escapeHtml(host)}</strong>?</p>
${form}
<button type="submit" form="op.logoutForm" value="yes" name="logout" autofocus>Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>
</main>
</body></html>
`;
}

export type BrowserExchange = { req: Request; res: Response };

/**
 * The web app's sign-out as a single logout of the browser (#15): the web app and the provider's login
 * each start their own Yunying session, so signing out of the web app alone left OHIF signed in, in the
 * same browser. The provider's session cookie (`_session`, Path=/, signed with the provider's cookie keys)
 * is sent to the web app's sign-out because the embedded issuer is on the web app's origin (<viewer>/oidc).
 *
 * Read here rather than linking the two sign-ins into one Yunying session, which would change sign-in,
 * refresh and the session list: the provider's own Session model reads and verifies the cookie, and what is
 * ended is exactly what end_session ends (helpers/revoke.js): each grant of that browser session with its
 * tokens, and the session. Destroying a grant ends the Yunying session it was issued under (GrantAdapter),
 * so OHIF's refresh is invalid_grant and its access token is refused at once. Sign-ins of the same user on
 * other devices have other provider sessions and are left alone (the session list revokes them).
 */
export async function endProviderSessionOfBrowser(provider: Provider, { req, res }: BrowserExchange): Promise<number> {
  const cookie = provider.cookieName('session');
  if (readCookie(req, cookie) === undefined) return 0;
  // A cookie the browser sends on its own ends a sign-in: only from our own pages, like the refresh cookie.
  assertSameOrigin(req);
  const ctx = provider.createContext(req, res);
  const session = await provider.Session.get(ctx);
  // No cookie, a forged one, or a session already ended: nothing of this browser's to end.
  if (session.accountId === undefined) return 0;
  const grantIds = Object.values(session.authorizations ?? {}).flatMap((authorization) => (authorization.grantId === undefined ? [] : [authorization.grantId]));
  for (const grantId of grantIds) {
    await Promise.all([provider.AccessToken, provider.RefreshToken, provider.AuthorizationCode].map((model) => model.revokeByGrantId(grantId)));
    await provider.Grant.adapter.destroy(grantId);
  }
  await session.destroy();
  // The cookie now names nothing; cleared so the browser stops sending it.
  const cookieOptions = { path: '/', httpOnly: true, sameSite: 'lax' as const };
  ctx.cookies.set(cookie, null, { ...cookieOptions, signed: true });
  return grantIds.length;
}
