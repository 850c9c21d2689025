import type { RequestHandler } from 'express';

/**
 * The web app (served by the viewer, another origin) uploads over STOW-RS with a Bearer token, so the
 * STOW routes answer CORS for exactly the viewer's origin (Fetch standard, CORS protocol): the preflight
 * and the actual response. No credentials mode: cookies are never sent cross-origin.
 */
export function stowCors(allowedOrigin: string): RequestHandler {
  const origin = new URL(allowedOrigin).origin;
  return (req, res, next) => {
    if (!req.path.startsWith('/dicomweb/studies') || req.headers.origin !== origin) {
      next();
      return;
    }
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Vary', 'Origin');
    // The page honours Retry-After on 503 (storage quorum missed), so it must be able to read it.
    res.setHeader('Access-Control-Expose-Headers', 'Retry-After');
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'POST');
      res.setHeader('Access-Control-Allow-Headers', 'authorization, content-type, accept');
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    next();
  };
}
