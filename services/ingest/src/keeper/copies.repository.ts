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

/**
 * A copy row by its key. `copies` is hash-partitioned by sha256 (migration 1810) with the key (id, sha256):
 * a statement that names both touches one partition, where the id alone probes every one of them.
 */
export type CopyRef = Pick<ClaimedCopy, 'id' | 'sha256'>;

/** The database's clock, as every statement here reads it (one clock for all keeper processes). */
const now = sql<Date>`now()`;
const nowPlusSeconds = (seconds: number) => sql<Date>`now() + make_interval(secs => ${seconds})`;

/** The copies a claim takes: its CTE, locked FOR UPDATE SKIP LOCKED by `claim`. */
const dueCopies = (db: Database) => db.selectFrom('copies').select(['id', 'sha256']);
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
    .set({ claimedUntil: nowPlusSeconds(leaseSeconds) })
    .whereRef('c.id', '=', 'due.id')
    .whereRef('c.sha256', '=', 'due.sha256')
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
export async function recordTampering(client: PoolClient, copy: CopyRef, tampering: string | null): Promise<void> {
  await kyselyOn(client)
    .updateTable('copies')
    .set({ tampering: tampering === null ? null : tampering.slice(0, 500) })
    .where('id', '=', copy.id).where('sha256', '=', copy.sha256)
    .execute();
}

/**
 * Records the problems now found with a target's own protection; returns what was recorded before (null:
 * never checked), so the caller alerts only on a change.
 */
export async function swapProtectionProblems(client: PoolClient, target: string, problems: string): Promise<string | null> {
  const db = kyselyOn(client);
  const before = await db.selectFrom('replicaProtection').select('problems').where('target', '=', target).forUpdate().executeTakeFirst();
  await db
    .insertInto('replicaProtection')
    .values({ target, problems: problems.slice(0, 1000), checkedAt: now })
    .onConflict((conflict) => conflict.column('target').doUpdateSet((eb) => ({ problems: eb.ref('excluded.problems'), checkedAt: now })))
    .execute();
  return before?.problems ?? null;
}

/** Scheduled scrub: the ok copies verified longest ago (never-verified first) and not since `verifiedBefore`. */
export async function claimDueForScrub(pool: Pool, verifiedBefore: Date, limit: number, leaseSeconds: number): Promise<ClaimedCopy[]> {
  return claim(
    pool,
    (due) =>
      due
        .where('state', '=', 'ok')
        .where((eb) => eb.or([eb('lastVerifiedAt', 'is', null), eb('lastVerifiedAt', '<', verifiedBefore)]))
        .where((eb) => eb.or([eb('claimedUntil', 'is', null), eb('claimedUntil', '<', now)]))
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
        .where((eb) => eb.or([eb('claimedUntil', 'is', null), eb('claimedUntil', '<', now)]))
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
        .where((eb) => eb.or([eb('nextRepairAt', 'is', null), eb('nextRepairAt', '<=', now)]))
        .where((eb) => eb.or([eb('claimedUntil', 'is', null), eb('claimedUntil', '<', now)]))
        .orderBy('nextRepairAt', (ob) => ob.nullsFirst())
        .orderBy('id')
        .limit(limit),
    leaseSeconds,
  );
}

export async function markVerifiedOk(pool: Pool, copy: CopyRef): Promise<void> {
  await kyselyOn(pool)
    .updateTable('copies')
    .set({ state: 'ok', failureReason: null, lastVerifiedAt: now, claimedUntil: null, repairAttempts: 0, nextRepairAt: null })
    .where('id', '=', copy.id).where('sha256', '=', copy.sha256)
    .execute();
}

/** A scrub that only reports is done with the copy: the claim is released, the state left as recorded. */
export async function releaseClaim(pool: Pool, copy: CopyRef): Promise<void> {
  await kyselyOn(pool).updateTable('copies').set({ claimedUntil: null }).where('id', '=', copy.id).where('sha256', '=', copy.sha256).execute();
}

/** The storage class the scrubber found the copy in (#18 tiering); written only when it changed. */
export async function recordStorageClass(pool: Pool, copy: CopyRef, storageClass: string): Promise<void> {
  await kyselyOn(pool).updateTable('copies').set({ storageClass }).where('id', '=', copy.id).where('sha256', '=', copy.sha256).where('storageClass', 'is distinct from', storageClass).execute();
}

/** The target could not be reached: nothing is known about the copy; look again after `retrySeconds`. */
export async function postponeUnreachable(pool: Pool, copy: CopyRef, retrySeconds: number): Promise<void> {
  await kyselyOn(pool).updateTable('copies').set({ claimedUntil: nowPlusSeconds(retrySeconds) }).where('id', '=', copy.id).where('sha256', '=', copy.sha256).execute();
}

/** A verified-bad copy: recorded, due for repair now. The claim is kept (the caller repairs next). */
export async function markBad(client: PoolClient, copy: CopyRef, state: 'missing' | 'corrupt', reason: string): Promise<void> {
  await kyselyOn(client)
    .updateTable('copies')
    .set({ state, failureReason: reason.slice(0, 500), lastVerifiedAt: now, repairAttempts: 0, nextRepairAt: now })
    .where('id', '=', copy.id).where('sha256', '=', copy.sha256)
    .execute();
}

