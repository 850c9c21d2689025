import type { RequestHandler } from 'express';

/**
 * CORS (Fetch standard, CORS protocol) for browser apps served from another origin, e.g. OHIF pointed
 * at the archive's DICOMweb root. Every route answers for the configured origins: the preflight
 * (OPTIONS with Access-Control-Request-Method) with 204 and the allowed method and headers, the actual
 * response with Access-Control-Allow-Origin and the headers a DICOMweb client must read.
 *
 * Credentials are never allowed: cross-origin clients authenticate with a Bearer token (OIDC access
 * token or API key), so the session cookie is never usable from another site, and `*` (when
 * configured) is therefore safe to send (the Fetch standard refuses `*` with credentials anyway).
 */
export interface CorsOptions {
  /** Allowed origins (`scheme://host[:port]`), or `*` for any. */
  origins: readonly string[];
  /** Extra response headers to expose to the page (besides the DICOMweb ones). */
  exposeHeaders?: readonly string[];
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
const ALLOWED_HEADERS = ['authorization', 'accept', 'content-type', 'x-request-id'];
/** PS3.18: Warning (QIDO truncation, 8.3.4.4), Content-Location (parts, 8.7.3.2), Content-Type (multipart boundary). */
const EXPOSED = ['Warning', 'Content-Location', 'Content-Type', 'Content-Length', 'Retry-After', 'X-Request-Id'];

export function corsMiddleware(options: CorsOptions): RequestHandler {
  const any = options.origins.includes('*');
  const allowed = new Set(options.origins.filter((o) => o !== '*'));
  const expose = [...new Set([...EXPOSED, ...(options.exposeHeaders ?? [])])].join(', ');
  return (req, res, next) => {
    const origin = req.headers.origin;
    if (origin === undefined || (!any && !allowed.has(origin))) {
      next();
      return;
    }
    res.setHeader('Access-Control-Allow-Origin', any ? '*' : origin);
    res.vary('Origin');
    const requested = req.headers['access-control-request-method'];
    if (req.method === 'OPTIONS' && typeof requested === 'string') {
      res.setHeader('Access-Control-Allow-Methods', METHODS.join(', '));
      res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS.join(', '));
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    res.setHeader('Access-Control-Expose-Headers', expose);
    next();
  };
}
