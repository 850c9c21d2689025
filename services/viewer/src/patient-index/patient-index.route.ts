import express from 'express';
import { z } from 'zod';
import { parseInput, SecureRouter, type AuthedRequest, type Authenticator } from '@yunying/auth';
import { AppError } from '@yunying/core';
import { callerOf, studyUidParam } from '../reading/queue.route';
import type { PatientIndexAdmin } from './patient-index.admin';

const json = express.json({ limit: '16kb' });
const ADMIN = { scope: 'admin', roles: ['admin'] } as const;

const reviewsQuery = z
  .object({
    status: z.enum(['open', 'merged', 'kept-apart', 'all']).default('open'),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  })
  .strict();

const mergesQuery = z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }).strict();

const issuersBody = z
  .object({
    issuers: z
      .array(z.object({ issuer: z.string().trim().min(1).max(64), label: z.string().trim().max(100).default('') }).strict())
      .max(20)
      .refine((list) => new Set(list.map((i) => i.issuer)).size === list.length, 'issuers must be unique'),
  })
  .strict();

const blankToNull = (v: unknown): unknown => (typeof v === 'string' && v.trim() === '' ? null : v);
const correctionBody = z
  .object({
    patientId: z.preprocess(blankToNull, z.string().trim().min(1).max(64).nullable()).default(null),
    issuer: z.preprocess(blankToNull, z.string().trim().min(1).max(64).nullable()).default(null),
    // DICOM PN (Family^Given, ideographic after '='), as it would be sent.
    name: z.preprocess(blankToNull, z.string().trim().min(1).max(324).nullable()).default(null),
    birthDate: z.preprocess(blankToNull, z.string().regex(/^[0-9]{8}$/).nullable()).default(null),
    sex: z.preprocess(blankToNull, z.enum(['M', 'F', 'O']).nullable()).default(null),
    reason: z.string().trim().min(1).max(500),
  })
  .strict()
  .refine((c) => c.patientId !== null || c.name !== null, { message: 'a correction names the patient: an ID or a name', path: ['patientId'] });

/** A numeric index id from the path; anything else is a 404 (there is no such review or merge). */
function idParam(req: AuthedRequest, what: string): string {
  const raw = req.params.id;
  if (typeof raw !== 'string' || !/^[1-9][0-9]{0,17}$/.test(raw)) throw new AppError('not_found', `${what} not found`);
  return raw;
}

/**
 * The patient index's admin queue (#20): reviews of possible duplicates (merge or keep apart), the merge
 * history with unmerge, and the issuers whose identifiers identify a person everywhere.
 */
export function patientIndexRoutes(admin: PatientIndexAdmin, authenticator: Authenticator): SecureRouter {
  const routes = new SecureRouter('viewer.patient-index', authenticator);

  routes.get('/api/admin/patient-index/reviews', { ...ADMIN, description: 'possible duplicate patients waiting for a decision (audited)' }, async (req, res) => {
    const query = parseInput(reviewsQuery, req.query, 'query');
    res.setHeader('Cache-Control', 'no-store');
    res.json({ reviews: await admin.reviews(callerOf(req), query.status, query.limit) });
  });

  routes.post('/api/admin/patient-index/reviews/:id/merge', { ...ADMIN, description: 'the same person: merge the two (audited, reversible)' }, json, async (req, res) => {
    res.json(await admin.merge(callerOf(req), idParam(req, 'Review')));
  });

  routes.post('/api/admin/patient-index/reviews/:id/keep-apart', { ...ADMIN, description: 'not the same person: close the review (audited)' }, json, async (req, res) => {
    await admin.keepApart(callerOf(req), idParam(req, 'Review'));
    res.status(204).end();
  });

  routes.get('/api/admin/patient-index/merges', { ...ADMIN, description: 'merge history, most recent first (audited)' }, async (req, res) => {
    const query = parseInput(mergesQuery, req.query, 'query');
    res.setHeader('Cache-Control', 'no-store');
    res.json({ merges: await admin.merges(callerOf(req), query.limit) });
  });

  routes.post('/api/admin/patient-index/merges/:id/unmerge', { ...ADMIN, description: 'undo a merge (audited)' }, json, async (req, res) => {
    res.json(await admin.unmerge(callerOf(req), idParam(req, 'Merge')));
  });

  routes.post('/api/admin/patient-index/studies/:studyUid/correction', { ...ADMIN, description: 'correct a study’s patient identity; the index files it again (audited)' }, json, async (req, res) => {
    const body = parseInput(correctionBody, req.body);
    res.json(await admin.correct(callerOf(req), studyUidParam(req), body));
  });

  routes.get('/api/admin/patient-index/identifier-issuers', { ...ADMIN, description: 'issuers whose identifiers count across clinics' }, async (_req, res) => {
    res.json({ issuers: await admin.issuers() });
  });

  routes.put('/api/admin/patient-index/identifier-issuers', { ...ADMIN, description: 'replace the issuers whose identifiers count across clinics (audited)' }, json, async (req, res) => {
    const { issuers } = parseInput(issuersBody, req.body);
    res.json({ issuers: await admin.setIssuers(callerOf(req), issuers) });
  });

  return routes;
}
