import { kyselyOn, type Pool, type PoolClient } from '@yunying/catalog';

/** A request to lift a study's legal hold, decided by another, independent person (migration 1711). */
export interface HoldRelease {
  id: string;
  studyInstanceUid: string;
  clinicId: string;
  requestedBy: string | null;
  requestedAt: Date;
  reason: string;
  status: 'requested' | 'approved' | 'rejected';
  decidedBy: string | null;
  decidedAt: Date | null;
}

/** A release with its study's UID and clinic. */
function releases(db: Pool | PoolClient) {
  return kyselyOn(db)
    .selectFrom('legalHoldReleases as r')
    .innerJoin('studies as s', 's.id', 'r.studyRef')
    .select(['r.id', 's.studyInstanceUid', 's.clinicId', 'r.requestedBy', 'r.requestedAt', 'r.reason', 'r.status', 'r.decidedBy', 'r.decidedAt'])
    // Its check constraint (migration 1711) holds status to these three.
    .$narrowType<{ status: HoldRelease['status'] }>();
}

export async function findHoldRelease(db: Pool | PoolClient, id: string, lock = false): Promise<HoldRelease | null> {
  const query = releases(db).where('r.id', '=', id);
  return (await (lock ? query.forUpdate('r') : query).executeTakeFirst()) ?? null;
}

export async function listHoldReleases(db: Pool | PoolClient, limit: number): Promise<HoldRelease[]> {
  return releases(db).orderBy('r.id', 'desc').limit(limit).execute();
}

/** Inserts an open request; null when one is already open for the study. */
export async function insertHoldRelease(db: PoolClient, studyRef: string, requestedBy: string | null, reason: string): Promise<string | null> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO legal_hold_releases (study_ref, requested_by, reason) VALUES ($1, $2, $3)
     ON CONFLICT (study_ref) WHERE status = 'requested' DO NOTHING RETURNING id::text`,
    [studyRef, requestedBy, reason],
  );
  return rows[0]?.id ?? null;
}

export async function closeHoldRelease(db: PoolClient, id: string, status: 'approved' | 'rejected', decidedBy: string): Promise<void> {
  await kyselyOn(db)
    .updateTable('legalHoldReleases')
    .set((eb) => ({ status, decidedBy, decidedAt: eb.fn<Date>('now') }))
    .where('id', '=', id)
    .execute();
}
