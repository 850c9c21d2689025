import { kyselyOn, sql, type Pool, type PoolClient, type RebuildCopyRow } from '@yunying/catalog';
import { streamRows } from './cursor';

/**
 * Catalog access of rebuild-catalog (#18): its own state (rebuild_copies, what the scan found on each target;
 * rebuild_objects, the decision about each object; migration 1800) and the catalog rows it writes besides
 * recordInstance's (clinics it has to create, corrupt copies, legal holds found on the copies).
 */

/** rebuild_objects.outcome; its check constraint (migration 1801) holds it to these. */
export type RebuildOutcome = 'indexed' | 'same_instance' | 'catalogued' | 'not_dicom' | 'unattributed' | 'clinic_disagrees' | 'no_good_copy' | 'conflict';

/** `= ANY($n::text[])`: one array parameter for a list of any length (IN would bind one each). */
const anyText = (values: readonly string[]) => sql<string>`ANY(${[...values]}::text[])`;

/** What the target's store says about one copy, as the scan records it. */
export type ScannedCopy = Pick<RebuildCopyRow, 'objectKey' | 'sha256' | 'versionId' | 'retainUntil' | 'lockMode' | 'legalHold' | 'clinicId' | 'clinicCode' | 'receivedAt'> & {
  sizeBytes: number;
};

/** A copy as the scan recorded it, read back to be checked and indexed. */
export type RecordedCopy = Pick<RebuildCopyRow, 'target' | 'objectKey' | 'sizeBytes' | 'versionId' | 'retainUntil' | 'lockMode' | 'legalHold' | 'clinicId' | 'clinicCode' | 'receivedAt'>;

/** Whether the destination holds instances, and whether a rebuild has started there. */
export async function rebuildState(pool: Pool): Promise<{ instances: boolean; rebuilt: boolean }> {
  const row = await kyselyOn(pool)
    .selectNoFrom((eb) => [
      eb.exists(eb.selectFrom('instances').select(sql.lit(1).as('one'))).as('instances'),
      eb.or([eb.exists(eb.selectFrom('rebuildObjects').select(sql.lit(1).as('one'))), eb.exists(eb.selectFrom('rebuildCopies').select(sql.lit(1).as('one')))]).as('rebuilt'),
    ])
    .executeTakeFirstOrThrow();
  return { instances: row.instances === true, rebuilt: row.rebuilt === true };
}

/** Which of these keys of the target the scan has already recorded (a rerun does not ask the store again). */
export async function recordedKeys(pool: Pool, target: string, keys: readonly string[]): Promise<Set<string>> {
  const rows = await kyselyOn(pool).selectFrom('rebuildCopies').select('objectKey').where('target', '=', target).where('objectKey', '=', anyText(keys)).execute();
  return new Set(rows.map((r) => r.objectKey));
}

/** Records the target's copies; one recorded before is kept as it was. Returns how many were new. */
export async function recordCopies(pool: Pool, target: string, copies: readonly ScannedCopy[]): Promise<number> {
  // One statement per batch, however large: each column is one array parameter, unnested into rows.
  const scanned = sql<Omit<ScannedCopy, 'sizeBytes'> & { sizeBytes: string }>`unnest(
    ${copies.map((c) => c.objectKey)}::text[], ${copies.map((c) => c.sha256)}::text[], ${copies.map((c) => c.sizeBytes)}::bigint[],
    ${copies.map((c) => c.versionId)}::text[], ${copies.map((c) => c.retainUntil)}::timestamptz[], ${copies.map((c) => c.lockMode)}::text[],
    ${copies.map((c) => c.legalHold)}::boolean[], ${copies.map((c) => c.clinicId)}::uuid[], ${copies.map((c) => c.clinicCode)}::text[],
    ${copies.map((c) => c.receivedAt)}::timestamptz[])`.as<'c'>(
    sql`c(object_key, sha256, size_bytes, version_id, retain_until, lock_mode, legal_hold, clinic_id, clinic_code, received_at)`,
  );
  const result = await kyselyOn(pool)
    .insertInto('rebuildCopies')
    .columns(['target', 'objectKey', 'sha256', 'sizeBytes', 'versionId', 'retainUntil', 'lockMode', 'legalHold', 'clinicId', 'clinicCode', 'receivedAt'])
    .expression((eb) =>
      eb
        .selectFrom(scanned)
        .select([sql<string>`${target}`.as('target'), 'c.objectKey', 'c.sha256', 'c.sizeBytes', 'c.versionId', 'c.retainUntil', 'c.lockMode', 'c.legalHold', 'c.clinicId', 'c.clinicCode', 'c.receivedAt']),
    )
    .onConflict((conflict) => conflict.columns(['target', 'objectKey']).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0);
}

