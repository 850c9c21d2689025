import { kyselyOn, sql, type Database, type Pool, type PoolClient } from '@yunying/catalog';

/**
 * Catalog access of the scrubber and the repair worker (table `copies`, migration 0001 + 0500). Work is
 * claimed with a lease (`claimed_until`) taken under FOR UPDATE SKIP LOCKED, so several ingest processes
 * share the work without verifying or repairing the same copy at once, and a dead worker's claim lapses.
 */

export type CopyState = 'ok' | 'missing' | 'corrupt';

export interface ClaimedCopy {
  id: string;
  sha256: string;
  target: string;
  key: string;
  size: number;
  state: CopyState;
  /** The later of the copy's and the object's retain-until: a repaired copy never gets less. */
  retainUntil: Date;
  legalHold: boolean;
  repairAttempts: number;
  /** For the audit event; null when no instance refers to the object (yet). */
  studyInstanceUid: string | null;
  /** The S3 version recorded at write (null on fs): what verify and reads ask for (#17). */
  versionId: string | null;
  /** What tampering the scrubber last reported for this copy (migration 1730), null when none. */
  tampering: string | null;
}

/** The copies a claim takes: its CTE, locked FOR UPDATE SKIP LOCKED by `claim`. */
const dueCopies = (db: Database) => db.selectFrom('copies').select('id');
type DueCopies = ReturnType<typeof dueCopies>;

/**
 * Takes the `due` copies with a lease of `leaseSeconds` in one statement (a copy another worker holds is
 * skipped, not waited for) and returns them with what verify and repair need.
 */
async function claim(pool: Pool, due: (query: DueCopies) => DueCopies, leaseSeconds: number): Promise<ClaimedCopy[]> {
  const db = kyselyOn(pool);
  const rows = await db
    .with('due', () => due(dueCopies(db)).forUpdate().skipLocked())
    .updateTable('copies as c')
    .from(['due', 'objects as o'])
    .set({ claimedUntil: sql<Date>`now() + make_interval(secs => ${leaseSeconds})` })
    .whereRef('c.id', '=', 'due.id')
    .whereRef('o.sha256', '=', 'c.sha256')
    .returning((eb) => [
      'c.id',
      'c.sha256',
      'c.target',
      'c.objectKey as key',
      'c.sizeBytes',
      'c.state',
      sql<Date>`GREATEST(c.retain_until, o.retain_until)`.as('retainUntil'),
      'o.legalHold',
      'c.repairAttempts',
      'c.versionId',
      'c.tampering',
      eb.selectFrom('instances as i').innerJoin('studies as s', 's.id', 'i.studyRef').select('s.studyInstanceUid').whereRef('i.sha256', '=', 'c.sha256').limit(1).as('studyInstanceUid'),
    ])
    // copies_state_check holds state to CopyState.
    .$narrowType<{ state: CopyState }>()
    .execute();
  // size_bytes is bigint (a string from pg); object sizes fit a double exactly.
  return rows.map(({ sizeBytes, ...row }) => ({ ...row, size: Number(sizeBytes) }));
}

/** Remembers what tampering was last reported for a copy (null: none now), so it is alerted once. */
export async function recordTampering(client: PoolClient, id: string, tampering: string | null): Promise<void> {
  await client.query('UPDATE copies SET tampering = $2 WHERE id = $1', [id, tampering === null ? null : tampering.slice(0, 500)]);
}

/**
 * Records the problems now found with a target's own protection; returns what was recorded before (null:
 * never checked), so the caller alerts only on a change.
 */
export async function swapProtectionProblems(client: PoolClient, target: string, problems: string): Promise<string | null> {
  const before = await client.query<{ problems: string }>('SELECT problems FROM replica_protection WHERE target = $1 FOR UPDATE', [target]);
  await client.query(
    `INSERT INTO replica_protection (target, problems, checked_at) VALUES ($1, $2, now())
     ON CONFLICT (target) DO UPDATE SET problems = EXCLUDED.problems, checked_at = now()`,
    [target, problems.slice(0, 1000)],
  );
  return before.rows[0]?.problems ?? null;
}

