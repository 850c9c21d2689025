import { AppError } from '@yunying/core';
import type { Config } from '@yunying/config';
import type { JWTPayload } from 'jose';
import type { UserView } from '../auth.service';
import { principalOfUser } from '../auth.service';
import type { RequestOrigin } from '../auth.types';
import type { Authenticator } from '../middleware';
import type { Principal, Role } from '../principal';
import { OidcVerifier } from './oidc.verifier';

/**
 * Accepts access tokens of a configured OpenID Connect issuer beside Yunying's own: a Bearer token whose
 * `iss` is the issuer is verified by OidcVerifier, and its subject is mapped to an existing Yunying user
 * (by the `usernameClaim`, `preferred_username` by default), whose role and clinic grants then apply
 * exactly as for a password sign-in. A subject with no such user, or a disabled one, is refused (401):
 * the identity provider says who someone is, Yunying's users table says what they may see. Every other
 * token and API key goes to the wrapped authenticator unchanged.
 */
export interface OidcUsers {
  findUserByUsername(username: string): Promise<UserView | null>;
  isSessionActive(sessionId: string, userId: string): Promise<boolean>;
  /** Told when a privileged user's token showed no second factor (audited as User Authentication). */
  externalSecondFactorMissing?(user: UserView, origin: RequestOrigin): Promise<void>;
}

/**
 * An external provider's sign-in is not Yunying's, so its TOTP step never ran: for the roles that need a
 * second factor the token itself must say one was used, by an `amr` method reference (RFC 8176, OpenID
 * Connect Core 2) or an `acr` the deployment names. Access tokens carry these when the IdP maps them in
 * (Keycloak, Entra ID and Okta can); a token without them is refused rather than trusted.
 */
export interface ExternalSecondFactor {
  roles: ReadonlySet<Role>;
  amr: readonly string[];
  acr: readonly string[];
}

/** Whether the claims show a second factor as `policy` defines it. */
export function showsSecondFactor(claims: JWTPayload, policy: Pick<ExternalSecondFactor, 'amr' | 'acr'>): boolean {
  const amr = Array.isArray(claims.amr) ? claims.amr.filter((m): m is string => typeof m === 'string') : [];
  if (amr.some((m) => policy.amr.includes(m))) return true;
  return typeof claims.acr === 'string' && policy.acr.includes(claims.acr);
}

/** The refusal's problem+json marker; the middleware does not add a bad-credential alert for it (already audited). */
export const SECOND_FACTOR_MISSING = 'insufficient_user_authentication';

/**
 * The claim of the embedded provider's access tokens that names the Yunying session its sign-in started.
 * Checked on every request, so a sign-out or a disabled user ends the token at once, not at its expiry.
 */
export const YUNYING_SESSION_CLAIM = 'yunying_sid';

export interface OidcAuthenticatorOptions {
  verifier: OidcVerifier;
  users: OidcUsers;
  usernameClaim: string;
  /** The embedded provider: tokens must name a live Yunying session of their user (YUNYING_SESSION_CLAIM). */
  requireSession?: boolean;
  /** An external issuer with a second factor required for some roles (never the embedded provider). */
  secondFactor?: ExternalSecondFactor;
}

export class OidcAuthenticator implements Authenticator {
  constructor(
    private readonly inner: Authenticator,
    private readonly options: OidcAuthenticatorOptions,
  ) {}

  async authenticateAccessToken(token: string, origin: RequestOrigin = {}): Promise<Principal> {
    if (!this.options.verifier.claimsIssuer(token)) return this.inner.authenticateAccessToken(token, origin);
    const claims = await this.options.verifier.verify(token);
    const subject = claims[this.options.usernameClaim];
    if (typeof subject !== 'string' || subject.trim() === '') throw new AppError('unauthenticated', 'Access token names no user');
    const user = await this.options.users.findUserByUsername(subject);
    if (user === null || user.disabled) throw new AppError('unauthenticated', 'No Yunying user for this identity');
    const secondFactor = this.options.secondFactor;
    if (secondFactor !== undefined && secondFactor.roles.has(user.role) && !showsSecondFactor(claims, secondFactor)) {
      await this.options.users.externalSecondFactorMissing?.(user, origin);
      // RFC 9470 (step-up): 401 with error insufficient_user_authentication; the client signs in again at the IdP.
      throw new AppError('unauthenticated', `A ${user.role} must sign in with a second factor: the identity provider's token shows none (amr/acr)`, {
        details: { error: SECOND_FACTOR_MISSING, secondFactorRequired: true },
      });
    }
    if (!this.options.requireSession) return principalOfUser(user);
    const sessionId = claims[YUNYING_SESSION_CLAIM];
    if (typeof sessionId !== 'string' || !(await this.options.users.isSessionActive(sessionId, user.id))) {
      throw new AppError('unauthenticated', 'Access token revoked');
    }
    // With the session in the principal, Yunying's own sign-out (Bearer) ends this sign-in too.
    return principalOfUser(user, sessionId);
  }

  authenticateApiKey(key: string): Promise<Principal> {
    return this.inner.authenticateApiKey(key);
  }

  async credentialRefused(credential: 'api-key' | 'access-token', reason: string, sourceIp: string | null): Promise<void> {
    await this.inner.credentialRefused?.(credential, reason, sourceIp);
  }
}

/**
 * `inner` alone when no issuer is configured, else wrapped to accept the issuer's tokens too. The embedded
 * provider's tokens go through the same verification as an external issuer's (discovery, JWKS over HTTP,
 * issuer, audience), so what is tested for one holds for the other.
 */
export function withOidc(inner: Authenticator & OidcUsers, config: Config): Authenticator {
  const oidc = config.auth.oidc;
  if (oidc === null) return inner;
  const external = oidc.embedded === null && config.auth.secondFactorRoles.length > 0;
  return new OidcAuthenticator(inner, {
    verifier: new OidcVerifier({ issuer: oidc.issuer, audience: oidc.audience, clockToleranceSeconds: oidc.clockToleranceSeconds }),
    users: inner,
    usernameClaim: oidc.usernameClaim,
    requireSession: oidc.embedded !== null,
    ...(external ? { secondFactor: { roles: new Set(config.auth.secondFactorRoles), ...oidc.secondFactor } } : {}),
  });
}
