import express from 'express';
import { parseInput, SecureRouter, type AuthedRequest, type Authenticator } from '@yunying/auth';
import type { Caller } from './reading.audit';
import { dicomUid, queueQuery } from './reading.schemas';
import type { QueueService } from './queue.service';

const json = express.json({ limit: '16kb' });

/** The caller and where the request came from, as the services and the audit record need them. */
export function callerOf(req: AuthedRequest): Caller {
  return { principal: req.principal, sourceIp: req.ip ?? null };
}

export function studyUidParam(req: AuthedRequest): string {
  return parseInput(dicomUid, req.params.studyUid, 'studyUid');
}

// Readers only: admins manage accounts and auditors check copies; neither reads studies (ARCHITECTURE.md,
// "Who uses it"). Devices never: a claim and a report belong to a person.
const READER = { scope: 'clinic-data', roles: ['radiologist'] } as const;

/** GET /api/queue, POST /api/queue/:studyUid/claim|release. */
export function queueRoutes(queue: QueueService, authenticator: Authenticator): SecureRouter {
  const routes = new SecureRouter('viewer.queue', authenticator);

  routes.get('/api/queue', { ...READER, description: 'reading queue of the caller’s granted clinics, triage order, keyset paging' }, async (req, res) => {
    const query = parseInput(queueQuery, req.query, 'query');
    res.setHeader('Cache-Control', 'no-store');
    res.json(await queue.list(callerOf(req), query));
  });

  routes.post('/api/queue/:studyUid/claim', { ...READER, description: 'claim (or renew the claim of) a study for reading' }, json, async (req, res) => {
    res.json(await queue.claim(callerOf(req), studyUidParam(req)));
  });

  routes.post('/api/queue/:studyUid/release', { ...READER, description: 'give a claimed study back to the queue' }, json, async (req, res) => {
    res.json(await queue.release(callerOf(req), studyUidParam(req)));
  });

  return routes;
}
