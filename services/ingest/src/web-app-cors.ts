import type { RequestHandler } from 'express';

/** What the web app (served by the viewer, another origin) calls on the ingest service, and with which methods. */
const WEB_APP_ROUTES: readonly { pattern: RegExp; methods: string }[] = [
  // Uploads over STOW-RS.
  { pattern: /^\/dicomweb\/studies(\/|$)/, methods: 'POST' },
  // The Clinics page's DICOM settings: policy, source networks, device certificates, registered remote AEs.
  { pattern: /^\/api\/admin\/clinics\/[^/]+\/dimse(-[a-z-]+)?(\/|$)/, methods: 'GET, PUT, POST, DELETE' },
  { pattern: /^\/api\/admin\/dimse-certificates\/[^/]+\/revoke$/, methods: 'POST' },
];

/**
 * The web app calls the ingest service with a Bearer token (uploads, and the admin's DICOM settings, whose
 * routes live beside the DICOM server they configure), so exactly those routes answer CORS for exactly the
 * viewer's origin (Fetch standard, CORS protocol): the preflight and the actual response. No credentials mode:
 * cookies are never sent cross-origin, and every route still checks the token's role.
 */
export function webAppCors(allowedOrigin: string): RequestHandler {
  const origin = new URL(allowedOrigin).origin;
  return (req, res, next) => {
    const route = WEB_APP_ROUTES.find((r) => r.pattern.test(req.path));
    if (route === undefined || req.headers.origin !== origin) {
      next();
      return;
    }
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Vary', 'Origin');
    // The upload page honours Retry-After on 503 (storage quorum missed), so it must be able to read it.
    res.setHeader('Access-Control-Expose-Headers', 'Retry-After');
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', route.methods);
      res.setHeader('Access-Control-Allow-Headers', 'authorization, content-type, accept');
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    next();
  };
}
