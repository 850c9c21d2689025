import type { Pool, PoolClient } from './database';
import { STUDY_HEADER_COLUMNS, type StudyHeader } from './study-header';
import { kyselyOn } from './typed/kysely';

/** One study's header and its clinic's name (the AI objects and the signed report SR both need them); null when the study is gone. */
export async function readStudyHeader(db: Pool | PoolClient, studyRef: string): Promise<{ header: StudyHeader; clinicName: string } | null> {
  const row = await kyselyOn(db)
    .selectFrom('studies as s')
    .innerJoin('clinics as c', 'c.id', 's.clinicId')
    .select(STUDY_HEADER_COLUMNS.map((column) => `s.${column}` as const))
    .select('c.name as clinicName')
    .where('s.id', '=', studyRef)
    .executeTakeFirst();
  if (!row) return null;
  const { clinicName, ...header } = row;
  return { clinicName, header };
}
