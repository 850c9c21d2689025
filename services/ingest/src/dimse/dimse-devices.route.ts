import express, { type Request } from 'express';
import { z } from 'zod';
import { auditActor, parseInput, SecureRouter, type Authenticator, type AuthedRequest } from '@yunying/auth';
import type { AdminCaller, DimseDevicesService } from './dimse-devices.service';

const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const fingerprint = z.string().regex(/^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/, 'a SHA-256 fingerprint: 32 upper-case hex pairs joined by ":"');
const policyBody = z.object({ dimseAuth: z.enum(['credentials', 'ae_only']) }).strict();
const networksBody = z.object({ sourceNetworks: z.array(z.string().min(1).max(64)).max(64).nullable() }).strict();
const certificateBody = z
  .object({
    certificate: z.string().min(1).max(20_000),
    aeTitle: z.string().min(1).max(16).nullable().optional(),
    label: z.string().trim().min(1).max(128),
  })
  .strict();

function caller(req: AuthedRequest): AdminCaller {
  return { actor: auditActor(req.principal), sourceIp: req.ip ?? null };
}

function param(req: Request, name: string): unknown {
  return (req.params as Record<string, unknown>)[name];
}

/**
 * Admin routes of a clinic's DICOM credentials (issue #17): whether its associations need credentials, and its
 * device certificates for DICOM TLS (registered by PEM, pinned by fingerprint, revoked, never deleted).
 */
export function dimseDevicesRoutes(service: DimseDevicesService, auth: Authenticator): SecureRouter {
  const routes = new SecureRouter('ingest.dimse-devices', auth);
  const json = express.json({ limit: '32kb' });
  const admin = { scope: 'admin', roles: ['admin'] } as const;

  routes.get('/api/admin/clinics/:id/dimse', { ...admin, description: "a clinic's DICOM credentials policy and device certificates" }, async (req, res) => {
    res.json(await service.get(parseInput(uuid, param(req, 'id'), 'path')));
  });

  routes.put('/api/admin/clinics/:id/dimse-auth', { ...admin, description: 'require DICOM credentials, or accept the AE title alone (audited)' }, json, async (req, res) => {
    const clinicId = parseInput(uuid, param(req, 'id'), 'path');
    const body = parseInput(policyBody, req.body);
    res.json(await service.setPolicy(clinicId, body.dimseAuth, caller(req)));
  });

  routes.put('/api/admin/clinics/:id/dimse-source-networks', { ...admin, description: "bind the clinic's DICOM associations to source networks, or null for any address (audited)" }, json, async (req, res) => {
    const clinicId = parseInput(uuid, param(req, 'id'), 'path');
    const body = parseInput(networksBody, req.body);
    res.json(await service.setSourceNetworks(clinicId, body.sourceNetworks, caller(req)));
  });

  routes.post('/api/admin/clinics/:id/dimse-certificates', { ...admin, description: 'register a DICOM TLS device certificate (PEM) for the clinic (audited)' }, json, async (req, res) => {
    const clinicId = parseInput(uuid, param(req, 'id'), 'path');
    const body = parseInput(certificateBody, req.body);
    res.status(201).json(await service.register({ clinicId, certificatePem: body.certificate, aeTitle: body.aeTitle ?? null, label: body.label }, caller(req)));
  });

  routes.post('/api/admin/dimse-certificates/:fingerprint/revoke', { ...admin, description: 'revoke a DICOM TLS device certificate (audited)' }, async (req, res) => {
    res.json(await service.revoke(parseInput(fingerprint, param(req, 'fingerprint'), 'path'), caller(req)));
  });

  return routes;
}
