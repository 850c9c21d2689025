import { timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { AppError } from '@yunying/core';

/** How a service answers to the outside: proxies it trusts, who may read /metrics, what its pages may connect to. */
export interface HttpSecurityOptions {
  /**
   * Proxies whose X-Forwarded-For / -Proto are believed (express `trust proxy` values: addresses, CIDRs or
   * `loopback`). Empty (the default): nothing is trusted, so a client cannot choose the address that goes into
   * the audit record or the sign-in throttle.
   */
  trustedProxies?: readonly string[];
  /** Bearer token that opens /metrics and the detail of /readyz. Unset: only a direct loopback caller sees them. */
  metricsToken?: string;
  /** Origins besides 'self' the web pages may fetch from (the ingest service for uploads). */
  connectSrc?: readonly string[];
}

/**
 * The Content-Security-Policy of every response. The web app loads only its own scripts and styles; it may not
 * be framed (clickjacking of the signed-in queue); it may connect only to itself and the configured origins.
 */
export function contentSecurityPolicy(connectSrc: readonly string[] = []): string {
  const connect = ["'self'", ...connectSrc.map((u) => new URL(u).origin)];
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    `connect-src ${[...new Set(connect)].join(' ')}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Security headers sent by the server (a `<meta>` CSP cannot carry frame-ancestors). HSTS only over TLS. */
export function securityHeaders(connectSrc: readonly string[] = []): RequestHandler {
  const csp = contentSecurityPolicy(connectSrc);
  return (req, res, next) => {
    res.setHeader('Content-Security-Policy', csp);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    // Behind TLS (directly or through a trusted proxy) the browser must never fall back to plain HTTP.
    if (req.secure) res.setHeader('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    next();
  };
}

/**
 * A NUL (or another C0 control character) in a query parameter is never meaningful in DICOMweb or the API and
 * breaks PostgreSQL text parameters (a 500 before): refuse it at the edge with a 400.
 */
export function refuseControlCharactersInQuery(): RequestHandler {
  return (req, _res, next) => {
    const q = req.originalUrl.indexOf('?');
    if (q < 0) {
      next();
      return;
    }
    const raw = req.originalUrl.slice(q + 1);
    if (hasControlCharacter(raw)) {
      next(new AppError('bad_request', 'Control characters are not allowed in query parameters'));
      return;
    }
    next();
  };
}

/** Percent-encoded %00-%1F or the raw characters; tab excepted (harmless, and used in free-text search). */
function hasControlCharacter(raw: string): boolean {
  if (/%(?:0[0-8a-f]|1[0-9a-f])/i.test(raw)) return true;
  for (let i = 0; i < raw.length; i += 1) {
    const code = raw.charCodeAt(i);
    if (code < 0x20 && code !== 0x09) return true;
  }
  return false;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/**
 * Whether the caller may see operational detail (/metrics, what /readyz found failing): with the metrics token,
 * or, when none is configured, a caller on this host talking to us directly (not through a proxy, which would
 * add a forwarding header).
 */
export function isInternalCaller(req: Request, metricsToken: string | undefined): boolean {
  if (metricsToken !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    const given = Buffer.from(match?.[1] ?? '');
    const expected = Buffer.from(metricsToken);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
  const peer = req.socket.remoteAddress ?? '';
  const forwarded = req.headers['x-forwarded-for'] !== undefined || req.headers.forwarded !== undefined || req.headers['x-real-ip'] !== undefined;
  return LOOPBACK.has(peer) && !forwarded;
}

/** express `trust proxy` setting for the configured proxies: false when none (the default). */
export function trustProxySetting(trustedProxies: readonly string[] | undefined): boolean | string[] {
  return trustedProxies && trustedProxies.length > 0 ? [...trustedProxies] : false;
}

/** The security options of a service from the one configuration: the web pages may also reach the ingest origin. */
export function httpSecurityFromConfig(config: { http: { trustedProxies: string[]; metricsToken?: string; publicIngestUrl: string } }): HttpSecurityOptions {
  return {
    trustedProxies: config.http.trustedProxies,
    ...(config.http.metricsToken !== undefined ? { metricsToken: config.http.metricsToken } : {}),
    connectSrc: [config.http.publicIngestUrl],
  };
}
