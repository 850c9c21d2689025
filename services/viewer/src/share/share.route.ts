import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import { parseInput, SecureRouter, type Authenticator } from '@yunying/auth';
import { studyUidParam } from '../reading/queue.route';
import { WindowLimiter } from './rate-limit';
import type { ShareService } from './share.service';

const json = express.json({ limit: '4kb' });

// Whoever may read the study in the clinic's name: the clinic's users and its granted radiologists.
// Devices never: a share is handed to a person by a person, and its creator is on record.
const SHARER = { scope: 'clinic-data', roles: ['clinic', 'radiologist'] } as const;

const createBody = z.object({ expiresInDays: z.number().int().min(1).optional(), accessCode: z.boolean().optional() }).strict();
const shareId = z.uuid();
const imageNumber = z.coerce.number().int().min(1).max(100);

/**
 * The share link's credentials: `Authorization: Share <token>` and `X-Share-Code`. Headers, not the URL,
 * so neither lands in access logs or proxies' caches; the page keeps the token in its URL fragment.
 */
function credentials(req: Request): { token: string; code: string | undefined } {
  const header = req.get('authorization') ?? '';
  const match = /^Share ([A-Za-z0-9_-]+)$/.exec(header);
  const code = req.get('x-share-code');
  return { token: match?.[1] ?? '', code: code === undefined ? undefined : code.trim() };
}

/** What a share answer may be kept as: nowhere (revocation must apply to the next request), never indexed. */
function privateHeaders(res: Response): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Robots-Tag', 'noindex, nofollow');
}

export interface ShareRouteOptions {
  /** Public share requests per source IP per minute (default 120: a page view is one call plus its images). */
  publicRequestsPerMinute?: number;
}

/** Managing shares (clinic side) and reading one (public side, the token is the only credential). */
export function shareRoutes(shares: ShareService, authenticator: Authenticator, options: ShareRouteOptions = {}): SecureRouter {
  const routes = new SecureRouter('viewer.shares', authenticator);
  const limiter = new WindowLimiter(options.publicRequestsPerMinute ?? 120, 60_000).middleware();

  routes.post('/api/studies/:studyUid/shares', { ...SHARER, description: 'create a share link (token and code shown once)' }, json, async (req, res) => {
    const uid = studyUidParam(req);
    const body = parseInput(createBody, req.body);
    privateHeaders(res);
    res.status(201).json(await shares.create(req.principal, req.ip ?? null, uid, body));
  });

  routes.get('/api/studies/:studyUid/shares', { ...SHARER, description: 'the study’s share links (never their tokens)' }, async (req, res) => {
    const uid = studyUidParam(req);
    privateHeaders(res);
    res.json({ items: await shares.list(req.principal, uid) });
  });

  routes.post('/api/studies/:studyUid/shares/:shareId/revoke', { ...SHARER, description: 'revoke a share link; applies to its next request' }, async (req, res) => {
    const uid = studyUidParam(req);
    const id = parseInput(shareId, req.params.shareId, 'shareId');
    res.json(await shares.revoke(req.principal, req.ip ?? null, uid, id));
  });

  routes.get('/api/share/view', { scope: 'public', description: 'a share link’s key images and signed report (share token)' }, limiter, async (req, res) => {
    const { token, code } = credentials(req);
    privateHeaders(res);
    res.json(await shares.view(token, code, req.ip ?? null));
  });

  routes.get('/api/share/images/:number', { scope: 'public', description: 'a share link’s key image as JPEG (share token)' }, limiter, async (req, res) => {
    const { token, code } = credentials(req);
    const number = parseInput(imageNumber, req.params.number, 'number');
    const body = await shares.image(token, code, req.ip ?? null, number);
    privateHeaders(res);
    res.status(200).type('image/jpeg').end(body);
  });

  return routes;
}
