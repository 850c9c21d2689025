import type { Pool, PoolClient } from '@yunying/catalog';
import type { CommitmentResult } from '@yunying/dimse';

/** A Storage Commitment report still owed to an SCU (`dimse_commitment_pending`). */
export interface PendingReport {
  id: string;
  clinicId: string;
  callingAe: string;
  transactionUid: string;
  result: CommitmentResult;
  studyUids: string[];
  /** Delivery attempts made by the retrier so far. */
  attempts: number;
  expiresAt: Date;
}

interface Row {
  id: string;
  clinic_id: string;
  calling_ae: string;
  transaction_uid: string;
  result: CommitmentResult;
  study_uids: string[];
  attempts: number;
  expires_at: Date;
}

const fromRow = (row: Row): PendingReport => ({
  id: row.id,
  clinicId: row.clinic_id,
  callingAe: row.calling_ae,
  transactionUid: row.transaction_uid,
  result: row.result,
  studyUids: row.study_uids,
  attempts: row.attempts,
  expiresAt: row.expires_at,
});

/**
 * Keeps an undelivered report until the SCU has it. The same transaction asked again (an SCU retrying
 * its N-ACTION) replaces the owed verdict with the newer one and starts the schedule afresh.
 */
export async function recordUndeliveredReport(
  pool: Pool,
  report: { clinicId: string; callingAe: string; transactionUid: string; result: CommitmentResult; studyUids: readonly string[] },
  firstRetryInMs: number,
  keepForMs: number,
): Promise<void> {
  await pool.query(
    `INSERT INTO dimse_commitment_pending (clinic_id, calling_ae, transaction_uid, result, study_uids, next_attempt_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6::double precision / 1000), now() + make_interval(secs => $7::double precision / 1000))
     ON CONFLICT (clinic_id, calling_ae, transaction_uid) DO UPDATE
       SET result = EXCLUDED.result, study_uids = EXCLUDED.study_uids, attempts = 0, last_error = NULL,
           next_attempt_at = EXCLUDED.next_attempt_at, expires_at = EXCLUDED.expires_at`,
    [report.clinicId, report.callingAe, report.transactionUid, JSON.stringify(report.result), [...report.studyUids], firstRetryInMs, keepForMs],
  );
}

/**
 * Takes up to `limit` reports that are due and pushes their next attempt `leaseMs` ahead, in one
 * statement: two archive processes never retry the same report at once (SKIP LOCKED), and a process that
 * dies mid-attempt leaves the report due again after the lease.
 */
export async function claimDueReports(client: Pool | PoolClient, limit: number, leaseMs: number): Promise<PendingReport[]> {
  const { rows } = await client.query<Row>(
    `UPDATE dimse_commitment_pending p SET next_attempt_at = now() + make_interval(secs => $2::double precision / 1000)
       FROM (SELECT id FROM dimse_commitment_pending WHERE next_attempt_at <= now() ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) due
      WHERE p.id = due.id
      RETURNING p.id::text, p.clinic_id, p.calling_ae, p.transaction_uid, p.result, p.study_uids, p.attempts, p.expires_at`,
    [limit, leaseMs],
  );
  return rows.map(fromRow);
}

/** The report reached the SCU, or was given up: it is no longer owed. */
export async function forgetReport(pool: Pool, id: string): Promise<void> {
  await pool.query('DELETE FROM dimse_commitment_pending WHERE id = $1', [id]);
}

/** One more failed attempt: next one after `retryInMs`. The error names the AE and the cause, no patient data. */
export async function rescheduleReport(pool: Pool, id: string, retryInMs: number, error: string): Promise<void> {
  await pool.query(
    `UPDATE dimse_commitment_pending SET attempts = attempts + 1, last_error = $3,
            next_attempt_at = now() + make_interval(secs => $2::double precision / 1000) WHERE id = $1`,
    [id, retryInMs, error.slice(0, 500)],
  );
}
