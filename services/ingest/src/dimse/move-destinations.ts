import type { Pool } from '@yunying/catalog';
import type { CommitmentReportRoute, MoveDestination } from '@yunying/dimse';
import { findDestination, type CommitmentReports } from './dimse-destinations.repository';

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

async function findRegisteredAe(pool: Pool, clinicId: string, aeTitle: string): Promise<{ destination: MoveDestination; commitmentReports: CommitmentReports } | null> {
  if (aeTitle === '') return null;
  const row = await findDestination(pool, clinicId, aeTitle);
  if (row === undefined) return null;
  const destination: MoveDestination = { aeTitle: row.aeTitle, host: row.host, port: row.port };
  if (row.tls) {
    destination.tls = {
      ...(row.tlsCaPem !== null ? { caPem: row.tlsCaPem } : {}),
      ...(row.tlsServerName !== null ? { serverName: row.tlsServerName } : {}),
    };
  }
  return { destination, commitmentReports: row.commitmentReports };
}
