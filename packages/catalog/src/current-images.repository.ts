import type { Selectable } from 'kysely';
import type { Pool, PoolClient } from './database';
import type { Instances, Series } from './typed/database.types';
import { kyselyOn, sql } from './typed/kysely';

/**
 * A current image instance of a study as the catalog holds it: what a reader may mark as a key image and what
 * a signed report's SR may reference (one query for both, issue #19).
 */
export type CurrentImage = Pick<Selectable<Series>, 'seriesInstanceUid'> & Pick<Selectable<Instances>, 'sopInstanceUid' | 'sopClassUid' | 'numberOfFrames'>;

/**
 * The study's current image instances among `sopInstanceUids`, by SOP Instance UID. Only instances with pixel
 * rows and columns count as images: SR, SEG and KOS have none, so a UID of one of them is simply not found.
 */
export async function currentImagesOf(db: Pool | PoolClient, studyRef: string, sopInstanceUids: readonly string[]): Promise<Map<string, CurrentImage>> {
  if (sopInstanceUids.length === 0) return new Map();
  const rows = await kyselyOn(db)
    .selectFrom('instances as i')
    .innerJoin('series as se', 'se.id', 'i.seriesRef')
    .select(['se.seriesInstanceUid', 'i.sopInstanceUid', 'i.sopClassUid', 'i.numberOfFrames'])
    .where('i.studyRef', '=', studyRef)
    .where('i.isCurrent', '=', true)
    .where('i.rows', '>', 0)
    .where('i.columns', '>', 0)
    .where('i.sopInstanceUid', '=', sql<string>`ANY(${[...sopInstanceUids]}::text[])`)
    .execute();
  return new Map(rows.map((r) => [r.sopInstanceUid, r]));
}
