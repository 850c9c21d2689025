import type { Pool } from '@yunying/catalog';
import type { CommitmentDelivery, CommitmentHandler, CommitmentPlan, CommitmentRequest, CommitmentResult, StoreContext } from '@yunying/dimse';
import type { ClinicSession } from './find.handler';
import { auditCommitmentReport } from './commitment.audit';
import { findCommittableInstances, recordUndeliveredReport } from './commitment.repository';
import { findCommitmentRoute } from './move-destinations';

export interface CommitmentHandlerOptions {
  pool: Pool;
  /** The replica targets every instance must have a verified copy on (the ReplicatedStore's, by name). */
  targets: readonly string[];
  /** Told the verdicts of each request (metrics). */
  onChecked?: (result: CommitmentResult) => void;
  /** UIDs named in one audit record (per list); beyond it only the count. */
  auditUids?: number;
  /** When set, a report that reached nobody is kept and retried (CommitmentRetrier) on this schedule. */
  retry?: { firstRetryMs: number; keepForMs: number };
}

const DEFAULT_AUDIT_UIDS = 100;

/** Failure Reasons (0008,1197) of PS3.4 J.3.2.1.1.2 / C.4. */
const FailureReason = { ProcessingFailure: 0x0110, NoSuchObjectInstance: 0x0112, ClassInstanceConflict: 0x0119 } as const;

/**
 * Storage Commitment of the archive (PS3.4 J): an instance is committed only when the catalog has its
 * current version in the calling AE's clinic and a copy in state `ok` (written and verified, not merely
 * received) on every configured replica target. Otherwise it fails: 0x0112 when the catalog does not
 * have it for this clinic (another clinic's instance is indistinguishable from an unknown one), 0x0119
 * when it is stored under another SOP class, 0x0110 while a copy is missing, corrupt or not yet written.
 *
 * The report goes where the calling AE's registration says (`dimse_move_destinations`, same tenancy as
 * C-MOVE): on the requesting association, or on a new one to its address. Once it went out (or could
 * not), one audit record (PS3.15 A.5.3.2 DICOM Instances Accessed, action R: the archive read its holdings
 * for the device) names the transaction, the studies of the committed and stored-but-failed instances,
 * the instance UIDs with their verdicts and how the report was delivered; never a patient attribute. A
 * report that reached nobody is kept for the retrier (`retry`), which audits its later delivery.
 */
export function archiveCommitmentHandler(options: CommitmentHandlerOptions): CommitmentHandler<ClinicSession> {
  const { pool, targets } = options;
  const auditLimit = options.auditUids ?? DEFAULT_AUDIT_UIDS;
  return async function commit(request: CommitmentRequest, context: StoreContext<ClinicSession>): Promise<CommitmentPlan> {
    const { clinicId } = context.session;
    const uids = [...new Set(request.references.map((r) => r.sopInstanceUid))];
    const rows = await findCommittableInstances(pool, clinicId, uids, targets);
    const found = new Map(rows.map((row) => [row.sopInstanceUid, row]));
    const result: CommitmentResult = { committed: [], failed: [] };
    for (const reference of request.references) {
      const row = found.get(reference.sopInstanceUid);
      if (row === undefined) result.failed.push({ ...reference, failureReason: FailureReason.NoSuchObjectInstance });
      else if (row.sopClassUid !== reference.sopClassUid) result.failed.push({ ...reference, failureReason: FailureReason.ClassInstanceConflict });
      else if (row.durableCopies < targets.length) result.failed.push({ ...reference, failureReason: FailureReason.ProcessingFailure });
      else result.committed.push(reference);
    }
    options.onChecked?.(result);
    const route = await findCommitmentRoute(pool, clinicId, context.callingAe);
    // Studies of this clinic's instances only: an unknown or other clinic's UID reveals no study.
    const studyUids = [...new Set(rows.map((row) => row.studyInstanceUid))];

    const reported = async (delivery: CommitmentDelivery): Promise<void> => {
      const { retry } = options;
      const undelivered = delivery.via === 'none' && retry !== undefined;
      if (undelivered) {
        // Kept before the audit says so: the record of a scheduled retry is never written for a report that is not owed.
        await recordUndeliveredReport(pool, { clinicId, callingAe: context.callingAe, transactionUid: request.transactionUid, result, studyUids }, retry.firstRetryMs, retry.keepForMs);
      }
      await auditCommitmentReport(pool, {
        clinicId,
        callingAe: context.callingAe,
        sourceIp: context.remoteAddress,
        transactionUid: request.transactionUid,
        result,
        studyUids,
        delivery,
        ...(route !== undefined ? { reportedTo: route.destination.aeTitle } : {}),
        ...(undelivered ? { retry: { attempt: 0, outcome: 'scheduled' as const } } : {}),
        auditUids: auditLimit,
      });
    };
    return { result, ...(route !== undefined ? { route } : {}), reported };
  };
}
