import { X509Certificate } from 'node:crypto';
import { appendAuditEvent, type AuditActor } from '@yunying/audit';
import { inTransaction, type Pool, type PoolClient } from '@yunying/catalog';
import { AppError } from '@yunying/core';
import {
  clinicExists,
  findClinicDimse,
  insertCertificate,
  isAeTitleOfClinic,
  listCertificates,
  parseNetworks,
  revokeCertificate,
  swapDimseAuth,
  swapSourceNetworks,
  type DeviceCertificate,
  type DimseAuthPolicy,
} from './dimse-devices.repository';

export type { DimseAuthPolicy };

/** A registered device certificate as the admin API shows it: the catalog row. */
export type DeviceCertificateView = DeviceCertificate;

export interface DimseDevicesView {
  clinicId: string;
  dimseAuth: DimseAuthPolicy;
  /** Networks (CIDR) the clinic's associations must come from; null: any address. */
  sourceNetworks: string[] | null;
  certificates: DeviceCertificateView[];
}

export interface AdminCaller {
  actor: AuditActor;
  sourceIp: string | null;
}

/** A change of a clinic's DICOM security settings: a Security Alert (Security Configuration) in the caller's transaction. */
export async function recordSecurityConfiguration(
  client: PoolClient,
  caller: AdminCaller,
  clinicId: string,
  details: Record<string, string | number | boolean | null>,
): Promise<void> {
  await appendAuditEvent(client, {
    type: 'Security Alert',
    outcome: 0,
    actor: caller.actor,
    sourceIp: caller.sourceIp,
    clinicId,
    details: { subtype: 'Security Configuration', ...details },
  });
}

/**
 * A clinic's DICOM credentials policy and its device certificates (issue #17, migration 0901), for admins.
 * Every change is a Security Alert (subtype Security Configuration) in the same transaction.
 */
export class DimseDevicesService {
  constructor(private readonly pool: Pool) {}

  async get(clinicId: string): Promise<DimseDevicesView> {
    const clinic = await findClinicDimse(this.pool, clinicId);
    if (clinic === undefined) throw new AppError('not_found', 'No such clinic');
    return { clinicId, dimseAuth: clinic.dimseAuth, sourceNetworks: clinic.sourceNetworks, certificates: await listCertificates(this.pool, clinicId) };
  }

  async setPolicy(clinicId: string, dimseAuth: DimseAuthPolicy, caller: AdminCaller): Promise<DimseDevicesView> {
    await inTransaction(this.pool, async (client) => {
      const before = await swapDimseAuth(client, clinicId, dimseAuth);
      if (before === undefined) throw new AppError('not_found', 'No such clinic');
      await recordSecurityConfiguration(client, caller, clinicId, { change: 'dimse-auth-changed', from: before, to: dimseAuth });
    });
    return this.get(clinicId);
  }

  /** Binds the clinic's associations to these networks (CIDR), or to any address with null. */
  async setSourceNetworks(clinicId: string, networks: string[] | null, caller: AdminCaller): Promise<DimseDevicesView> {
    if (networks !== null) {
      if (networks.length === 0 || networks.length > 64) throw new AppError('bad_request', 'sourceNetworks: 1 to 64 networks, or null for any address');
      await parseNetworks(this.pool, networks).catch((error: unknown) => {
        if ((error as { code?: string }).code === '22P02') throw new AppError('bad_request', 'sourceNetworks: each a network in CIDR notation (10.1.0.0/16, 2001:db8::/32) with no host bits set');
        throw error;
      });
    }
    await inTransaction(this.pool, async (client) => {
      const swapped = await swapSourceNetworks(client, clinicId, networks);
      if (swapped === undefined) throw new AppError('not_found', 'No such clinic');
      const { before } = swapped;
      await recordSecurityConfiguration(client, caller, clinicId, { change: 'dimse-source-networks-changed', from: before === null ? null : before.join(','), to: networks === null ? null : networks.join(',') });
    });
    return this.get(clinicId);
  }

  /** Registers a device certificate (PEM) for the clinic, pinned by its SHA-256 fingerprint. */
  async register(input: { clinicId: string; certificatePem: string; aeTitle?: string | null; label: string }, caller: AdminCaller): Promise<DeviceCertificateView> {
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(input.certificatePem);
    } catch {
      throw new AppError('bad_request', 'certificate: not a PEM X.509 certificate');
    }
    const aeTitle = input.aeTitle?.trim() || null;
    return inTransaction(this.pool, async (client) => {
      if (!(await clinicExists(client, input.clinicId))) throw new AppError('not_found', 'No such clinic');
      if (aeTitle !== null && !(await isAeTitleOfClinic(client, aeTitle, input.clinicId))) throw new AppError('bad_request', "aeTitle: not one of this clinic's AE titles");
      const row = await insertCertificate(client, { fingerprintSha256: certificate.fingerprint256, clinicId: input.clinicId, aeTitle, label: input.label });
      if (row === undefined) throw new AppError('conflict', 'This certificate is already registered');
      await recordSecurityConfiguration(client, caller, input.clinicId, { change: 'dimse-certificate-registered', fingerprintSha256: row.fingerprintSha256, aeTitle, validTo: certificate.validTo });
      return row;
    });
  }

  async revoke(fingerprintSha256: string, caller: AdminCaller): Promise<DeviceCertificateView> {
    return inTransaction(this.pool, async (client) => {
      const row = await revokeCertificate(client, fingerprintSha256);
      if (row === undefined) throw new AppError('not_found', 'No such certificate');
      await recordSecurityConfiguration(client, caller, row.clinicId, { change: 'dimse-certificate-revoked', fingerprintSha256 });
      return row;
    });
  }
}

