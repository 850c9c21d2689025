import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AppError } from '@yunying/core';
import type { Principal } from './principal';

declare module 'express-serve-static-core' {
  interface Request {
    /** The authenticated caller; set by `authenticate`, always present in SecureRouter handlers of non-public routes. */
    principal?: Principal;
  }
}

/** What the middleware needs from AuthService (a seam for tests of services that use fake principals). */
export interface Authenticator {
  authenticateAccessToken(token: string): Promise<Principal>;
  authenticateApiKey(key: string): Promise<Principal>;
}

export const ACCESS_COOKIE = 'yy_access';
export const REFRESH_COOKIE = 'yy_refresh';

export type Credential = { kind: 'bearer' | 'cookie'; token: string } | { kind: 'api-key'; key: string };

export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return undefined;
    }
  }
  return undefined;
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
  const cookie = readCookie(req, ACCESS_COOKIE);
  if (cookie) return { kind: 'cookie', token: cookie };
  return undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Cookies are sent by the browser on its own, so a state-changing request authenticated by the cookie must
 * come from our own pages: SameSite=Strict already stops cross-site sends in current browsers; this also
 * refuses a cross-origin Origin or `Sec-Fetch-Site: cross-site` (defence in depth against CSRF).
 */
function assertSameOrigin(req: Request): void {
  if (SAFE_METHODS.has(req.method)) return;
  if (req.headers['sec-fetch-site'] === 'cross-site') throw new AppError('forbidden', 'Cross-site request refused');
  const origin = req.headers.origin;
  if (origin === undefined || origin === 'null') return;
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
    const result = credential.kind === 'api-key' ? authenticator.authenticateApiKey(credential.key) : authenticator.authenticateAccessToken(credential.token);
    result.then(
      (principal) => {
        req.principal = principal;
        next();
      },
      (error: unknown) => next(error),
    );
  };
}
