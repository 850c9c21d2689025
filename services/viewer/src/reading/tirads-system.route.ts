import express from 'express';
import { z } from 'zod';
import { appendAuditEvent } from '@yunying/audit';
import { auditActor, parseInput, SecureRouter, type Authenticator } from '@yunying/auth';
import { inTransaction, type Pool } from '@yunying/catalog';
import { AppError } from '@yunying/core';
import { TIRADS_SYSTEMS } from '@yunying/nodule-model/tirads-report';
import { callerOf } from './queue.route';
import { ReportRepository } from './report.repository';

const json = express.json({ limit: '4kb' });
const ADMIN = { scope: 'admin', roles: ['admin'] } as const;
const body = z.object({ system: z.enum(TIRADS_SYSTEMS) }).strict();

function clinicIdParam(raw: unknown): string {
  const id = typeof raw === 'string' ? raw : '';
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) throw new AppError('not_found', 'Clinic not found');
  return id;
}

/**
 * The clinic's TI-RADS system for new reports (#20): ACR TI-RADS 2017 or C-TIRADS 2020. Reports begun
 * before a change keep the system they were begun in. Admins only; a change is audited.
 */
export function tiradsSystemRoutes(pool: Pool, authenticator: Authenticator): SecureRouter {
  const routes = new SecureRouter('viewer.tirads-system', authenticator);
  const reports = new ReportRepository();
  routes.get('/api/admin/clinics/:clinicId/tirads-system', { ...ADMIN, description: 'the clinic’s TI-RADS system for new reports' }, async (req, res) => {
    const clinicId = clinicIdParam(req.params.clinicId);
    const system = await reports.chosenSystem(pool, clinicId);
    if (system === null) throw new AppError('not_found', 'Clinic not found');
    res.json({ clinicId, system });
  });
  routes.put('/api/admin/clinics/:clinicId/tirads-system', { ...ADMIN, description: 'choose the clinic’s TI-RADS system for new reports (audited)' }, json, async (req, res) => {
    const clinicId = clinicIdParam(req.params.clinicId);
    const { system } = parseInput(body, req.body);
    const caller = callerOf(req);
    await inTransaction(pool, async (client) => {
      if (!(await reports.chooseSystem(client, clinicId, system))) throw new AppError('not_found', 'Clinic not found');
      await appendAuditEvent(client, { type: 'Security Alert', action: 'U', actor: auditActor(caller.principal), sourceIp: caller.sourceIp, clinicId, details: { what: 'tirads-system', system } });
    });
    res.json({ clinicId, system });
  });
  return routes;
}
