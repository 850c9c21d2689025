import type { Pool, PoolClient } from '@yunying/catalog';

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

interface ClaimRow {
  id: string;
  sha256: string;
  target: string;
  object_key: string;
  size_bytes: string;
  state: CopyState;
  retain_until: Date;
  legal_hold: boolean;
  repair_attempts: number;
  study_instance_uid: string | null;
  version_id: string | null;
  tampering: string | null;
}

const RETURNING = `
  RETURNING c.id, c.sha256, c.target, c.object_key, c.size_bytes, c.state, GREATEST(c.retain_until, o.retain_until) AS retain_until,
            o.legal_hold, c.repair_attempts, c.version_id, c.tampering,
            (SELECT s.study_instance_uid FROM instances i JOIN studies s ON s.id = i.study_ref WHERE i.sha256 = c.sha256 LIMIT 1) AS study_instance_uid`;

function toClaimed(row: ClaimRow): ClaimedCopy {
  return {
    id: row.id,
    sha256: row.sha256,
    target: row.target,
    key: row.object_key,
    size: Number(row.size_bytes),
    state: row.state,
    retainUntil: row.retain_until,
    legalHold: row.legal_hold,
    repairAttempts: row.repair_attempts,
    studyInstanceUid: row.study_instance_uid,
    versionId: row.version_id,
    tampering: row.tampering,
  };
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
  const { rows } = await pool.query<ClaimRow>(
    `WITH due AS (
       SELECT id FROM copies
        WHERE state = 'ok' AND (last_verified_at IS NULL OR last_verified_at < $1)
          AND (claimed_until IS NULL OR claimed_until < now())
        ORDER BY last_verified_at NULLS FIRST, id
        LIMIT $2
        FOR UPDATE SKIP LOCKED)
     UPDATE copies c SET claimed_until = now() + make_interval(secs => $3)
       FROM due, objects o WHERE c.id = due.id AND o.sha256 = c.sha256 ${RETURNING}`,
    [verifiedBefore, limit, leaseSeconds],
  );
  return rows.map(toClaimed);
}

/** Full pass: every copy (any state) after `afterId` in id order, skipping copies another worker holds. */
export async function claimNextForPass(pool: Pool, afterId: string, limit: number, leaseSeconds: number): Promise<ClaimedCopy[]> {
  const { rows } = await pool.query<ClaimRow>(
    `WITH due AS (
       SELECT id FROM copies
        WHERE id > $1 AND (claimed_until IS NULL OR claimed_until < now())
        ORDER BY id
        LIMIT $2
        FOR UPDATE SKIP LOCKED)
     UPDATE copies c SET claimed_until = now() + make_interval(secs => $3)
       FROM due, objects o WHERE c.id = due.id AND o.sha256 = c.sha256 ${RETURNING}`,
    [afterId, limit, leaseSeconds],
  );
  return rows.map(toClaimed).sort((a, b) => Number(a.id) - Number(b.id));
}

/** Repair worker: bad copies whose next attempt is due. */
export async function claimDueForRepair(pool: Pool, limit: number, leaseSeconds: number): Promise<ClaimedCopy[]> {
  const { rows } = await pool.query<ClaimRow>(
    `WITH due AS (
       SELECT id FROM copies
        WHERE state <> 'ok' AND (next_repair_at IS NULL OR next_repair_at <= now())
          AND (claimed_until IS NULL OR claimed_until < now())
        ORDER BY next_repair_at NULLS FIRST, id
        LIMIT $1
        FOR UPDATE SKIP LOCKED)
     UPDATE copies c SET claimed_until = now() + make_interval(secs => $2)
       FROM due, objects o WHERE c.id = due.id AND o.sha256 = c.sha256 ${RETURNING}`,
    [limit, leaseSeconds],
  );
  return rows.map(toClaimed);
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
  const { rows } = await pool.query<{
    id: string;
    sha256: string;
    target: string;
    object_key: string;
    version_id: string | null;
    state: CopyState;
    wanted: Date;
    study_instance_uid: string | null;
  }>(
    `SELECT c.id, c.sha256, c.target, c.object_key, c.version_id, c.state, w.wanted, w.study_instance_uid
       FROM copies c
       JOIN objects o ON o.sha256 = c.sha256
       CROSS JOIN LATERAL (
         SELECT GREATEST(o.retain_until, max(s.retain_until)) AS wanted,
                (array_agg(s.study_instance_uid ORDER BY s.retain_until DESC))[1] AS study_instance_uid
           FROM instances i JOIN studies s ON s.id = i.study_ref
          WHERE i.sha256 = c.sha256) w
      WHERE c.id > $1 AND c.retain_until < w.wanted
      ORDER BY c.id
      LIMIT $2`,
    [afterId, limit],
  );
  return rows.map((r) => ({
    id: r.id,
    sha256: r.sha256,
    target: r.target,
    key: r.object_key,
    versionId: r.version_id,
    state: r.state,
    wanted: r.wanted,
    studyInstanceUid: r.study_instance_uid,
  }));
}

/** The object must be kept until `wanted`: a copy repaired later gets at least that (see RETURNING). */
export async function raiseObjectRetention(client: PoolClient | Pool, sha256: string, wanted: Date): Promise<void> {
  await client.query('UPDATE objects SET retain_until = GREATEST(retain_until, $2) WHERE sha256 = $1', [sha256, wanted]);
}

/** Records the lock read back from the store after an extension; only ever later. */
export async function recordCopyLock(client: PoolClient, id: string, retainUntil: Date): Promise<void> {
  await client.query('UPDATE copies SET retain_until = GREATEST(retain_until, $2) WHERE id = $1', [id, retainUntil]);
}
