import { kyselyOn, sql, type Pool } from '@yunying/catalog';

/**
 * What rebuild-catalog's report reads: its own tables (rebuild_copies, rebuild_objects) and the catalog's
 * row counts. count(*) is bigint: a string from pg, turned into a number here.
 */

export interface CatalogTotals {
  clinics: number;
  studies: number;
  series: number;
  instances: number;
  objects: number;
  copies: number;
  /** Distinct objects the scan found. */
  listed: number;
  /** Of those, the ones without a decision yet. */
  pending: number;
}

export interface Sampled<T> {
  /** All that match (a window count over the whole result, before the limit). */
  count: number;
  /** The first few, in SHA-256 order. */
  sample: T[];
}

/** Copies the scan recorded, per target. */
export async function copiesPerTarget(pool: Pool): Promise<Map<string, number>> {
  const rows = await kyselyOn(pool)
    .selectFrom('rebuildCopies')
    .select((eb) => ['target', eb.fn.countAll<string>().as('n')])
    .groupBy('target')
    .execute();
  return new Map(rows.map((r) => [r.target, Number(r.n)]));
}

/** Decisions so far, per outcome (in outcome order). */
export async function outcomeCounts(pool: Pool): Promise<Record<string, number>> {
  const rows = await kyselyOn(pool)
    .selectFrom('rebuildObjects')
    .select((eb) => ['outcome', eb.fn.countAll<string>().as('n')])
    .groupBy('outcome')
    .orderBy('outcome')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.outcome, Number(r.n)]));
}

export async function catalogTotals(pool: Pool): Promise<CatalogTotals> {
  const row = await kyselyOn(pool)
    .selectNoFrom((eb) => [
      eb.selectFrom('clinics').select(eb.fn.countAll<string>().as('n')).as('clinics'),
      eb.selectFrom('studies').select(eb.fn.countAll<string>().as('n')).as('studies'),
      eb.selectFrom('series').select(eb.fn.countAll<string>().as('n')).as('series'),
      eb.selectFrom('instances').select(eb.fn.countAll<string>().as('n')).as('instances'),
      eb.selectFrom('objects').select(eb.fn.countAll<string>().as('n')).as('objects'),
      eb.selectFrom('copies').select(eb.fn.countAll<string>().as('n')).as('copies'),
      eb.selectFrom('rebuildCopies').select((sub) => sub.fn.count<string>('sha256').distinct().as('n')).as('listed'),
      eb
        .selectFrom('rebuildCopies as rc')
        .select((sub) => sub.fn.count<string>('rc.sha256').distinct().as('n'))
        .where((w) => w.not(w.exists(w.selectFrom('rebuildObjects as ro').select(sql.lit(1).as('one')).whereRef('ro.sha256', '=', 'rc.sha256'))))
        .as('pending'),
    ])
    .executeTakeFirstOrThrow();
  return {
    clinics: Number(row.clinics ?? 0),
    studies: Number(row.studies ?? 0),
    series: Number(row.series ?? 0),
    instances: Number(row.instances ?? 0),
    objects: Number(row.objects ?? 0),
    copies: Number(row.copies ?? 0),
    listed: Number(row.listed ?? 0),
    pending: Number(row.pending ?? 0),
  };
}

/** Objects with fewer copies than `targets` that are not known to be bad (missing, or not hashing to their address). */
export async function objectsWithFewerGoodCopies(pool: Pool, targets: number, limit: number): Promise<Sampled<{ sha256: string; goodOn: string[] }>> {
  const rows = await kyselyOn(pool)
    .selectFrom('rebuildCopies')
    .select((eb) => [
      'sha256',
      // digest_ok is null until the copy is read: one not read is not counted bad.
      eb.fn.agg<string[] | null>('array_agg', ['target']).orderBy('target').filterWhere('digestOk', 'is not', false).as('goodOn'),
      eb.fn.countAll<string>().over().as('total'),
    ])
    .groupBy('sha256')
    .having((eb) => eb(eb.fn.countAll().filterWhere('digestOk', 'is not', false), '<', targets))
    .orderBy('sha256')
    .limit(limit)
    .execute();
  return { count: Number(rows[0]?.total ?? 0), sample: rows.map((r) => ({ sha256: r.sha256, goodOn: r.goodOn ?? [] })) };
}

/** Copies whose bytes do not hash to their address. */
export async function copiesFailingDigest(pool: Pool, limit: number): Promise<Sampled<{ sha256: string; target: string }>> {
  const rows = await kyselyOn(pool)
    .selectFrom('rebuildCopies')
    .select((eb) => ['sha256', 'target', eb.fn.countAll<string>().over().as('total')])
    .where('digestOk', '=', false)
    .orderBy('sha256')
    .orderBy('target')
    .limit(limit)
    .execute();
  return { count: Number(rows[0]?.total ?? 0), sample: rows.map((r) => ({ sha256: r.sha256, target: r.target })) };
}

/** Objects decided with one of these outcomes. */
export async function objectsDecided(pool: Pool, outcomes: readonly string[], limit: number): Promise<Sampled<{ sha256: string; outcome: string }>> {
  const rows = await kyselyOn(pool)
    .selectFrom('rebuildObjects')
    .select((eb) => ['sha256', 'outcome', eb.fn.countAll<string>().over().as('total')])
    // One array parameter, as for every list here.
    .where('outcome', '=', sql<string>`ANY(${[...outcomes]}::text[])`)
    .orderBy('sha256')
    .limit(limit)
    .execute();
  return { count: Number(rows[0]?.total ?? 0), sample: rows.map((r) => ({ sha256: r.sha256, outcome: r.outcome })) };
}
