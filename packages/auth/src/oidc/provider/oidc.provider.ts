import type { JWK } from 'jose';
import type { Pool } from '@yunying/catalog';
import type { OidcClientSetting } from '@yunying/config';
import type { Logger } from '@yunying/core';
import type Provider from 'oidc-provider' with { 'resolution-mode': 'import' };
import type { Account, ClientMetadata, Configuration, KoaContextWithOIDC } from 'oidc-provider' with { 'resolution-mode': 'import' };
import type { AuthService } from '../../auth.service';
import { YUNYING_SESSION_CLAIM } from '../oidc.authenticator';
import { PostgresOidcAdapter } from './oidc.adapter';
import { GrantSessions } from './grant-sessions.repository';
import { escapeHtml } from './html';
import { allowPostLogoutRedirectsWithinRegisteredOrigins, endProviderSessionOfBrowser, logoutPage, revocationForBrowserClients, type BrowserExchange } from './oidc.sign-out';

/**
 * Yunying's embedded OpenID Connect provider (OpenID Connect Core 1.0, OAuth 2.0 RFC 6749 with PKCE RFC
 * 7636, Discovery 1.0, RP-Initiated Logout 1.0, Token Revocation RFC 7009, Resource Indicators RFC 8707,
 * JWT access tokens RFC 9068), built on `oidc-provider`. What it adds to the library is only the binding
 * to Yunying's users:
 *
 * - Who signs in is decided by AuthService.signIn (passwords, rate limits, audit) in the login interaction
 *   (oidc.route.ts); every grant is linked to the Yunying session that sign-in started (GrantSessions).
 * - Access tokens are JWTs for one resource (Yunying's API, audience OIDC_AUDIENCE) carrying the username
 *   claim and the session id, so the ordinary issuer-token verification (OidcAuthenticator) accepts them.
 * - The Yunying session is the one truth of "signed in": a refresh, a new code or a token use on a
 *   revoked or expired session is refused, and revoking a grant (logout, revocation) revokes the session.
 *
 * Left out: dynamic client registration, implicit and hybrid flows, client secrets (clients are browser
 * apps: public, PKCE required), consent screens (clients are registered by the operator).
 */
export interface EmbeddedOidcOptions {
  issuer: string;
  /** `aud` of the access tokens (OIDC_AUDIENCE), what OidcAuthenticator checks. */
  audience: string;
  /** Claim naming the Yunying user in access tokens (OIDC_USERNAME_CLAIM). */
  usernameClaim: string;
  clients: readonly OidcClientSetting[];
  keys: { keys: JWK[] };
  /** Keys of the provider's signed cookies (derived from AUTH_TOKEN_SECRET). */
  cookieKeys: string[];
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** Whether X-Forwarded-Proto/-Host are believed (TRUSTED_PROXIES set). */
  trustProxy: boolean;
  pool: Pool;
  auth: AuthService;
  logger: Logger;
}

/** Scopes a client may ask for: identity, and offline_access (refresh tokens are issued regardless). */
export const OIDC_SCOPES = ['openid', 'profile', 'offline_access'] as const;
/** The one resource server access tokens are issued for: Yunying's DICOMweb and API. */
const API_SCOPE = 'yunying';

export interface EmbeddedOidc {
  provider: Provider;
  /** The resource indicator (RFC 8707) of Yunying's API; grants are given its scope. */
  resource: string;
  grantSessions: GrantSessions;
  /** Client origins, which the login page must be allowed to redirect to (CSP form-action). */
  clientOrigins: string[];
  /** Ends the provider session of the browser making the request (its cookie), with its grants and their Yunying sessions; how many grants. */
  endBrowserSession: (exchange: BrowserExchange) => Promise<number>;
}

function clientMetadata(client: OidcClientSetting): ClientMetadata {
  return {
    client_id: client.client_id,
    redirect_uris: client.redirect_uris,
    post_logout_redirect_uris: client.post_logout_redirect_uris ?? [],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  };
}

