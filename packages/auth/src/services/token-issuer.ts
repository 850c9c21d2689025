import { jwtVerify, SignJWT, errors as joseErrors } from 'jose';
import type { Principal } from '../principal';
import { UUID, unauthenticated } from '../auth.shared';

const ISSUER = 'yunying';
const AUDIENCE = 'yunying';
/** The audience of a second-factor challenge: never accepted as an access token (that needs AUDIENCE). */
const CHALLENGE_AUDIENCE = 'yunying-second-factor';
/** How long the password step stays good for giving the code (and, when enrolling, for setting up the app). */
const CHALLENGE_TTL_SECONDS = 600;

/** Claims of a verified access token: the user, the session and the token version it was issued for. */
export interface AccessClaims {
  userId: string;
  sessionId: string;
  tokenVersion: number;
}

/**
 * Signs and verifies the HS256 JWTs: access tokens (sub = user id, sid = session id, ver = the user's
 * token_version, role) and second-factor challenges (another audience, so one is never taken for the other).
 */
export class TokenIssuer {
  private readonly signingKey: Uint8Array;

  constructor(
    tokenSecret: string,
    readonly accessTokenTtlSeconds: number,
    private readonly now: () => Date,
  ) {
    this.signingKey = new TextEncoder().encode(tokenSecret);
  }

  async issueAccessToken(principal: Principal, tokenVersion: number): Promise<{ accessToken: string; accessTokenExpiresAt: Date }> {
    const nowSeconds = Math.floor(this.now().getTime() / 1000);
    const exp = nowSeconds + this.accessTokenTtlSeconds;
    const accessToken = await new SignJWT({ sid: principal.sessionId, ver: tokenVersion, role: principal.role, name: principal.username })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(principal.userId ?? '')
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(nowSeconds)
      .setExpirationTime(exp)
      .sign(this.signingKey);
    return { accessToken, accessTokenExpiresAt: new Date(exp * 1000) };
  }

  async verifyAccessToken(token: string): Promise<AccessClaims> {
    let claims: { sub?: string; sid?: unknown; ver?: unknown };
    try {
      claims = (await jwtVerify(token, this.signingKey, { algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE, currentDate: this.now() })).payload;
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw unauthenticated('Access token expired');
      throw unauthenticated('Access token invalid');
    }
    const { sub, sid, ver } = claims;
    if (typeof sub !== 'string' || !UUID.test(sub) || typeof sid !== 'string' || !UUID.test(sid) || typeof ver !== 'number') {
      throw unauthenticated('Access token invalid');
    }
    return { userId: sub, sessionId: sid, tokenVersion: ver };
  }

  async issueChallenge(userId: string, tokenVersion: number): Promise<string> {
    const nowSeconds = Math.floor(this.now().getTime() / 1000);
    return new SignJWT({ ver: tokenVersion })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(userId)
      .setIssuer(ISSUER)
      .setAudience(CHALLENGE_AUDIENCE)
      .setIssuedAt(nowSeconds)
      .setExpirationTime(nowSeconds + CHALLENGE_TTL_SECONDS)
      .sign(this.signingKey);
  }

  /** The claims of a challenge, or null when it is not one of ours or has expired. */
  async verifyChallenge(challenge: string): Promise<{ sub?: string; ver?: unknown } | null> {
    try {
      return (await jwtVerify(challenge, this.signingKey, { algorithms: ['HS256'], issuer: ISSUER, audience: CHALLENGE_AUDIENCE, currentDate: this.now() })).payload;
    } catch {
      return null;
    }
  }
}
