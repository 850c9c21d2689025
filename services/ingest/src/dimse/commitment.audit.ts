import { appendAuditEvent } from '@yunying/audit';
import { inTransaction, type Pool } from '@yunying/catalog';
import type { CommitmentDelivery, CommitmentResult } from '@yunying/dimse';

const hex = (status: number): string => `0x${status.toString(16).toUpperCase().padStart(4, '0')}`;

export interface CommitmentAuditInput {
  clinicId: string;
  callingAe: string;
  sourceIp: string | null;
  transactionUid: string;
  result: CommitmentResult;
  /** Studies of this clinic's instances named in the request. */
  studyUids: readonly string[];
  delivery: CommitmentDelivery;
  /** The registered AE the report went to on a new association. */
  reportedTo?: string;
  /** Set on a delivery by the retrier: which attempt it was, or that the report was given up. */
  retry?: { attempt: number; outcome: 'delivered' | 'scheduled' | 'gave-up' };
  /** UIDs named per list; beyond it only the count. */
  auditUids: number;
}

/**
 * One audit record per delivery outcome of a Storage Commitment report (PS3.15 A.5.3.2 DICOM Instances
 * Accessed, action R: the archive read its holdings for the device): the transaction, the studies, the
 * instance UIDs with their verdicts and how the report was delivered; never a patient attribute.
 * Outcome 0: all committed and the SCU has the report; 4: some failed; 8: the report did not reach the SCU.
 */
export async function auditCommitmentReport(pool: Pool, input: CommitmentAuditInput): Promise<void> {
  const { result, delivery, studyUids, auditUids: limit } = input;
  const delivered = delivery.via !== 'none' && delivery.status === 0;
  await inTransaction(pool, (client) =>
    appendAuditEvent(client, {
      type: 'DICOM Instances Accessed',
      action: 'R',
      outcome: !delivered ? 8 : result.failed.length > 0 ? 4 : 0,
      actor: { username: `ae:${input.callingAe}`, role: 'device', clinicId: input.clinicId },
      sourceIp: input.sourceIp,
      clinicId: input.clinicId,
      studyInstanceUid: studyUids.length === 1 ? (studyUids[0] ?? null) : null,
      details: {
        via: 'DIMSE',
        service: 'Storage Commitment',
        transactionUid: input.transactionUid,
        references: result.committed.length + result.failed.length,
        committed: result.committed.length,
        failed: result.failed.length,
        committedSopInstanceUids: result.committed.slice(0, limit).map((r) => r.sopInstanceUid),
        failedSopInstances: result.failed.slice(0, limit).map((r) => ({ sopInstanceUid: r.sopInstanceUid, failureReason: hex(r.failureReason) })),
        uidsOmitted: Math.max(0, result.committed.length - limit) + Math.max(0, result.failed.length - limit),
        studyInstanceUids: studyUids.slice(0, limit),
        studyInstanceUidsOmitted: Math.max(0, studyUids.length - limit),
        report: delivery.via,
        ...(delivery.via === 'none' ? { reportFailure: delivery.reason } : { reportStatus: hex(delivery.status) }),
        ...(delivery.via === 'new_association' && input.reportedTo !== undefined ? { reportedTo: input.reportedTo } : {}),
        ...(input.retry !== undefined ? { retryAttempt: input.retry.attempt, retry: input.retry.outcome } : {}),
      },
    }),
  );
}
