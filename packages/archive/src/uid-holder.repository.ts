import { kyselyOn, sql, type PoolClient } from '@yunying/catalog';

/**
 * Who else holds a UID the ingest path refused as a conflict: the clinic to audit the attempt under
 * (ingest.pipeline's refusedConflict).
 */

/**
 * Another clinic than `clinicId` that holds the SOP Instance UID (first) or the Study Instance UID; null when
 * none does (a conflict inside one clinic).
 */
export async function otherClinicHoldingUids(client: PoolClient, uids: { sopInstanceUid: string; studyInstanceUid: string }, clinicId: string): Promise<string | null> {
  const db = kyselyOn(client);
  const holders = db
    .selectFrom('instances as i')
    .innerJoin('studies as s', 's.id', 'i.studyRef')
    .select(['s.clinicId', sql.lit(1).as('o')])
    .where('i.sopInstanceUid', '=', uids.sopInstanceUid)
    .unionAll(db.selectFrom('studies').select(['clinicId', sql.lit(2).as('o')]).where('studyInstanceUid', '=', uids.studyInstanceUid));
  const row = await db.selectFrom(holders.as('x')).select('x.clinicId').where('x.clinicId', '<>', clinicId).orderBy('x.o').limit(1).executeTakeFirst();
  return row?.clinicId ?? null;
}
