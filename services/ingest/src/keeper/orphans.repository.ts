import { kyselyOn, sql, type Pool, type PoolClient } from '@yunying/catalog';

/**
 * Catalog access of the orphan sweeper (`orphan_copies`, read against `objects`): objects found on a
 * replica target that the catalog does not have, reported and never deleted.
 */
export interface OrphanReport {
  target: string;
  key: string;
  size: number | null;
  firstSeenAt: Date;
  lastSeenAt: Date;
  resolvedAt: Date | null;
}

/** Which of these object keys the catalog has. */
export async function cataloguedKeys(pool: Pool, keys: readonly string[]): Promise<Set<string>> {
  // One array parameter for the sweep's batch of keys (IN would bind one each).
  const rows = await kyselyOn(pool).selectFrom('objects').select('objectKey').where(sql<boolean>`object_key = ANY(${[...keys]})`).execute();
  return new Set(rows.map((r) => r.objectKey));
}

/** Records an orphan seen now (again: reopened if it was resolved); true when it is reported for the first time. */
export async function recordOrphan(client: PoolClient, target: string, key: string, size: number | null): Promise<boolean> {
  const row = await kyselyOn(client)
    .insertInto('orphanCopies')
    .values({ target, objectKey: key, sizeBytes: size })
    .onConflict((conflict) =>
      conflict.columns(['target', 'objectKey']).doUpdateSet((eb) => ({ lastSeenAt: sql<Date>`now()`, resolvedAt: null, sizeBytes: eb.ref('excluded.sizeBytes') })),
    )
    // xmax is 0 on a row this statement inserted.
    .returning(sql<boolean>`xmax = 0`.as('inserted'))
    .executeTakeFirst();
  return row?.inserted === true;
}

/** Reports whose object is now in the catalog (a retried upload adopted it) are resolved; returns how many. */
export async function resolveAdoptedOrphans(pool: Pool): Promise<number> {
  const result = await kyselyOn(pool)
    .updateTable('orphanCopies')
    .set({ resolvedAt: sql<Date>`now()` })
    .where('resolvedAt', 'is', null)
    .where('objectKey', 'in', (eb) => eb.selectFrom('objects').select('objectKey'))
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Open reports seen since `since` (this sweep). */
export async function countOpenOrphans(pool: Pool, since: Date): Promise<number> {
  const row = await kyselyOn(pool)
    .selectFrom('orphanCopies')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('resolvedAt', 'is', null)
    .where('lastSeenAt', '>=', since)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** Reports in the order they were first seen; open ones only with `openOnly`. */
export async function listOrphans(pool: Pool, openOnly: boolean, limit: number): Promise<OrphanReport[]> {
  const query = kyselyOn(pool)
    .selectFrom('orphanCopies')
    .select(['target', 'objectKey as key', 'sizeBytes', 'firstSeenAt', 'lastSeenAt', 'resolvedAt'])
    .orderBy('firstSeenAt')
    .orderBy('id')
    .limit(limit);
  const rows = await (openOnly ? query.where('resolvedAt', 'is', null) : query).execute();
  // size_bytes is bigint (a string from pg); a replica's object sizes fit a double exactly.
  return rows.map(({ sizeBytes, ...row }) => ({ ...row, size: sizeBytes === null ? null : Number(sizeBytes) }));
}
