import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { parseCookie } from 'cookie';
import { AppError, isAppError } from '@yunying/core';
// Brings in req.requestId (set by createServiceApp's request-context middleware).
import type {} from '@yunying/http';
import type { RequestOrigin } from './auth.types';
import type { Principal } from './principal';

declare module 'express-serve-static-core' {
  interface Request {
    /** The authenticated caller; set by `authenticate`, always present in SecureRouter handlers of non-public routes. */
    principal?: Principal;
  }
}

/** What the middleware needs from AuthService (a seam for tests of services that use fake principals). */
export interface Authenticator {
  /** `origin` (address, request id) is for the audit records of refusals that are not a bad credential. */
  authenticateAccessToken(token: string, origin?: RequestOrigin): Promise<Principal>;
  authenticateApiKey(key: string): Promise<Principal>;
  /** Told when a presented credential was refused (audited as a Security Alert by AuthService). */
  credentialRefused?(credential: 'api-key' | 'access-token', reason: string, sourceIp: string | null): Promise<void>;
}

export const ACCESS_COOKIE = 'yy_access';
export const REFRESH_COOKIE = 'yy_refresh';
/**
 * Over TLS the cookies carry the `__Host-` prefix: the browser then accepts them only with Secure, Path=/ and no
 * Domain, so a sibling subdomain cannot plant or shadow them. Over plain HTTP (development on loopback) the prefix
 * cannot be used; the plain names are read only there.
 */
export const HOST_PREFIX = '__Host-';

export function cookieName(req: Request, name: typeof ACCESS_COOKIE | typeof REFRESH_COOKIE): string {
  return req.secure ? `${HOST_PREFIX}${name}` : name;
}

export type Credential = { kind: 'bearer' | 'cookie'; token: string } | { kind: 'api-key'; key: string };

/** The named cookie of the request's Cookie header (RFC 6265, by the `cookie` package); a value that is not valid percent-encoding is absent. */
export function readCookie(req: Pick<Request, 'headers'>, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  return parseCookie(header, { decode: decodeOrAbsent })[name];
}

function decodeOrAbsent(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/** Authorization: Bearer <jwt> | ApiKey <key>; X-Api-Key: <key>; else the httpOnly `yy_access` cookie. */
export function readCredential(req: Request): Credential | undefined {
  const authorization = req.headers.authorization;
  if (authorization) {
    const match = /^(Bearer|ApiKey)\s+(\S+)\s*$/i.exec(authorization);
    if (!match?.[1] || !match[2]) throw new AppError('unauthenticated', 'Unsupported Authorization header');
    return match[1].toLowerCase() === 'bearer' ? { kind: 'bearer', token: match[2] } : { kind: 'api-key', key: match[2] };
  }
  const apiKey = req.headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey) return { kind: 'api-key', key: apiKey };
  const cookie = readCookie(req, cookieName(req, ACCESS_COOKIE));
  if (cookie) return { kind: 'cookie', token: cookie };
  return undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** What a browser says in Sec-Fetch-Site for a request our own pages made (or the user typed). */
const OWN_FETCH_SITES = new Set(['same-origin', 'none']);

/**
 * Cookies are sent by the browser on its own, so a state-changing request authenticated by the cookie must
 * come from our own pages. SameSite=Strict stops cross-site sends but not same-site ones (a sibling subdomain,
 * another port), so this also refuses: a `Sec-Fetch-Site` other than same-origin/none, `Origin: null` (what a
 * browser sends after a cross-origin redirect, e.g. a 307 bouncing a POST to us, or from a sandboxed frame), and
 * an Origin of another host.
 */
export function assertSameOrigin(req: Request): void {
  if (SAFE_METHODS.has(req.method)) return;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && !OWN_FETCH_SITES.has(site)) throw new AppError('forbidden', 'Cross-site request refused');
  const origin = req.headers.origin;
  if (origin === undefined) return;
  if (origin === 'null') throw new AppError('forbidden', 'Cross-site request refused');
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw new AppError('forbidden', 'Cross-site request refused');
  }
  if (host !== req.headers.host) throw new AppError('forbidden', 'Cross-site request refused');
}

/**
 * Sets `req.principal` from the request's credential. No credential: passes on without a principal (the
 * route's policy then answers 401). A credential that is present but invalid, expired or revoked: 401.
 */
export function authenticate(authenticator: Authenticator): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    if (req.principal) {
      next();
      return;
    }
    let credential: Credential | undefined;
    try {
      credential = readCredential(req);
      if (credential?.kind === 'cookie') assertSameOrigin(req);
    } catch (error) {
      next(error);
      return;
    }
    if (!credential) {
      next();
      return;
    }
    const result =
      credential.kind === 'api-key'
        ? authenticator.authenticateApiKey(credential.key)
        : authenticator.authenticateAccessToken(credential.token, { sourceIp: req.ip ?? null, requestId: req.requestId ?? null });
    result.then(
      (principal) => {
        req.principal = principal;
        next();
      },
      (error: unknown) => {
        // A genuine token refused for a missing second factor is audited as User Authentication where it is refused.
        const audited = isAppError(error) && error.details?.secondFactorRequired === true;
        if (!isAppError(error) || error.code !== 'unauthenticated' || audited || authenticator.credentialRefused === undefined) {
          next(error);
          return;
        }
        // The refusal stands whether or not the alert could be written.
        authenticator
          .credentialRefused(credential.kind === 'api-key' ? 'api-key' : 'access-token', error.message, req.ip ?? null)
          .catch(() => undefined)
          .finally(() => next(error));
      },
    );
  };
}
