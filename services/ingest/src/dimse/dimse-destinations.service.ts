import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import { inTransaction, type Pool } from '@yunying/catalog';
import { AppError } from '@yunying/core';
import { recordSecurityConfiguration, type AdminCaller } from './dimse-devices.service';

/**
 * A clinic's registered remote AEs (issue #16, migrations 0800/0802/0810): where C-MOVE sends a clinic's
 * studies and where Storage Commitment reports go on a new association. Until now they were set by SQL;
 * this is the admin's way, each change a Security Alert (subtype Security Configuration) in the same
 * transaction, since a destination decides where patients' images may leave the archive to.
 */
export type CommitmentReports = 'same_association' | 'new_association';

export interface DestinationInput {
  host: string;
  port: number;
  tls: boolean;
  tlsCaPem: string | null;
  tlsServerName: string | null;
  commitmentReports: CommitmentReports;
}

export interface DestinationView extends DestinationInput {
  clinicId: string;
  aeTitle: string;
  createdAt: Date;
}

interface DestinationRow {
  clinic_id: string;
  ae_title: string;
  host: string;
  port: number;
  tls: boolean;
  tls_ca_pem: string | null;
  tls_server_name: string | null;
  commitment_reports: CommitmentReports;
  created_at: Date;
}

const COLUMNS = 'clinic_id::text, ae_title, host, port, tls, tls_ca_pem, tls_server_name, commitment_reports, created_at';

const view = (r: DestinationRow): DestinationView => ({
  clinicId: r.clinic_id,
  aeTitle: r.ae_title,
  host: r.host,
  port: r.port,
  tls: r.tls,
  tlsCaPem: r.tls_ca_pem,
  tlsServerName: r.tls_server_name,
  commitmentReports: r.commitment_reports,
  createdAt: r.created_at,
});

/** AE titles (PS3.5 AE VR): up to 16 characters of the default repertoire, no backslash or control characters, not all spaces. */
export function validAeTitle(ae: string): boolean {
  return ae.length >= 1 && ae.length <= 16 && /^[\x20-\x5b\x5d-\x7e]+$/.test(ae) && ae.trim() !== '';
}

/** A host name (RFC 1123 labels) or an IP address. */
export function validHost(host: string): boolean {
  if (net.isIP(host) !== 0) return true;
  return host.length <= 253 && host.split('.').every((label) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label));
}

function checkInput(input: DestinationInput): void {
  if (!validHost(input.host)) throw new AppError('bad_request', 'host: not a host name or an IP address');
  if (!input.tls && (input.tlsCaPem !== null || input.tlsServerName !== null)) {
    throw new AppError('bad_request', 'tlsCaPem and tlsServerName apply only with tls: true');
  }
  if (input.tlsServerName !== null && !validHost(input.tlsServerName)) throw new AppError('bad_request', 'tlsServerName: not a host name');
  if (input.tlsCaPem !== null) {
    try {
      new X509Certificate(input.tlsCaPem);
    } catch {
      throw new AppError('bad_request', 'tlsCaPem: not a PEM X.509 certificate');
    }
  }
}

export class DimseDestinationsService {
  constructor(private readonly pool: Pool) {}

  async list(clinicId: string): Promise<DestinationView[]> {
    const clinic = await this.pool.query('SELECT 1 FROM clinics WHERE id = $1', [clinicId]);
    if (clinic.rowCount === 0) throw new AppError('not_found', 'No such clinic');
    const { rows } = await this.pool.query<DestinationRow>(`SELECT ${COLUMNS} FROM dimse_move_destinations WHERE clinic_id = $1 ORDER BY ae_title`, [clinicId]);
    return rows.map(view);
  }

  /** Registers or changes the clinic's destination with this AE title. */
  async put(clinicId: string, ae: string, input: DestinationInput, caller: AdminCaller): Promise<{ destination: DestinationView; created: boolean }> {
    const aeTitle = ae.trim(); // leading and trailing spaces of an AE title are not significant (PS3.5 6.2)
    if (!validAeTitle(aeTitle)) throw new AppError('bad_request', 'aeTitle: 1-16 characters of the DICOM default repertoire, no backslash');
    checkInput(input);
    return inTransaction(this.pool, async (client) => {
      const clinic = await client.query('SELECT 1 FROM clinics WHERE id = $1', [clinicId]);
      if (clinic.rowCount === 0) throw new AppError('not_found', 'No such clinic');
      const { rows } = await client.query<DestinationRow & { created: boolean }>(
        `INSERT INTO dimse_move_destinations (clinic_id, ae_title, host, port, tls, tls_ca_pem, tls_server_name, commitment_reports)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (clinic_id, ae_title) DO UPDATE SET host = EXCLUDED.host, port = EXCLUDED.port, tls = EXCLUDED.tls,
           tls_ca_pem = EXCLUDED.tls_ca_pem, tls_server_name = EXCLUDED.tls_server_name, commitment_reports = EXCLUDED.commitment_reports
         RETURNING ${COLUMNS}, (xmax = 0) AS created`,
        [clinicId, aeTitle, input.host, input.port, input.tls, input.tlsCaPem, input.tlsServerName, input.commitmentReports],
      );
      const row = rows[0];
      if (row === undefined) throw new AppError('internal', 'destination not written');
      await recordSecurityConfiguration(client, caller, clinicId, {
        change: row.created ? 'dimse-destination-registered' : 'dimse-destination-changed',
        aeTitle,
        host: input.host,
        port: input.port,
        tls: input.tls,
        commitmentReports: input.commitmentReports,
      });
      return { destination: view(row), created: row.created };
    });
  }

  /** Removes a destination: later C-MOVEs to it fail with 0xA801 (unknown destination). */
  async remove(clinicId: string, ae: string, caller: AdminCaller): Promise<void> {
    const aeTitle = ae.trim();
    await inTransaction(this.pool, async (client) => {
      const { rowCount } = await client.query('DELETE FROM dimse_move_destinations WHERE clinic_id = $1 AND ae_title = $2', [clinicId, aeTitle]);
      if (rowCount === 0) throw new AppError('not_found', 'No such destination');
      await recordSecurityConfiguration(client, caller, clinicId, { change: 'dimse-destination-removed', aeTitle });
    });
  }
}
