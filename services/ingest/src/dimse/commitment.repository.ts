import { kyselyOn, sql, type Pool, type PoolClient, type Selectable, type Tables } from '@yunying/catalog';
import type { CommitmentResult } from '@yunying/dimse';

/**
 * Catalog access of Storage Commitment (PS3.4 J): what the catalog holds of the requested instances, and
 * the reports still owed to an SCU (`dimse_commitment_pending`, migration 1610).
 */

/** A requested instance as the catalog holds it in the calling clinic, with its verified copies on the targets. */
export type CommittableInstance = Pick<Selectable<Tables.Instances>, 'sopInstanceUid' | 'sopClassUid'> &
  Pick<Selectable<Tables.Studies>, 'studyInstanceUid'> & {
    /** How many of the given targets hold a copy in state `ok` (written and verified). */
    durableCopies: number;
  };

/** The current versions of these instances in the clinic (another clinic's are absent), each with its verified copies on `targets`. */
export async function findCommittableInstances(pool: Pool, clinicId: string, sopInstanceUids: readonly string[], targets: readonly string[]): Promise<CommittableInstance[]> {
  return kyselyOn(pool)
    .selectFrom('instances as i')
    .innerJoin('studies as s', 's.id', 'i.studyRef')
    .select([
      'i.sopInstanceUid',
      'i.sopClassUid',
      's.studyInstanceUid',
      sql<number>`(SELECT count(DISTINCT c.target) FROM copies c WHERE c.sha256 = i.sha256 AND c.state = 'ok' AND c.target = ANY(${[...targets]}::text[]))::int`.as('durableCopies'),
    ])
    .where(sql<boolean>`i.is_current`)
    .where('s.clinicId', '=', clinicId)
    // One array parameter however many UIDs the request names (IN would bind one each).
    .where(sql<boolean>`i.sop_instance_uid = ANY(${[...sopInstanceUids]}::text[])`)
    .execute();
}

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

/** now() plus a number of milliseconds, computed by PostgreSQL (one clock for every archive process). */
const nowPlusMs = (ms: number) => sql<Date>`now() + make_interval(secs => ${ms}::double precision / 1000)`;

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
  await kyselyOn(pool)
    .insertInto('dimseCommitmentPending')
    .values({
      clinicId: report.clinicId,
      callingAe: report.callingAe,
      transactionUid: report.transactionUid,
      result: JSON.stringify(report.result),
      studyUids: [...report.studyUids],
      nextAttemptAt: nowPlusMs(firstRetryInMs),
      expiresAt: nowPlusMs(keepForMs),
    })
    .onConflict((conflict) =>
      conflict.columns(['clinicId', 'callingAe', 'transactionUid']).doUpdateSet((eb) => ({
        result: eb.ref('excluded.result'),
        studyUids: eb.ref('excluded.studyUids'),
        attempts: 0,
        lastError: null,
        nextAttemptAt: eb.ref('excluded.nextAttemptAt'),
        expiresAt: eb.ref('excluded.expiresAt'),
      })),
    )
    .execute();
}

/**
 * Takes up to `limit` reports that are due and pushes their next attempt `leaseMs` ahead, in one
 * statement: two archive processes never retry the same report at once (SKIP LOCKED), and a process that
 * dies mid-attempt leaves the report due again after the lease.
 */
export async function claimDueReports(client: Pool | PoolClient, limit: number, leaseMs: number): Promise<PendingReport[]> {
  const rows = await kyselyOn(client)
    .updateTable('dimseCommitmentPending as p')
    .from((eb) => eb.selectFrom('dimseCommitmentPending').select('id').where('nextAttemptAt', '<=', sql<Date>`now()`).orderBy('nextAttemptAt').limit(limit).forUpdate().skipLocked().as('due'))
    .set({ nextAttemptAt: nowPlusMs(leaseMs) })
    .whereRef('p.id', '=', 'due.id')
    .returning(['p.id', 'p.clinicId', 'p.callingAe', 'p.transactionUid', 'p.result', 'p.studyUids', 'p.attempts', 'p.expiresAt'])
    .execute();
  return rows.map((row) => ({ ...row, result: commitmentResult(row.result) }));
}

/** Only recordUndeliveredReport writes result, from a CommitmentResult; a row without its two lists is not one it wrote. */
function commitmentResult(value: unknown): CommitmentResult {
  const result = value as Partial<Record<keyof CommitmentResult, unknown>> | null;
  if (result === null || typeof result !== 'object' || !Array.isArray(result.committed) || !Array.isArray(result.failed)) {
    throw new Error('dimse_commitment_pending.result is not a commitment result');
  }
  return value as CommitmentResult;
}

/** The report reached the SCU, or was given up: it is no longer owed. */
export async function forgetReport(pool: Pool, id: string): Promise<void> {
  await kyselyOn(pool).deleteFrom('dimseCommitmentPending').where('id', '=', id).execute();
}

/** One more failed attempt: next one after `retryInMs`. The error names the AE and the cause, no patient data. */
export async function rescheduleReport(pool: Pool, id: string, retryInMs: number, error: string): Promise<void> {
  await kyselyOn(pool)
    .updateTable('dimseCommitmentPending')
    .set((eb) => ({ attempts: eb('attempts', '+', 1), lastError: error.slice(0, 500), nextAttemptAt: nowPlusMs(retryInMs) }))
    .where('id', '=', id)
    .execute();
}
