import { X509Certificate } from 'node:crypto';
import { appendAuditEvent, type AuditActor } from '@yunying/audit';
import { inTransaction, type Pool, type PoolClient } from '@yunying/catalog';
import { AppError } from '@yunying/core';

/**
 * A clinic's DICOM credentials policy and its device certificates (issue #17, migration 0901), for admins.
 * Every change is a Security Alert (subtype Security Configuration) in the same transaction.
 */
export type DimseAuthPolicy = 'credentials' | 'ae_only';

export interface DeviceCertificateView {
  fingerprintSha256: string;
  clinicId: string;
  aeTitle: string | null;
  label: string;
  createdAt: Date;
  revokedAt: Date | null;
}

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

interface CertificateRow {
  fingerprint_sha256: string;
  clinic_id: string;
  ae_title: string | null;
  label: string;
  created_at: Date;
  revoked_at: Date | null;
}

const view = (r: CertificateRow): DeviceCertificateView => ({
  fingerprintSha256: r.fingerprint_sha256,
  clinicId: r.clinic_id,
  aeTitle: r.ae_title,
  label: r.label,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

const COLUMNS = 'fingerprint_sha256, clinic_id::text, ae_title, label, created_at, revoked_at';

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

export class DimseDevicesService {
  constructor(private readonly pool: Pool) {}

  async get(clinicId: string): Promise<DimseDevicesView> {
    const clinic = await this.pool.query<{ dimse_auth: DimseAuthPolicy; networks: string[] | null }>(
      'SELECT dimse_auth, dimse_source_networks::text[] AS networks FROM clinics WHERE id = $1',
      [clinicId],
    );
    const row = clinic.rows[0];
    if (row === undefined) throw new AppError('not_found', 'No such clinic');
    const { rows } = await this.pool.query<CertificateRow>(`SELECT ${COLUMNS} FROM clinic_dimse_certificates WHERE clinic_id = $1 ORDER BY created_at`, [clinicId]);
    return { clinicId, dimseAuth: row.dimse_auth, sourceNetworks: row.networks, certificates: rows.map(view) };
  }

  async setPolicy(clinicId: string, dimseAuth: DimseAuthPolicy, caller: AdminCaller): Promise<DimseDevicesView> {
    await inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{ before: DimseAuthPolicy }>(
        'UPDATE clinics c SET dimse_auth = $2 FROM (SELECT dimse_auth AS before FROM clinics WHERE id = $1 FOR UPDATE) b WHERE c.id = $1 RETURNING b.before',
        [clinicId, dimseAuth],
      );
      const before = rows[0]?.before;
      if (before === undefined) throw new AppError('not_found', 'No such clinic');
      await recordSecurityConfiguration(client, caller, clinicId, { change: 'dimse-auth-changed', from: before, to: dimseAuth });
    });
    return this.get(clinicId);
  }

  /** Binds the clinic's associations to these networks (CIDR), or to any address with null. */
  async setSourceNetworks(clinicId: string, networks: string[] | null, caller: AdminCaller): Promise<DimseDevicesView> {
    if (networks !== null) {
      if (networks.length === 0 || networks.length > 64) throw new AppError('bad_request', 'sourceNetworks: 1 to 64 networks, or null for any address');
      // PostgreSQL's cidr input decides what a network is (it refuses host bits right of the mask, "10.0.0.1/8").
      await this.pool.query('SELECT n::cidr FROM unnest($1::text[]) AS n', [networks]).catch((error: unknown) => {
        if ((error as { code?: string }).code === '22P02') throw new AppError('bad_request', 'sourceNetworks: each a network in CIDR notation (10.1.0.0/16, 2001:db8::/32) with no host bits set');
        throw error;
      });
    }
    await inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{ before: string[] | null }>(
        `UPDATE clinics c SET dimse_source_networks = $2::cidr[]
           FROM (SELECT dimse_source_networks::text[] AS before FROM clinics WHERE id = $1 FOR UPDATE) b
          WHERE c.id = $1 RETURNING b.before`,
        [clinicId, networks],
      );
      if (rows.length === 0) throw new AppError('not_found', 'No such clinic');
      const before = rows[0]?.before ?? null;
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
      const clinic = await client.query('SELECT 1 FROM clinics WHERE id = $1', [input.clinicId]);
      if (clinic.rowCount === 0) throw new AppError('not_found', 'No such clinic');
      if (aeTitle !== null) {
        const ae = await client.query('SELECT 1 FROM clinic_ae_titles WHERE ae_title = $1 AND clinic_id = $2', [aeTitle, input.clinicId]);
        if (ae.rowCount === 0) throw new AppError('bad_request', "aeTitle: not one of this clinic's AE titles");
      }
      const { rows } = await client.query<CertificateRow>(
        `INSERT INTO clinic_dimse_certificates (fingerprint_sha256, clinic_id, ae_title, label) VALUES ($1, $2, $3, $4)
         ON CONFLICT (fingerprint_sha256) DO NOTHING RETURNING ${COLUMNS}`,
        [certificate.fingerprint256, input.clinicId, aeTitle, input.label],
      );
      const row = rows[0];
      if (row === undefined) throw new AppError('conflict', 'This certificate is already registered');
      await recordSecurityConfiguration(client, caller, input.clinicId, { change: 'dimse-certificate-registered', fingerprintSha256: row.fingerprint_sha256, aeTitle, validTo: certificate.validTo });
      return view(row);
    });
  }

  async revoke(fingerprintSha256: string, caller: AdminCaller): Promise<DeviceCertificateView> {
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<CertificateRow>(
        `UPDATE clinic_dimse_certificates SET revoked_at = COALESCE(revoked_at, now()) WHERE fingerprint_sha256 = $1 RETURNING ${COLUMNS}`,
        [fingerprintSha256],
      );
      const row = rows[0];
      if (row === undefined) throw new AppError('not_found', 'No such certificate');
      await recordSecurityConfiguration(client, caller, row.clinic_id, { change: 'dimse-certificate-revoked', fingerprintSha256 });
      return view(row);
    });
  }
}

