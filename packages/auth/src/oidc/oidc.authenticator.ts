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
}

export interface OidcAuthenticatorOptions {
  verifier: OidcVerifier;
  users: OidcUsers;
  usernameClaim: string;
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
    return principalOfUser(user);
  }

  authenticateApiKey(key: string): Promise<Principal> {
    return this.inner.authenticateApiKey(key);
  }
}

/** `inner` alone when no issuer is configured, else wrapped to accept the issuer's tokens too. */
export function withOidc(inner: Authenticator & OidcUsers, config: Config): Authenticator {
  const oidc = config.auth.oidc;
  if (oidc === null) return inner;
  return new OidcAuthenticator(inner, {
    verifier: new OidcVerifier({ issuer: oidc.issuer, audience: oidc.audience }),
    users: inner,
    usernameClaim: oidc.usernameClaim,
  });
}
