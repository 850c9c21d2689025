import type { Pool } from '@yunying/catalog';
import type { CommitmentHandler, CommitmentRequest, CommitmentResult, StoreContext } from '@yunying/dimse';
import type { ClinicSession } from './find.handler';

export interface CommitmentHandlerOptions {
  pool: Pool;
  /** The replica targets every instance must have a verified copy on (the ReplicatedStore's, by name). */
  targets: readonly string[];
  /** Told the verdicts of each request (metrics). */
  onChecked?: (result: CommitmentResult) => void;
}

/** Failure Reasons (0008,1197) of PS3.4 J.3.2.1.1.2 / C.4. */
const FailureReason = { ProcessingFailure: 0x0110, NoSuchObjectInstance: 0x0112, ClassInstanceConflict: 0x0119 } as const;

interface Row {
  sop_instance_uid: string;
  sop_class_uid: string;
  durable_copies: number;
}

/**
 * Storage Commitment of the archive (PS3.4 J): an instance is committed only when the catalog has its
 * current version in the calling AE's clinic and a copy in state `ok` (written and verified, not merely
 * received) on every configured replica target. Otherwise it fails: 0x0112 when the catalog does not
 * have it for this clinic (another clinic's instance is indistinguishable from an unknown one), 0x0119
 * when it is stored under another SOP class, 0x0110 while a copy is missing, corrupt or not yet written.
 */
export function archiveCommitmentHandler(options: CommitmentHandlerOptions): CommitmentHandler<ClinicSession> {
  const { pool, targets } = options;
  return async function commit(request: CommitmentRequest, context: StoreContext<ClinicSession>): Promise<CommitmentResult> {
    const uids = [...new Set(request.references.map((r) => r.sopInstanceUid))];
    const { rows } = await pool.query<Row>(
      `SELECT i.sop_instance_uid, i.sop_class_uid,
          (SELECT count(DISTINCT c.target) FROM copies c WHERE c.sha256 = i.sha256 AND c.state = 'ok' AND c.target = ANY($3::text[]))::int AS durable_copies
       FROM instances i JOIN studies s ON s.id = i.study_ref
       WHERE i.is_current AND s.clinic_id = $1 AND i.sop_instance_uid = ANY($2::text[])`,
      [context.session.clinicId, uids, [...targets]],
    );
    const found = new Map(rows.map((row) => [row.sop_instance_uid, row]));
    const result: CommitmentResult = { committed: [], failed: [] };
    for (const reference of request.references) {
      const row = found.get(reference.sopInstanceUid);
      if (row === undefined) result.failed.push({ ...reference, failureReason: FailureReason.NoSuchObjectInstance });
      else if (row.sop_class_uid !== reference.sopClassUid) result.failed.push({ ...reference, failureReason: FailureReason.ClassInstanceConflict });
      else if (row.durable_copies < targets.length) result.failed.push({ ...reference, failureReason: FailureReason.ProcessingFailure });
      else result.committed.push(reference);
    }
    options.onChecked?.(result);
    return result;
  };
}
