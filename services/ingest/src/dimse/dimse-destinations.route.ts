import express, { type Request } from 'express';
import { z } from 'zod';
import { auditActor, parseInput, SecureRouter, type Authenticator, type AuthedRequest } from '@yunying/auth';
import type { AdminCaller } from './dimse-devices.service';
import type { DimseDestinationsService } from './dimse-destinations.service';

const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const aeTitle = z.string().min(1).max(64);
const destinationBody = z
  .object({
    host: z.string().trim().min(1).max(253),
    port: z.number().int().min(1).max(65535),
    tls: z.boolean().default(false),
    tlsCaPem: z.string().min(1).max(65536).nullable().default(null),
    tlsServerName: z.string().trim().min(1).max(253).nullable().default(null),
    commitmentReports: z.enum(['same_association', 'new_association']).default('same_association'),
  })
  .strict();

function caller(req: AuthedRequest): AdminCaller {
  return { actor: auditActor(req.principal), sourceIp: req.ip ?? null };
}

function param(req: Request, name: string): unknown {
  return (req.params as Record<string, unknown>)[name];
}

/**
 * Admin routes of a clinic's registered remote AEs (issue #16): C-MOVE destinations and where Storage
 * Commitment reports go. Every change is audited by the service.
 */
export function dimseDestinationsRoutes(service: DimseDestinationsService, auth: Authenticator): SecureRouter {
  const routes = new SecureRouter('ingest.dimse-destinations', auth);
  const json = express.json({ limit: '80kb' });
  const admin = { scope: 'admin', roles: ['admin'] } as const;

  routes.get('/api/admin/clinics/:id/dimse-destinations', { ...admin, description: "a clinic's registered remote AEs (C-MOVE destinations, commitment reports)" }, async (req, res) => {
    res.json(await service.list(parseInput(uuid, param(req, 'id'), 'path')));
  });

  routes.put('/api/admin/clinics/:id/dimse-destinations/:ae', { ...admin, description: 'register or change a remote AE of the clinic (audited)' }, json, async (req, res) => {
    const clinicId = parseInput(uuid, param(req, 'id'), 'path');
    const ae = parseInput(aeTitle, param(req, 'ae'), 'path');
    const body = parseInput(destinationBody, req.body);
    const { destination, created } = await service.put(clinicId, ae, body, caller(req));
    res.status(created ? 201 : 200).json(destination);
  });

  routes.delete('/api/admin/clinics/:id/dimse-destinations/:ae', { ...admin, description: 'remove a remote AE of the clinic (audited)' }, async (req, res) => {
    await service.remove(parseInput(uuid, param(req, 'id'), 'path'), parseInput(aeTitle, param(req, 'ae'), 'path'), caller(req));
    res.status(204).end();
  });

  return routes;
}
