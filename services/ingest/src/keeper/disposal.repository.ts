import { kyselyOn, lockPatientIndex, personRootSql, sql, type Pool, type PoolClient } from '@yunying/catalog';

export type DisposalStatus = 'requested' | 'approved' | 'rejected' | 'executed' | 'blocked';

export interface DisposalRequest {
  id: string;
  studyInstanceUid: string;
  clinicId: string;
  requestedBy: string | null;
  requestedAt: Date;
  reason: string;
  status: DisposalStatus;
  approvedBy: string | null;
  approvedAt: Date | null;
  decidedNote: string | null;
  executedAt: Date | null;
  result: unknown;
}

/** A request with its study's UID and clinic (the study row outlives disposal as a tombstone). */
function requests(db: Pool | PoolClient) {
  return kyselyOn(db)
    .selectFrom('disposalRequests as d')
    .innerJoin('studies as s', 's.id', 'd.studyRef')
    .select(['d.id', 's.studyInstanceUid', 's.clinicId', 'd.requestedBy', 'd.requestedAt', 'd.reason', 'd.status', 'd.approvedBy', 'd.approvedAt', 'd.decidedNote', 'd.executedAt', 'd.result'])
    // disposal_requests_status_check holds status to DisposalStatus.
    .$narrowType<{ status: DisposalStatus }>();
}

export async function listDisposals(pool: Pool, limit: number): Promise<DisposalRequest[]> {
  return requests(pool).orderBy('d.id', 'desc').limit(limit).execute();
}

export async function findDisposal(db: Pool | PoolClient, id: string, lock = false): Promise<DisposalRequest | null> {
  const query = requests(db).where('d.id', '=', id);
  return (await (lock ? query.forUpdate('d') : query).executeTakeFirst()) ?? null;
}

/** A new request for the study, unless one is already open (requested or approved): then null. */
export async function insertDisposal(client: PoolClient, studyRef: string, requestedBy: string | null, reason: string): Promise<string | null> {
  const db = kyselyOn(client);
  const open = await db.selectFrom('disposalRequests').select('id').where('studyRef', '=', studyRef).where('status', 'in', ['requested', 'approved']).executeTakeFirst();
  if (open !== undefined) return null;
  const inserted = await db.insertInto('disposalRequests').values({ studyRef, requestedBy, reason }).returning('id').executeTakeFirstOrThrow();
  return inserted.id;
}

export async function decideDisposal(client: PoolClient, id: string, status: 'approved' | 'rejected', decidedBy: string, note: string | null): Promise<void> {
  await kyselyOn(client)
    .updateTable('disposalRequests')
    .set((eb) => ({ status, approvedBy: decidedBy, approvedAt: eb.fn<Date>('now'), decidedNote: note }))
    .where('id', '=', id)
    .execute();
}

/**
 * Claims the oldest approved request nobody holds, with a 10-minute lease (SKIP LOCKED: two keepers never
 * claim the same one); undefined when there is none.
 */
export async function claimApprovedDisposal(pool: Pool): Promise<string | undefined> {
  const { rows } = await pool.query<{ id: string }>(
    `WITH next AS (SELECT id FROM disposal_requests WHERE status = 'approved' AND (claimed_until IS NULL OR claimed_until < now())
                    ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
     UPDATE disposal_requests d SET claimed_until = now() + interval '10 minutes', attempts = attempts + 1 FROM next WHERE d.id = next.id RETURNING d.id`,
  );
  return rows[0]?.id;
}

/** A target was down: the request stays approved and is claimed again in a minute. */
export async function postponeDisposal(pool: Pool, id: string): Promise<void> {
  await pool.query("UPDATE disposal_requests SET claimed_until = now() + interval '1 minute' WHERE id = $1", [id]);
}

/** The request's last state: executed (with what was removed) or blocked (with why); the lease released. */
export async function closeDisposal(client: PoolClient, id: string, status: 'executed' | 'blocked', result: Record<string, unknown>): Promise<void> {
  await kyselyOn(client)
    .updateTable('disposalRequests')
    .set((eb) => ({ status, claimedUntil: null, result: JSON.stringify(result), ...(status === 'executed' ? { executedAt: eb.fn<Date>('now') } : {}) }))
    .where('id', '=', id)
    .execute();
}

/** The hold flag of a study and its objects in the catalog. */
export async function writeHold(client: PoolClient, studyRef: string, keys: readonly { sha256: string }[], on: boolean): Promise<void> {
  const db = kyselyOn(client);
  await db.updateTable('studies').set({ legalHold: on }).where('id', '=', studyRef).execute();
  if (keys.length > 0) await db.updateTable('objects').set({ legalHold: on }).where('sha256', 'in', keys.map((k) => k.sha256)).execute();
}