export async function createEmbeddedOidc(options: EmbeddedOidcOptions): Promise<EmbeddedOidc> {
  // oidc-provider is an ES module and this package compiles to CommonJS: a dynamic import loads it everywhere.
  const { default: ProviderClass, errors } = await import('oidc-provider');
  const grantSessions = new GrantSessions(options.pool);
  const resource = `${options.issuer.replace(/\/oidc$/, '')}/dicomweb`;
  const { auth } = options;

  /** The live Yunying session of a grant, or null when it is revoked, expired, or the grant has none. */
  const liveSession = async (grantId: string | undefined, userId: string): Promise<string | null> => {
    if (grantId === undefined) return null;
    const sessionId = await grantSessions.sessionOf(grantId);
    return sessionId !== null && (await auth.isSessionActive(sessionId, userId)) ? sessionId : null;
  };

  const endSessionOfGrant = async (grantId: string): Promise<void> => {
    const sessionId = await grantSessions.sessionOf(grantId);
    if (sessionId !== null) await auth.signOut({ sessionId });
  };

  const configuration: Configuration = {
    // Revoking a grant (RP-initiated logout, refresh-token revocation or reuse) ends its Yunying session
    // within the revocation (the provider awaits the grant's destroy), so the response means signed out.
    adapter: (name: string) => (name === 'Grant' ? new GrantAdapter(options.pool, name, endSessionOfGrant) : new PostgresOidcAdapter(options.pool, name)),
    clients: options.clients.map(clientMetadata),
    jwks: { keys: options.keys.keys },
    cookies: { keys: options.cookieKeys },
    scopes: [...OIDC_SCOPES],
    responseTypes: ['code'],
    claims: { openid: ['sub'], profile: ['preferred_username', 'name'] },
    pkce: { required: () => true },
    ttl: {
      AccessToken: options.accessTokenTtlSeconds,
      IdToken: options.accessTokenTtlSeconds,
      AuthorizationCode: 60,
      Interaction: 600,
      RefreshToken: options.refreshTokenTtlSeconds,
      Grant: options.refreshTokenTtlSeconds,
      Session: options.refreshTokenTtlSeconds,
    },
    // Browser apps stay signed in by refreshing; the Yunying session bounds how long (REFRESH_TOKEN_TTL_SECONDS).
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    interactions: { url: (_ctx, interaction) => `${new URL(options.issuer).pathname.replace(/\/+$/, '')}/interaction/${interaction.uid}` },
    // Token, discovery and JWKS calls come cross-origin from the registered apps only.
    clientBasedCORS: (_ctx, origin, client) => client.redirectUris?.some((uri) => new URL(uri).origin === origin) ?? false,
    features: {
      devInteractions: { enabled: false },
      // A client revokes only its own tokens (RFC 7009 2.1).
      revocation: { enabled: true, allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx, form) => {
          ctx.type = 'html';
          ctx.body = logoutPage(ctx.host, form);
        },
      },
      resourceIndicators: {
        enabled: true,
        // Clients configured for DICOMweb (OHIF) do not send `resource`: Yunying's API is the default.
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => {
          if (indicator !== resource) throw new errors.InvalidTarget();
          return { scope: API_SCOPE, audience: options.audience, accessTokenFormat: 'jwt', accessTokenTTL: options.accessTokenTtlSeconds, jwt: { sign: { alg: 'RS256' } } };
        },
      },
    },
    findAccount: async (_ctx: KoaContextWithOIDC, sub: string, token?: { grantId?: string }): Promise<Account | undefined> => {
      const user = await auth.getUser(sub).catch(() => null);
      if (user === null || user.disabled) return undefined;
      // Codes and refresh tokens carry their grant: refused once its Yunying session has ended.
      if (token !== undefined && (await liveSession(token.grantId, user.id)) === null) return undefined;
      return { accountId: user.id, claims: () => ({ sub: user.id, preferred_username: user.username, name: user.displayName }) };
    },
    extraTokenClaims: async (_ctx, token) => {
      if (token.kind !== 'AccessToken' || token.accountId === undefined) return undefined;
      const user = await auth.getUser(token.accountId);
      const sessionId = user === null ? null : await liveSession(token.grantId, user.id);
      if (user === null || sessionId === null) throw new errors.InvalidGrant('the sign-in has ended');
      return { [options.usernameClaim]: user.username, [YUNYING_SESSION_CLAIM]: sessionId };
    },
    // A remembered grant whose Yunying session has ended counts as none: the user signs in again.
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId ?? (ctx.oidc.client ? ctx.oidc.session?.grantIdFor(ctx.oidc.client.clientId) : undefined);
      if (grantId === undefined) return undefined;
      const grant = await ctx.oidc.provider.Grant.find(grantId);
      if (grant?.accountId === undefined) return undefined;
      return (await liveSession(grantId, grant.accountId)) === null ? undefined : grant;
    },
    renderError: (ctx, out) => {
      ctx.type = 'html';
      ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in error</title></head><body><h1>Sign-in error</h1><p>${escapeHtml(out.error)}${out.error_description ? `: ${escapeHtml(out.error_description)}` : ''}</p></body></html>`;
    },
  };

  const provider = new ProviderClass(options.issuer, configuration);
  provider.proxy = options.trustProxy;
  // Sign-out as OHIF does it (oidc.sign-out.ts): its revocations and its post-logout redirect.
  revocationForBrowserClients(provider, { issuer: options.issuer, audience: options.audience, keys: options.keys.keys, endSession: (sessionId) => auth.signOut({ sessionId }).then(() => undefined) });
  allowPostLogoutRedirectsWithinRegisteredOrigins(provider);
  provider.on('server_error', (_ctx: KoaContextWithOIDC, error: Error) => options.logger.error({ err: error }, 'OIDC provider error'));

  const clientOrigins = [...new Set(options.clients.flatMap((c) => [...c.redirect_uris, ...(c.post_logout_redirect_uris ?? [])].map((u) => new URL(u).origin)))];
  return { provider, resource, grantSessions, clientOrigins, endBrowserSession: (exchange) => endProviderSessionOfBrowser(provider, exchange) };
}

class GrantAdapter extends PostgresOidcAdapter {
  constructor(
    pool: Pool,
    model: string,
    private readonly onRevoke: (grantId: string) => Promise<void>,
  ) {
    super(pool, model);
  }

  // A Grant is stored under its own id; the provider revokes one by destroying it (helpers/revoke.js).
  override async destroy(id: string): Promise<void> {
    await this.onRevoke(id);
    await super.destroy(id);
  }
}

