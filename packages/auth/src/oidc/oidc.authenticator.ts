import { AppError } from '@yunying/core';
import type { Config } from '@yunying/config';
import type { UserView } from '../auth.service';
import { principalOfUser } from '../auth.service';
import type { Authenticator } from '../middleware';
import type { Principal } from '../principal';
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
}

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
}

export class OidcAuthenticator implements Authenticator {
  constructor(
    private readonly inner: Authenticator,
    private readonly options: OidcAuthenticatorOptions,
  ) {}

  async authenticateAccessToken(token: string): Promise<Principal> {
    if (!this.options.verifier.claimsIssuer(token)) return this.inner.authenticateAccessToken(token);
    const claims = await this.options.verifier.verify(token);
    const subject = claims[this.options.usernameClaim];
    if (typeof subject !== 'string' || subject.trim() === '') throw new AppError('unauthenticated', 'Access token names no user');
    const user = await this.options.users.findUserByUsername(subject);
    if (user === null || user.disabled) throw new AppError('unauthenticated', 'No Yunying user for this identity');
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
  return new OidcAuthenticator(inner, {
    verifier: new OidcVerifier({ issuer: oidc.issuer, audience: oidc.audience }),
    users: inner,
    usernameClaim: oidc.usernameClaim,
    requireSession: oidc.embedded !== null,
  });
}