export interface StudyRetentionState {
  studyRef: string;
  studyInstanceUid: string;
  clinicId: string;
  disposedAt: Date | null;
  legalHold: boolean;
  /** The latest retain-until of the study, its objects and every copy; null when it has none. */
  retainUntil: Date;
  objects: number;
}

/** Whether a study may be disposed of: the latest retain-until over the study, its objects and copies, and any hold. */
export async function studyRetentionState(db: Pool | PoolClient, studyInstanceUid: string, lock = false): Promise<StudyRetentionState | null> {
  const k = kyselyOn(db);
  const query = k.selectFrom('studies').select(['id', 'clinicId', 'disposedAt', 'legalHold', 'retainUntil']).where('studyInstanceUid', '=', studyInstanceUid);
  const study = await (lock ? query.forUpdate() : query).executeTakeFirst();
  if (study === undefined) return null;
  const held = await k
    .selectFrom('instances as i')
    .innerJoin('objects as o', 'o.sha256', 'i.sha256')
    .leftJoin('copies as c', 'c.sha256', 'o.sha256')
    .select((eb) => [
      eb.fn.count<string>('o.sha256').distinct().as('objects'),
      sql<boolean | null>`bool_or(o.legal_hold)`.as('hold'),
      eb.fn.max('o.retainUntil').as('objectUntil'),
      eb.fn.max('c.retainUntil').as('copyUntil'),
    ])
    .where('i.studyRef', '=', study.id)
    .executeTakeFirst();
  const dates = [study.retainUntil, held?.objectUntil ?? null, held?.copyUntil ?? null].filter((d): d is Date => d !== null);
  return {
    studyRef: study.id,
    studyInstanceUid,
    clinicId: study.clinicId,
    disposedAt: study.disposedAt,
    legalHold: study.legalHold || held?.hold === true,
    retainUntil: new Date(Math.max(...dates.map((d) => d.getTime()))),
    objects: Number(held?.objects ?? 0),
  };
}

export interface StudyCopy {
  sha256: string;
  key: string;
  target: string;
}

/** Every copy of every object of the study (all versions of all instances). */
export async function studyCopies(db: Pool | PoolClient, studyRef: string): Promise<StudyCopy[]> {
  return kyselyOn(db)
    .selectFrom('instances as i')
    .innerJoin('copies as c', 'c.sha256', 'i.sha256')
    .select(['c.sha256', 'c.objectKey as key', 'c.target'])
    .distinct()
    .where('i.studyRef', '=', studyRef)
    .orderBy('c.sha256')
    .orderBy('c.target')
    .execute();
}

export async function studyObjectKeys(db: Pool | PoolClient, studyRef: string): Promise<{ sha256: string; key: string }[]> {
  return kyselyOn(db)
    .selectFrom('instances as i')
    .innerJoin('objects as o', 'o.sha256', 'i.sha256')
    .select(['o.sha256', 'o.objectKey as key'])
    .distinct()
    .where('i.studyRef', '=', studyRef)
    .orderBy('o.sha256')
    .execute();
}

/** The Series Instance UIDs of a study (their thumbnails go with it). */
export async function studySeriesUids(db: Pool | PoolClient, studyRef: string): Promise<string[]> {
  const rows = await kyselyOn(db).selectFrom('series').select('seriesInstanceUid').where('studyRef', '=', studyRef).orderBy('id').execute();
  return rows.map((r) => r.seriesInstanceUid);
}

/**
 * The tombstone (see docs/keep-and-prove.md): the study row stays, marked disposed with the date and the
 * request, its patient attributes cleared; its instances, series, copies and objects rows are deleted; the
 * identities of corrections filed for it are cleared, and its patient's row is forgotten when no live
 * study of that patient remains. The audit trail (audit_events, disposal_requests) is untouched.
 */
