import { kyselyOn, sql, type QueryRunner } from '@yunying/catalog';

/**
 * The clinic of each study among `studyInstanceUids` that exists and is not disposed, whatever the caller may
 * see: only to tell a probe of another clinic's study from a plain miss (AccessAudit), never to answer it.
 */
export async function studyOwners(db: QueryRunner, studyInstanceUids: readonly string[]): Promise<{ studyInstanceUid: string; clinicId: string }[]> {
  return kyselyOn(db)
    .selectFrom('studies')
    .select(['studyInstanceUid', 'clinicId'])
    .where('studyInstanceUid', '=', sql<string>`ANY(${[...studyInstanceUids]}::text[])`)
    .where('disposedAt', 'is', null)
    .orderBy('studyInstanceUid')
    .execute();
}