/**
 * The objects found by the scan that no decision covers yet, oldest arrival first (so versions of one SOP
 * Instance UID are numbered as they arrived), streamed through a server-side cursor: there can be millions.
 */
export function undecidedObjects(pool: Pool): AsyncGenerator<{ sha256: string }> {
  const query = kyselyOn(pool)
    .selectFrom('rebuildCopies as rc')
    .select('rc.sha256')
    .where((w) => w.not(w.exists(w.selectFrom('rebuildObjects as ro').select(sql.lit(1).as('one')).whereRef('ro.sha256', '=', 'rc.sha256'))))
    .groupBy('rc.sha256')
    .orderBy((eb) => eb.fn.min('rc.receivedAt'), (ob) => ob.nullsLast())
    .orderBy('rc.sha256')
    .compile();
  // Compiled, not executed: kyselyOn runs single statements only, streamRows declares the cursor. The one
  // column needs no name mapping (the rows bypass the camelCase plugin).
  return streamRows<{ sha256: string }>(pool, query.sql, [...query.parameters]);
}

/** Whether the catalog already has the object (--adopt after a restore). */
export async function isCatalogued(pool: Pool, sha256: string): Promise<boolean> {
  return (await kyselyOn(pool).selectFrom('objects').select(sql.lit(1).as('one')).where('sha256', '=', sha256).executeTakeFirst()) !== undefined;
}

/** The object's recorded copies, in target order. */
export async function recordedCopiesOf(pool: Pool, sha256: string): Promise<RecordedCopy[]> {
  return kyselyOn(pool)
    .selectFrom('rebuildCopies')
    .select(['target', 'objectKey', 'sizeBytes', 'versionId', 'retainUntil', 'lockMode', 'legalHold', 'clinicId', 'clinicCode', 'receivedAt'])
    .where('sha256', '=', sha256)
    .orderBy('target')
    .execute();
}

/** Records, for each copy that could be read, whether its bytes hash to its address. */
export async function recordDigests(pool: Pool, sha256: string, verdicts: readonly { target: string; good: boolean }[]): Promise<void> {
  // One statement for all the object's copies: the verdicts as two array parameters, unnested into rows.
  const checked = sql<{ target: string; good: boolean }>`unnest(${verdicts.map((v) => v.target)}::text[], ${verdicts.map((v) => v.good)}::boolean[])`.as<'c'>(sql`c(target, good)`);
  await kyselyOn(pool)
    .updateTable('rebuildCopies')
    .from(checked)
    .set((eb) => ({ digestOk: eb.ref('c.good') }))
    .where('rebuildCopies.sha256', '=', sha256)
    .whereRef('rebuildCopies.target', '=', 'c.target')
    .execute();
}

/** Copies that exist but are bad are 'corrupt', not 'missing' (recordInstance recorded them as failed). */
export async function markCopiesCorrupt(client: PoolClient, sha256: string, targets: readonly string[]): Promise<void> {
  await kyselyOn(client).updateTable('copies').set({ state: 'corrupt' }).where('sha256', '=', sha256).where('target', '=', anyText(targets)).execute();
}

/** A legal hold found on the copies holds the object and its study. */
export async function holdObjectAndStudy(client: PoolClient, sha256: string, studyRef: string): Promise<void> {
  const db = kyselyOn(client);
  await db.updateTable('objects').set({ legalHold: true }).where('sha256', '=', sha256).execute();
  await db.updateTable('studies').set({ legalHold: true }).where('id', '=', studyRef).execute();
}

/** Records the decision about an object; the first one stands. */
export async function recordDecision(db: Pool | PoolClient, sha256: string, outcome: RebuildOutcome): Promise<void> {
  await kyselyOn(db)
    .insertInto('rebuildObjects')
    .values({ sha256, outcome })
    .onConflict((conflict) => conflict.column('sha256').doNothing())
    .execute();
}

export interface ClinicMatch {
  id: string;
  code: string;
  retentionYears: number;
}

/** The clinic with this id, else one with this code; null when neither exists. */
export async function findClinicByIdOrCode(pool: Pool, id: string, code: string): Promise<ClinicMatch | null> {
  const row = await kyselyOn(pool)
    .selectFrom('clinics')
    .select(['id', 'code', 'retentionYears'])
    .where((eb) => eb.or([eb('id', '=', id), eb('code', '=', code)]))
    .orderBy((eb) => eb('id', '=', id), 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ?? null;
}

/** Creates the clinic with this id and code (its name the code); null when one with either exists by now. */
export async function createClinic(pool: Pool, id: string, code: string): Promise<Omit<ClinicMatch, 'code'> | null> {
  const row = await kyselyOn(pool)
    .insertInto('clinics')
    .values({ id, code, name: code })
    .onConflict((conflict) => conflict.doNothing())
    .returning(['id', 'retentionYears'])
    .executeTakeFirst();
  return row ?? null;
}