export async function writeTombstone(client: PoolClient, studyRef: string, requestId: string): Promise<{ instances: number; objects: number; patientForgotten: boolean }> {
  const db = kyselyOn(client);
  const objects = await db.selectFrom('instances').select('sha256').distinct().where('studyRef', '=', studyRef).execute();
  // One array parameter (ANY), which also holds no digest at all.
  const ofStudy = sql<boolean>`sha256 = ANY(${objects.map((r) => r.sha256)})`;
  const instances = await db.deleteFrom('instances').where('studyRef', '=', studyRef).executeTakeFirst();
  // An object is kept while anything outside this study still refers to it (identical bytes cannot belong
  // to two studies, but the check costs nothing).
  await db
    .deleteFrom('copies')
    .where(ofStudy)
    .where((eb) => eb.not(eb.exists(eb.selectFrom('instances as i').select(sql`1`.as('one')).whereRef('i.sha256', '=', 'copies.sha256'))))
    .execute();
  const deleted = await db
    .deleteFrom('objects')
    .where(ofStudy)
    .where((eb) => eb.not(eb.exists(eb.selectFrom('instances as i').select(sql`1`.as('one')).whereRef('i.sha256', '=', 'objects.sha256'))))
    .executeTakeFirst();
  await db.deleteFrom('series').where('studyRef', '=', studyRef).execute();
  await db
    .updateTable('studies')
    .set({
      disposedAt: sql<Date>`now()`,
      disposalRequestRef: requestId,
      patientName: null,
      patientId: null,
      patientBirthDate: null,
      patientSex: null,
      accessionNumber: null,
      referringPhysicianName: null,
      studyDescription: null,
      numberOfSeries: 0,
      numberOfInstances: 0,
    })
    .where('id', '=', studyRef)
    .execute();
  // Corrections an admin filed for this study carry an identity of their own; who corrected and why stay.
  await db.updateTable('patientIndexCorrections').set({ patientId: null, issuer: null, patientName: null, birthDate: null, sex: null }).where('studyRef', '=', studyRef).execute();
  const forgotten = await forgetPatientWithoutLiveStudies(client, studyRef);
  await forgetIndexedPersonWithoutLiveStudies(client, studyRef);
  return { instances: Number(instances.numDeletedRows), objects: Number(deleted.numDeletedRows), patientForgotten: forgotten };
}

/**
 * The patient index (the viewer's, migration 2030) files studies under persons that carry a name, birth
 * date, sex and identifiers. When the disposed study's person (its root and the persons merged into it)
 * has no live study left, those are forgotten: demographics cleared, identifiers deleted, the undecided
 * reviews the study raised withdrawn. The persons stay as ids, since merges and corrections refer to them.
 * Under the index lock, as every index write.
 */
async function forgetIndexedPersonWithoutLiveStudies(client: PoolClient, studyRef: string): Promise<void> {
  await lockPatientIndex(client);
  await client.query("DELETE FROM patient_index_reviews WHERE study_ref = $1 AND status = 'open'", [studyRef]);
  await client.query(
    `WITH root AS (
       SELECT ${personRootSql('p')} AS id FROM patient_index_studies x JOIN patient_index_persons p ON p.id = x.person_ref WHERE x.study_ref = $1
     ), tree AS (
       SELECT p.id FROM patient_index_persons p, root WHERE p.id = root.id OR p.merged_into = root.id
     ), forgettable AS (
       SELECT id FROM tree
        WHERE NOT EXISTS (SELECT 1 FROM patient_index_studies x JOIN studies s ON s.id = x.study_ref WHERE x.person_ref IN (SELECT id FROM tree) AND s.disposed_at IS NULL)
     ), identifiers AS (
       DELETE FROM patient_index_identifiers WHERE person_ref IN (SELECT id FROM forgettable)
     )
     UPDATE patient_index_persons SET patient_name = NULL, birth_date = NULL, sex = NULL WHERE id IN (SELECT id FROM forgettable)`,
    [studyRef],
  );
}

/**
 * The study's patient row (name, PatientID, birth date, sex) goes with the patient's last live study: a
 * returning client's newer studies keep it. Its key is replaced, so a later study with the same PatientID
 * files a new patient row. The row is locked first: an ingest adding a study for this patient holds it
 * (its upsert) until it commits, and the check below, a statement of its own, then sees that study.
 */
async function forgetPatientWithoutLiveStudies(client: PoolClient, studyRef: string): Promise<boolean> {
  const db = kyselyOn(client);
  const patient = await db
    .selectFrom('patients as p')
    .innerJoin('studies as s', 's.patientRef', 'p.id')
    .select('p.id')
    .where('s.id', '=', studyRef)
    .forUpdate('p')
    .executeTakeFirst();
  if (patient === undefined) return false;
  const forgotten = await db
    .updateTable('patients')
    .set({ patientKey: sql<string>`'disposed:' || id::text`, patientId: '', patientName: null, birthDate: null, sex: null })
    .where('id', '=', patient.id)
    .where((eb) => eb.not(eb.exists(eb.selectFrom('studies as s').select(sql`1`.as('one')).whereRef('s.patientRef', '=', 'patients.id').where('s.disposedAt', 'is', null))))
    .executeTakeFirst();
  return Number(forgotten.numUpdatedRows) === 1;
}