/** Scheduled scrub: the ok copies verified longest ago (never-verified first) and not since `verifiedBefore`. */
export async function claimDueForScrub(pool: Pool, verifiedBefore: Date, limit: number, leaseSeconds: number): Promise<ClaimedCopy[]> {
  return claim(
    pool,
    (due) =>
      due
        .where('state', '=', 'ok')
        .where((eb) => eb.or([eb('lastVerifiedAt', 'is', null), eb('lastVerifiedAt', '<', verifiedBefore)]))
        .where((eb) => eb.or([eb('claimedUntil', 'is', null), eb('claimedUntil', '<', sql<Date>`now()`)]))
        .orderBy('lastVerifiedAt', (ob) => ob.nullsFirst())
        .orderBy('id')
        .limit(limit),
    leaseSeconds,
  );
}

/** Full pass: every copy (any state) after `afterId` in id order, skipping copies another worker holds. */
export async function claimNextForPass(pool: Pool, afterId: string, limit: number, leaseSeconds: number): Promise<ClaimedCopy[]> {
  const claimed = await claim(
    pool,
    (due) =>
      due
        .where('id', '>', afterId)
        .where((eb) => eb.or([eb('claimedUntil', 'is', null), eb('claimedUntil', '<', sql<Date>`now()`)]))
        .orderBy('id')
        .limit(limit),
    leaseSeconds,
  );
  return claimed.sort((a, b) => Number(a.id) - Number(b.id));
}

/** Repair worker: bad copies whose next attempt is due. */
export async function claimDueForRepair(pool: Pool, limit: number, leaseSeconds: number): Promise<ClaimedCopy[]> {
  return claim(
    pool,
    (due) =>
      due
        .where('state', '<>', 'ok')
        .where((eb) => eb.or([eb('nextRepairAt', 'is', null), eb('nextRepairAt', '<=', sql<Date>`now()`)]))
        .where((eb) => eb.or([eb('claimedUntil', 'is', null), eb('claimedUntil', '<', sql<Date>`now()`)]))
        .orderBy('nextRepairAt', (ob) => ob.nullsFirst())
        .orderBy('id')
        .limit(limit),
    leaseSeconds,
  );
}

export async function markVerifiedOk(pool: Pool, id: string): Promise<void> {
  await pool.query(
    `UPDATE copies SET state = 'ok', failure_reason = NULL, last_verified_at = now(), claimed_until = NULL, repair_attempts = 0, next_repair_at = NULL
      WHERE id = $1`,
    [id],
  );
}

/** A scrub that only reports is done with the copy: the claim is released, the state left as recorded. */
export async function releaseClaim(pool: Pool, id: string): Promise<void> {
  await pool.query('UPDATE copies SET claimed_until = NULL WHERE id = $1', [id]);
}

/** The storage class the scrubber found the copy in (#18 tiering); written only when it changed. */
export async function recordStorageClass(pool: Pool, id: string, storageClass: string): Promise<void> {
  await pool.query('UPDATE copies SET storage_class = $2 WHERE id = $1 AND storage_class IS DISTINCT FROM $2', [id, storageClass]);
}

/** The target could not be reached: nothing is known about the copy; look again after `retrySeconds`. */
export async function postponeUnreachable(pool: Pool, id: string, retrySeconds: number): Promise<void> {
  await pool.query('UPDATE copies SET claimed_until = now() + make_interval(secs => $2) WHERE id = $1', [id, retrySeconds]);
}

/** A verified-bad copy: recorded, due for repair now. The claim is kept (the caller repairs next). */
export async function markBad(client: PoolClient, id: string, state: 'missing' | 'corrupt', reason: string): Promise<void> {
  await client.query(
    `UPDATE copies SET state = $2, failure_reason = $3, last_verified_at = now(), repair_attempts = 0, next_repair_at = now() WHERE id = $1`,
    [id, state, reason.slice(0, 500)],
  );
}

export interface RepairedCopy {
  versionId: string | null;
  lockMode: 'COMPLIANCE' | 'FS_READONLY';
  retainUntil: Date;
}

