import { kyselyOn, sql, type Pool, type PoolClient, type Selectable, type Tables } from '@yunying/catalog';

type Db = Pool | PoolClient;

/**
 * Reading time (open -> sign) per study and reader (migration 2021). Written inside the claim's and the
 * signature's own transactions, so a time exists exactly when the claim or the signature does.
 */
export async function recordOpened(db: Db, studyRef: string, readerUserId: string, clinicId: string): Promise<void> {
  // The first claim counts; renewals and re-claims by the same reader keep it.
  await kyselyOn(db)
    .insertInto('readingTimes')
    .values({ studyRef, readerUserId, clinicId })
    .onConflict((oc) => oc.columns(['studyRef', 'readerUserId']).doNothing())
    .execute();
}

export async function recordSigned(db: Db, studyRef: string, readerUserId: string): Promise<void> {
  await kyselyOn(db)
    .updateTable('readingTimes')
    .set({ signedAt: sql<Date>`now()` })
    .where('studyRef', '=', studyRef)
    .where('readerUserId', '=', readerUserId)
    .where('signedAt', 'is', null)
    .execute();
}

export interface ReadingTimeStats {
  count: number;
  medianSeconds: number;
  p90Seconds: number;
}

export interface ReaderReadingTimes extends ReadingTimeStats, Pick<Selectable<Tables.ReadingTimes>, 'readerUserId'>, Pick<Selectable<Tables.Users>, 'username' | 'displayName'> {}

export interface DayReadingTimes extends ReadingTimeStats {
  /** YYYY-MM-DD in the dashboard's time zone. */
  day: string;
}

interface StatsRow {
  count: number;
  median: number;
  p90: number;
}

const stats = (r: StatsRow): ReadingTimeStats => ({ count: r.count, medianSeconds: Math.round(r.median), p90Seconds: Math.round(r.p90) });

const SECONDS = 'extract(epoch FROM rt.signed_at - rt.opened_at)';
const AGGREGATES = `count(*)::int AS count, percentile_cont(0.5) WITHIN GROUP (ORDER BY ${SECONDS})::float8 AS median,
  percentile_cont(0.9) WITHIN GROUP (ORDER BY ${SECONDS})::float8 AS p90`;

/** Signed readings with sign time in [from, to), by reader and by calendar day in `timeZone`. */
export async function readingTimeStats(db: Db, range: { from: Date; to: Date; timeZone: string }): Promise<{ byReader: ReaderReadingTimes[]; byDay: DayReadingTimes[] }> {
  const where = `rt.signed_at IS NOT NULL AND rt.signed_at >= $1 AND rt.signed_at < $2`;
  const readers = await db.query<StatsRow & Pick<ReaderReadingTimes, 'readerUserId' | 'username' | 'displayName'>>(
    `SELECT rt.reader_user_id AS "readerUserId", u.username AS "username", u.display_name AS "displayName", ${AGGREGATES}
       FROM reading_times rt JOIN users u ON u.id = rt.reader_user_id
      WHERE ${where} GROUP BY rt.reader_user_id, u.username, u.display_name ORDER BY u.username`,
    [range.from, range.to],
  );
  const days = await db.query<StatsRow & { day: string }>(
    `SELECT to_char(rt.signed_at AT TIME ZONE $3, 'YYYY-MM-DD') AS day, ${AGGREGATES}
       FROM reading_times rt WHERE ${where} GROUP BY 1 ORDER BY 1`,
    [range.from, range.to, range.timeZone],
  );
  return {
    byReader: readers.rows.map((r) => ({ readerUserId: r.readerUserId, username: r.username, displayName: r.displayName, ...stats(r) })),
    byDay: days.rows.map((r) => ({ day: r.day, ...stats(r) })),
  };
}
