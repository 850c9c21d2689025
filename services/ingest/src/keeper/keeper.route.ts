import express, { type Request } from 'express';
import { z } from 'zod';
import { auditActor, parseInput, SecureRouter, type Authenticator, type AuthedRequest } from '@yunying/auth';
import type { Caller, DisposalService } from './disposal.service';
import type { OrphanSweeper } from './orphan.sweeper';
import type { RepairService } from './repair.service';
import type { Scrubber } from './scrub.service';

export interface KeeperRouteDeps {
  auth: Authenticator;
  scrubber: Scrubber;
  repair: RepairService;
  sweeper: OrphanSweeper;
  disposals: DisposalService;
}

const uid = z.string().regex(/^[0-9]+(\.[0-9]+)*$/).max(64);
const id = z.string().regex(/^[1-9][0-9]{0,17}$/);
const scrubBody = z.object({ repair: z.boolean().optional() }).strict();
const disposalBody = z.object({ studyInstanceUid: uid, reason: z.string().trim().min(1).max(500) }).strict();
const decisionBody = z.object({ note: z.string().trim().max(500).optional() }).strict();
const holdBody = z.object({ on: z.boolean(), reason: z.string().trim().min(1).max(500).optional() }).strict();
const listQuery = z.object({ open: z.enum(['true', 'false']).optional(), limit: z.coerce.number().int().min(1).max(1000).optional() });

function caller(req: AuthedRequest): Caller {
  return { userId: req.principal.userId ?? null, actor: auditActor(req.principal), sourceIp: req.ip ?? null };
}

function param(req: Request, name: string): unknown {
  return (req.params as Record<string, unknown>)[name];
}

/**
 * Keep-and-prove routes of the ingest role (#8). Admins trigger scrubs, repairs and orphan sweeps, set
 * legal holds and request disposals; auditors read orphan reports and decide on disposals. There is no
 * route that deletes a study or an instance: disposal is the only path, and it refuses before expiry.
 */
export function keeperRoutes(deps: KeeperRouteDeps): SecureRouter {
  const routes = new SecureRouter('ingest.keeper', deps.auth);
  const json = express.json({ limit: '16kb' });
  const admin = { scope: 'admin', roles: ['admin'] } as const;
  const auditor = { scope: 'audit', roles: ['auditor'] } as const;
  const reader = { scope: 'audit', roles: ['auditor', 'admin'] } as const;

  routes.post('/api/admin/scrub', { ...admin, description: 'verify every copy now and repair bad ones (repair: false only records findings)' }, json, async (req, res) => {
    const body = parseInput(scrubBody, req.body);
    res.json(await deps.scrubber.fullPass({ repair: body.repair ?? true }));
  });

  routes.post('/api/admin/repairs', { ...admin, description: 'repair every copy recorded missing or corrupt whose retry is due' }, async (_req, res) => {
    res.json(await deps.repair.runDue());
  });

  routes.post('/api/admin/orphan-sweep', { ...admin, description: 'list every replica target and report objects absent from the catalog' }, async (_req, res) => {
    res.json(await deps.sweeper.sweep());
  });

  routes.get('/api/audit/orphans', { ...reader, description: 'objects on a replica target that the catalog does not know (reported, never deleted)' }, async (req, res) => {
    const query = parseInput(listQuery, req.query, 'query');
    res.json({ orphans: await deps.sweeper.reports(query.open !== 'false', query.limit ?? 200) });
  });

  routes.put('/api/admin/studies/:uid/legal-hold', { ...admin, description: 'place a legal hold on a study and every copy, or request its release (another person approves)' }, json, async (req, res) => {
    const studyUid = parseInput(uid, param(req, 'uid'), 'study UID');
    const body = parseInput(holdBody, req.body);
    if (body.on) {
      res.json({ studyInstanceUid: studyUid, legalHold: true, ...(await deps.disposals.placeLegalHold(caller(req), studyUid)) });
      return;
    }
    // Four eyes (#17): lifting is a request; the hold stays until an independent auditor approves.
    const release = await deps.disposals.requestHoldRelease(caller(req), studyUid, body.reason ?? 'release requested');
    res.status(202).json({ studyInstanceUid: studyUid, legalHold: true, release });
  });

  routes.get('/api/audit/legal-hold-releases', { ...reader, description: 'legal-hold release requests and their decision' }, async (req, res) => {
    const query = parseInput(listQuery, req.query, 'query');
    res.json({ releases: await deps.disposals.listHoldReleases(query.limit ?? 200) });
  });

  routes.post('/api/audit/legal-hold-releases/:id/approve', { ...auditor, description: 'approve a legal-hold release (an auditor independent of the requester); the hold is lifted' }, async (req, res) => {
    res.json(await deps.disposals.decideHoldRelease(caller(req), parseInput(id, param(req, 'id'), 'request id'), 'approve'));
  });

  routes.post('/api/audit/legal-hold-releases/:id/reject', { ...auditor, description: 'reject a legal-hold release; the hold stays' }, async (req, res) => {
    res.json(await deps.disposals.decideHoldRelease(caller(req), parseInput(id, param(req, 'id'), 'request id'), 'reject'));
  });

  routes.post('/api/admin/disposals', { ...admin, description: 'request disposal of a study whose retention has expired' }, json, async (req, res) => {
    const body = parseInput(disposalBody, req.body);
    res.status(201).json(await deps.disposals.request(caller(req), body.studyInstanceUid, body.reason));
  });

  routes.get('/api/audit/disposals', { ...reader, description: 'disposal requests and their outcome' }, async (req, res) => {
    const query = parseInput(listQuery, req.query, 'query');
    res.json({ disposals: await deps.disposals.list(query.limit ?? 200) });
  });

  routes.post('/api/audit/disposals/:id/approve', { ...auditor, description: 'approve a disposal request (never the requester); the job then carries it out' }, json, async (req, res) => {
    const requestId = parseInput(id, param(req, 'id'), 'request id');
    const body = parseInput(decisionBody, req.body);
    res.json(await deps.disposals.decide(caller(req), requestId, 'approve', body.note ?? null));
  });

  routes.post('/api/audit/disposals/:id/reject', { ...auditor, description: 'reject a disposal request' }, json, async (req, res) => {
    const requestId = parseInput(id, param(req, 'id'), 'request id');
    const body = parseInput(decisionBody, req.body);
    res.json(await deps.disposals.decide(caller(req), requestId, 'reject', body.note ?? null));
  });

  return routes;
}