export async function markRepaired(client: PoolClient, id: string, repaired: RepairedCopy): Promise<void> {
  await client.query(
    `UPDATE copies SET state = 'ok', failure_reason = NULL, version_id = $2, lock_mode = $3, retain_until = GREATEST(retain_until, $4),
            last_verified_at = now(), last_repaired_at = now(), repair_attempts = 0, next_repair_at = NULL, claimed_until = NULL
      WHERE id = $1`,
    [id, repaired.versionId, repaired.lockMode, repaired.retainUntil],
  );
}

/** A failed repair attempt: retried after `delaySeconds` (the caller's backoff). */
export async function markRepairFailed(pool: Pool, id: string, reason: string, delaySeconds: number): Promise<void> {
  await pool.query(
    `UPDATE copies SET failure_reason = $2, repair_attempts = repair_attempts + 1,
            next_repair_at = now() + make_interval(secs => $3), claimed_until = NULL
      WHERE id = $1`,
    [id, reason.slice(0, 500), delaySeconds],
  );
}

/** The other targets that hold a copy of the object in state ok, best first (most recently verified). */
export async function goodSources(pool: Pool, sha256: string, except: string): Promise<string[]> {
  const { rows } = await pool.query<{ target: string }>(
    `SELECT target FROM copies WHERE sha256 = $1 AND target <> $2 ORDER BY (state = 'ok') DESC, last_verified_at DESC NULLS LAST`,
    [sha256, except],
  );
  return rows.map((r) => r.target);
}

/** A copy locked for less than its object must be kept (the latest retain-until of the studies that use it). */
export interface ShortLock {
  id: string;
  sha256: string;
  target: string;
  key: string;
  versionId: string | null;
  state: CopyState;
  /** What the copy's lock must reach: the object's and every referring study's retain-until, the latest. */
  wanted: Date;
  studyInstanceUid: string | null;
}

/**
 * Copies whose recorded lock is earlier than what their object needs, after `afterId` in id order. A study's
 * retain-until grows when a later instance (or the triage SR) arrives; the copies written before keep the
 * earlier lock until the lock extender catches them here. Every version counts, not only the current one:
 * every version stays retained. A full scan per pass (keyset paged); a per-study "locks behind" flag set
 * by the ingest transaction would replace it for very large archives.
 */
export async function listShortLocks(pool: Pool, afterId: string, limit: number): Promise<ShortLock[]> {
  return kyselyOn(pool)
    .selectFrom('copies as c')
    .innerJoin('objects as o', 'o.sha256', 'c.sha256')
    .crossJoinLateral((eb) =>
      eb
        .selectFrom('instances as i')
        .innerJoin('studies as s', 's.id', 'i.studyRef')
        .select([
          sql<Date>`GREATEST(o.retain_until, max(s.retain_until))`.as('wanted'),
          sql<string | null>`(array_agg(s.study_instance_uid ORDER BY s.retain_until DESC))[1]`.as('studyInstanceUid'),
        ])
        .whereRef('i.sha256', '=', 'c.sha256')
        .as('w'),
    )
    .select(['c.id', 'c.sha256', 'c.target', 'c.objectKey as key', 'c.versionId', 'c.state', 'w.wanted', 'w.studyInstanceUid'])
    .where('c.id', '>', afterId)
    .whereRef('c.retainUntil', '<', 'w.wanted')
    .orderBy('c.id')
    .limit(limit)
    // copies_state_check holds state to CopyState.
    .$narrowType<{ state: CopyState }>()
    .execute();
}

/** The object must be kept until `wanted`: a copy repaired later gets at least that (see the retainUntil a claim returns). */
export async function raiseObjectRetention(client: PoolClient | Pool, sha256: string, wanted: Date): Promise<void> {
  await client.query('UPDATE objects SET retain_until = GREATEST(retain_until, $2) WHERE sha256 = $1', [sha256, wanted]);
}

/** Records the lock read back from the store after an extension; only ever later. */
export async function recordCopyLock(client: PoolClient, id: string, retainUntil: Date): Promise<void> {
  await client.query('UPDATE copies SET retain_until = GREATEST(retain_until, $2) WHERE id = $1', [id, retainUntil]);
}
