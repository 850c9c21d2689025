import { createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { AppError } from '@yunying/core';

/**
 * Access tokens from an external OpenID Connect issuer (OpenID Connect Discovery 1.0, RFC 8414; JWT
 * access tokens, RFC 9068): the issuer's discovery document names its JWKS, the keys verify the
 * signature (asymmetric algorithms only: an `alg: HS256` token signed with a public key must not
 * pass), `iss` must be the configured issuer exactly, `aud` must include the configured audience, and
 * `exp` / `nbf` are checked with a small clock tolerance. Keys are fetched once and re-fetched when a
 * token names an unknown `kid` (jose's remote key set, rate-limited), so key rotation needs no restart.
 */
export interface OidcVerifierOptions {
  /** The issuer identifier, e.g. https://login.example.org/realms/radiology (no trailing slash added). */
  issuer: string;
  /** The audience Yunying's tokens must carry (the API's client id or resource identifier). */
  audience: string;
  /** Least time between two JWKS fetches triggered by unknown key ids (default 30 s, jose's). */
  keyRefetchCooldownMs?: number;
  /** Clock skew allowed on `exp` and `nbf`, in seconds (OIDC_CLOCK_TOLERANCE_SECONDS); default 30. */
  clockToleranceSeconds?: number;
  /** For tests: the clock. */
  now?: () => Date;
}

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

function unauthenticated(message: string): AppError {
  return new AppError('unauthenticated', message);
}

interface Discovery {
  issuer?: unknown;
  jwks_uri?: unknown;
}

export class OidcVerifier {
  private keys: ReturnType<typeof createRemoteJWKSet> | null = null;
  private discovering: Promise<ReturnType<typeof createRemoteJWKSet>> | null = null;

  constructor(private readonly options: OidcVerifierOptions) {}

  get issuer(): string {
    return this.options.issuer;
  }

  /** Whether an unverified token claims to come from this issuer (which verifier should look at it). */
  claimsIssuer(token: string): boolean {
    try {
      return decodeJwt(token).iss === this.options.issuer;
    } catch {
      return false;
    }
  }

  private async keySet(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    if (this.keys !== null) return this.keys;
    this.discovering ??= this.discover().finally(() => {
      this.discovering = null;
    });
    this.keys = await this.discovering;
    return this.keys;
  }

  private async discover(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    const url = `${this.options.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    let document: Discovery;
    try {
      const res = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`discovery answered ${res.status}`);
      document = (await res.json()) as Discovery;
    } catch (error) {
      throw new AppError('unavailable', 'The identity provider cannot be reached', { cause: error, retryAfterSeconds: 5 });
    }
    // OpenID Connect Discovery 4.3: the document's issuer must be the one it was fetched for.
    if (document.issuer !== this.options.issuer || typeof document.jwks_uri !== 'string') {
      throw new AppError('unavailable', 'The identity provider’s discovery document does not match its issuer');
    }
    return createRemoteJWKSet(new URL(document.jwks_uri), { cooldownDuration: this.options.keyRefetchCooldownMs ?? 30_000 });
  }

  /** The verified claims. Throws AppError 'unauthenticated' for any token that does not verify. */
  async verify(token: string): Promise<JWTPayload> {
    const keys = await this.keySet();
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: this.options.issuer,
        audience: this.options.audience,
        algorithms: ASYMMETRIC,
        clockTolerance: this.options.clockToleranceSeconds ?? 30,
        ...(this.options.now ? { currentDate: this.options.now() } : {}),
      });
      return payload;
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw unauthenticated('Access token expired');
      throw unauthenticated('Access token invalid');
    }
  }
}
