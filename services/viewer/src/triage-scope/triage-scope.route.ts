import express from 'express';
import { z } from 'zod';
import { appendAuditEvent } from '@yunying/audit';
import { auditActor, parseInput, SecureRouter, type Authenticator } from '@yunying/auth';
import { inTransaction, type Pool } from '@yunying/catalog';
import { AppError } from '@yunying/core';
import { callerOf } from '../reading/queue.route';
import { TriageScopeRepository } from './triage-scope.repository';

const json = express.json({ limit: '16kb' });
const ADMIN = { scope: 'admin', roles: ['admin'] } as const;

const rulesBody = z
  .object({
    rules: z
      .array(z.object({ pattern: z.string().trim().min(2).max(64), scope: z.enum(['thyroid', 'other']) }).strict())
      .max(100)
      .refine((rules) => new Set(rules.map((r) => r.pattern.toLowerCase())).size === rules.length, 'patterns must be unique (case-insensitive)'),
  })
  .strict();

function clinicIdParam(req: express.Request): string {
  const raw = req.params.clinicId;
  const id = typeof raw === 'string' ? raw : '';
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) throw new AppError('not_found', 'Clinic not found');
  return id;
}

/**
 * A clinic's own protocol names for the triage scope gate ("PROTO-7 small parts" -> thyroid). Read by
 * the triage worker before the built-in attribute rules; a change is audited with the rule count.
 */
export function triageScopeRoutes(pool: Pool, authenticator: Authenticator): SecureRouter {
  const routes = new SecureRouter('viewer.triage-scope', authenticator);
  const repo = new TriageScopeRepository();

  routes.get('/api/admin/clinics/:clinicId/triage-scope-rules', { ...ADMIN, description: 'the clinic’s scope-gate mapping' }, async (req, res) => {
    const clinicId = clinicIdParam(req);
    const rules = await inTransaction(pool, async (client) => {
      if (!(await repo.clinicExists(client, clinicId))) throw new AppError('not_found', 'Clinic not found');
      return repo.list(client, clinicId);
    });
    res.json({ clinicId, rules });
  });

  routes.put('/api/admin/clinics/:clinicId/triage-scope-rules', { ...ADMIN, description: 'replace the clinic’s scope-gate mapping (audited)' }, json, async (req, res) => {
    const clinicId = clinicIdParam(req);
    const { rules } = parseInput(rulesBody, req.body);
    const caller = callerOf(req);
    await inTransaction(pool, async (client) => {
      if (!(await repo.clinicExists(client, clinicId))) throw new AppError('not_found', 'Clinic not found');
      await repo.replace(client, clinicId, rules);
      await appendAuditEvent(client, {
        type: 'Security Alert',
        action: 'U',
        actor: auditActor(caller.principal),
        sourceIp: caller.sourceIp,
        clinicId,
        details: { what: 'triage-scope-rules', rules: rules.length },
      });
    });
    res.json({ clinicId, rules });
  });
  return routes;
}