export interface RepairedCopy {
  versionId: string | null;
  lockMode: 'COMPLIANCE' | 'FS_READONLY';
  retainUntil: Date;
}

export async function markRepaired(client: PoolClient, copy: CopyRef, repaired: RepairedCopy): Promise<void> {
  await kyselyOn(client)
    .updateTable('copies')
    .set({
      state: 'ok',
      failureReason: null,
      versionId: repaired.versionId,
      lockMode: repaired.lockMode,
      retainUntil: sql<Date>`GREATEST(retain_until, ${repaired.retainUntil})`,
      lastVerifiedAt: now,
      lastRepairedAt: now,
      repairAttempts: 0,
      nextRepairAt: null,
      claimedUntil: null,
    })
    .where('id', '=', copy.id).where('sha256', '=', copy.sha256)
    .execute();
}

/** A failed repair attempt: retried after `delaySeconds` (the caller's backoff). */
export async function markRepairFailed(pool: Pool, copy: CopyRef, reason: string, delaySeconds: number): Promise<void> {
  await kyselyOn(pool)
    .updateTable('copies')
    .set((eb) => ({ failureReason: reason.slice(0, 500), repairAttempts: eb('repairAttempts', '+', 1), nextRepairAt: nowPlusSeconds(delaySeconds), claimedUntil: null }))
    .where('id', '=', copy.id).where('sha256', '=', copy.sha256)
    .execute();
}

/** The other targets that hold a copy of the object in state ok, best first (most recently verified). */
export async function goodSources(pool: Pool, sha256: string, except: string): Promise<string[]> {
  const rows = await kyselyOn(pool)
    .selectFrom('copies')
    .select('target')
    .where('sha256', '=', sha256)
    .where('target', '<>', except)
    .orderBy(sql`state = 'ok'`, (ob) => ob.desc())
    .orderBy('lastVerifiedAt', (ob) => ob.desc().nullsLast())
    .execute();
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

/** The copies behind their object's need, with what they need: the base of both lock-extension lists. */
function shortLocks(db: Database) {
  return db
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
    .whereRef('c.retainUntil', '<', 'w.wanted')
    // copies_state_check holds state to CopyState.
    .$narrowType<{ state: CopyState }>();
}

/**
 * Copies whose recorded lock is earlier than what their object needs, after `afterId` in id order. A study's
 * retain-until grows when a later instance (or the triage SR) arrives; the copies written before keep the
 * earlier lock until the lock extender catches them here. Every version counts, not only the current one:
 * every version stays retained. A scan of every copy (keyset paged): the lock extender's backstop, run at
 * its start and daily; in between it looks only at recent studies (`listShortLocksOfRecentStudies`).
 */
export async function listShortLocks(pool: Pool, afterId: string, limit: number): Promise<ShortLock[]> {
  return shortLocks(kyselyOn(pool)).where('c.id', '>', afterId).orderBy('c.id').limit(limit).execute();
}

/**
 * The same for the copies of the studies that received an instance since `since` (by `last_instance_at`,
 * indexed), up to `studyLimit` studies after `afterStudyRef` in id order: a study's retain-until rises only
 * with an instance's arrival, which also moves its last_instance_at (both count from the receipt). Cost in
 * proportion to what arrived, not to the archive.
 */
export async function listShortLocksOfRecentStudies(
  pool: Pool,
  since: Date,
  afterStudyRef: string,
  studyLimit: number,
): Promise<{ locks: ShortLock[]; lastStudyRef: string | null }> {
  const db = kyselyOn(pool);
  const studies = await db.selectFrom('studies').select('id').where('lastInstanceAt', '>=', since).where('id', '>', afterStudyRef).orderBy('id').limit(studyLimit).execute();
  const last = studies[studies.length - 1];
  if (last === undefined) return { locks: [], lastStudyRef: null };
  const studyRefs = studies.map((s) => s.id);
  const locks = await shortLocks(db)
    // Current versions only, through the (study_ref, id) index that holds only those; the copies of a
    // superseded version that fell behind are the daily full pass's.
    .where('c.sha256', 'in', (eb) => eb.selectFrom('instances as ri').select('ri.sha256').where('ri.studyRef', 'in', studyRefs).where('ri.isCurrent', '=', true))
    .orderBy('c.id')
    .execute();
  return { locks, lastStudyRef: studies.length < studyLimit ? null : last.id };
}

/** The object must be kept until `wanted`: a copy repaired later gets at least that (see the retainUntil a claim returns). */
export async function raiseObjectRetention(client: PoolClient | Pool, sha256: string, wanted: Date): Promise<void> {
  await kyselyOn(client)
    .updateTable('objects')
    .set({ retainUntil: sql<Date>`GREATEST(retain_until, ${wanted})` })
    .where('sha256', '=', sha256)
    .execute();
}

/** Records the lock read back from the store after an extension; only ever later. */
export async function recordCopyLock(client: PoolClient, copy: CopyRef, retainUntil: Date): Promise<void> {
  await kyselyOn(client)
    .updateTable('copies')
    .set({ retainUntil: sql<Date>`GREATEST(retain_until, ${retainUntil})` })
    .where('id', '=', copy.id).where('sha256', '=', copy.sha256)
    .execute();
}
