import type { Pool } from '@yunying/catalog';
import type { CommitmentReportRoute, MoveDestination } from '@yunying/dimse';

interface DestinationRow {
  ae_title: string;
  host: string;
  port: number;
  tls: boolean;
  tls_ca_pem: string | null;
  tls_server_name: string | null;
  commitment_reports: 'same_association' | 'new_association';
}

/**
 * The Move Destination of a C-MOVE, looked up among the calling clinic's registered AE titles only
 * (`dimse_move_destinations`, migration 0800): another clinic's workstation is as unknown as a typo.
 * With `tls` (migration 0802) the sub-operations go over DICOM TLS, the certificate verified against
 * `tls_ca_pem` (or the system CAs) for `tls_server_name` (or the host).
 */
export async function findMoveDestination(pool: Pool, clinicId: string, aeTitle: string): Promise<MoveDestination | null> {
  return (await findRegisteredAe(pool, clinicId, aeTitle))?.destination ?? null;
}

/**
 * Where a Storage Commitment report may go besides the requesting association (PS3.4 J.3.3): the calling
 * AE's own registration among its clinic's AEs, the same rows and tenancy as C-MOVE destinations
 * (migration 0810 adds whether it wants every report there). Unregistered: undefined.
 */
export async function findCommitmentRoute(pool: Pool, clinicId: string, callingAe: string): Promise<CommitmentReportRoute | undefined> {
  const registered = await findRegisteredAe(pool, clinicId, callingAe);
  return registered === null ? undefined : { destination: registered.destination, always: registered.commitmentReports === 'new_association' };
}

async function findRegisteredAe(pool: Pool, clinicId: string, aeTitle: string): Promise<{ destination: MoveDestination; commitmentReports: DestinationRow['commitment_reports'] } | null> {
  if (aeTitle === '') return null;
  const { rows } = await pool.query<DestinationRow>(
    'SELECT ae_title, host, port, tls, tls_ca_pem, tls_server_name, commitment_reports FROM dimse_move_destinations WHERE clinic_id = $1 AND ae_title = $2',
    [clinicId, aeTitle],
  );
  const row = rows[0];
  if (row === undefined) return null;
  const destination: MoveDestination = { aeTitle: row.ae_title, host: row.host, port: row.port };
  if (row.tls) {
    destination.tls = {
      ...(row.tls_ca_pem !== null ? { caPem: row.tls_ca_pem } : {}),
      ...(row.tls_server_name !== null ? { serverName: row.tls_server_name } : {}),
    };
  }
  return { destination, commitmentReports: row.commitment_reports };
}
