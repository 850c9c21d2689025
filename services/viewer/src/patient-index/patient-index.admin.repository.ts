import { kyselyOn, sql, type Pool, type PoolClient } from '@yunying/catalog';
import { ROOT_SQL, rootOf } from './patient-index.repository';

export type ReviewStatus = 'open' | 'merged' | 'kept-apart';

/** SQL of the patient index's admin side (#20): reviews, merges, corrections and configured issuers. */
export class PatientIndexAdminRepository {
  /** Reviews in `status` ('all': every one) by id, with the person roots of both sides now. */
  async reviews(client: PoolClient, status: ReviewStatus | 'all', limit: number) {
    let query = kyselyOn(client)
      .selectFrom('patientIndexReviews as r')
      .innerJoin('studies as s', 's.id', 'r.studyRef')
      .innerJoin('patientIndexPersons as a', 'a.id', 'r.personRef')
      .innerJoin('patientIndexPersons as b', 'b.id', 'r.candidateRef')
      .select(['r.id', 'r.reason', 'r.differs', 'r.status', 'r.createdAt', 'r.decidedAt', 'r.decidedBy', 's.studyInstanceUid', rootOf('a').as('personRoot'), rootOf('b').as('candidateRoot')]);
    if (status !== 'all') query = query.where('r.status', '=', status);
    return query.orderBy('r.id').limit(limit).execute();
  }

  /** An undecided-or-not review's status and both roots, its row locked; null when there is none. */
  async lockedReview(client: PoolClient, reviewId: string): Promise<{ status: string; personRoot: string; candidateRoot: string } | null> {
    const row = await kyselyOn(client)
      .selectFrom('patientIndexReviews as r')
      .innerJoin('patientIndexPersons as a', 'a.id', 'r.personRef')
      .innerJoin('patientIndexPersons as b', 'b.id', 'r.candidateRef')
      .select(['r.status', rootOf('a').as('personRoot'), rootOf('b').as('candidateRoot')])
      .where('r.id', '=', reviewId)
      .forUpdate('r')
      .executeTakeFirst();
    return row ?? null;
  }

  async decideReview(client: PoolClient, reviewId: string, status: Exclude<ReviewStatus, 'open'>, by: string): Promise<void> {
    await kyselyOn(client).updateTable('patientIndexReviews').set({ status, decidedBy: by, decidedAt: sql<Date>`now()` }).where('id', '=', reviewId).execute();
  }

  /** Every open review between persons that are now the one person `root`, settled as merged. */
  async settleReviewsWithin(client: PoolClient, root: string, by: string): Promise<void> {
    await client.query(
      `UPDATE patient_index_reviews r SET status = 'merged', decided_by = $2, decided_at = now()
         FROM patient_index_persons a, patient_index_persons b
        WHERE a.id = r.person_ref AND b.id = r.candidate_ref AND r.status = 'open' AND ${ROOT_SQL('a')} = $1 AND ${ROOT_SQL('b')} = $1`,
      [root, by],
    );
  }

  /** Puts every person under `mergedRoot` under `survivorRoot`; returns the persons moved. */
  async moveGroup(client: PoolClient, mergedRoot: string, survivorRoot: string): Promise<string[]> {
    const rows = await kyselyOn(client)
      .updateTable('patientIndexPersons as p')
      .set({ mergedInto: survivorRoot })
      .where(sql.raw(ROOT_SQL('p')), '=', mergedRoot)
      .returning('p.id')
      .execute();
    return rows.map((r) => r.id);
  }

  async insertMerge(client: PoolClient, m: { survivorRoot: string; mergedRoot: string; movedPersons: readonly string[]; reviewId: string; by: string }): Promise<string> {
    const row = await kyselyOn(client)
      .insertInto('patientIndexMerges')
      .values({ survivorRef: m.survivorRoot, mergedRef: m.mergedRoot, movedPersons: [...m.movedPersons], reviewRef: m.reviewId, mergedBy: m.by })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  /** A merge, locked, with whether it can still be undone exactly (the survivor a root, the moved persons still under it). */
  async lockedMerge(client: PoolClient, mergeId: string) {
    const row = await kyselyOn(client)
      .selectFrom('patientIndexMerges as m')
      .select(['m.survivorRef', 'm.mergedRef', 'm.movedPersons', 'm.reviewRef', 'm.unmergedAt'])
      .select([
        sql<boolean>`(SELECT merged_into IS NULL FROM patient_index_persons WHERE id = m.survivor_ref)`.as('survivorRoot'),
        sql<boolean>`NOT EXISTS (SELECT 1 FROM patient_index_persons p WHERE p.id = ANY(m.moved_persons) AND p.merged_into IS DISTINCT FROM m.survivor_ref)`.as('still'),
      ])
      .where('m.id', '=', mergeId)
      .forUpdate()
      .executeTakeFirst();
    return row ?? null;
  }

  /** The moved persons back under the merged person (which becomes a root again). */
  async restoreGroup(client: PoolClient, mergedRef: string, movedPersons: readonly string[]): Promise<void> {
    await client.query(`UPDATE patient_index_persons SET merged_into = CASE WHEN id = $1 THEN NULL ELSE $1 END WHERE id = ANY($2::bigint[])`, [mergedRef, movedPersons]);
  }

  async markUnmerged(client: PoolClient, mergeId: string, by: string): Promise<void> {
    await kyselyOn(client).updateTable('patientIndexMerges').set({ unmergedBy: by, unmergedAt: sql<Date>`now()` }).where('id', '=', mergeId).execute();
  }

  async recentMergeIds(client: PoolClient, limit: number): Promise<string[]> {
    const rows = await kyselyOn(client).selectFrom('patientIndexMerges').select('id').orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => r.id);
  }

  /** A merge with the number of studies its moved persons hold. */
  async merge(client: PoolClient, mergeId: string) {
    const row = await kyselyOn(client)
      .selectFrom('patientIndexMerges as m')
      .select(['m.id', 'm.survivorRef', 'm.mergedRef', 'm.reviewRef', 'm.mergedBy', 'm.mergedAt', 'm.unmergedBy', 'm.unmergedAt'])
      .select(sql<number>`(SELECT count(*)::int FROM patient_index_studies x WHERE x.person_ref = ANY(m.moved_persons))`.as('studies'))
      .where('m.id', '=', mergeId)
      .executeTakeFirst();
    return row ?? null;
  }

  /** The row id of a study that is not disposed. */
  async liveStudyId(client: PoolClient, studyUid: string): Promise<string | null> {
    const row = await kyselyOn(client).selectFrom('studies').select('id').where('studyInstanceUid', '=', studyUid).where('disposedAt', 'is', null).executeTakeFirst();
    return row?.id ?? null;
  }

  async insertCorrection(
    client: PoolClient,
    c: { studyRef: string; patientId: string | null; issuer: string | null; name: string | null; birthDate: string | null; sex: string | null; reason: string; by: string; previousPerson: string | null },
  ): Promise<string> {
    const row = await kyselyOn(client)
      .insertInto('patientIndexCorrections')
      .values({
        studyRef: c.studyRef,
        patientId: c.patientId,
        issuer: c.issuer,
        patientName: c.name,
        birthDate: c.birthDate,
        sex: c.sex,
        reason: c.reason,
        correctedBy: c.by,
        previousPersonRef: c.previousPerson,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  async setCorrectionPerson(client: PoolClient, correctionId: string, person: string): Promise<void> {
    await kyselyOn(client).updateTable('patientIndexCorrections').set({ personRef: person }).where('id', '=', correctionId).execute();
  }

  async issuers(db: Pool | PoolClient): Promise<{ issuer: string; label: string }[]> {
    return kyselyOn(db).selectFrom('patientIdentifierIssuers').select(['issuer', 'label']).orderBy('issuer').execute();
  }

  async replaceIssuers(client: PoolClient, issuers: readonly { issuer: string; label: string }[], by: string): Promise<void> {
    await kyselyOn(client).deleteFrom('patientIdentifierIssuers').execute();
    for (const i of issuers) await kyselyOn(client).insertInto('patientIdentifierIssuers').values({ issuer: i.issuer, label: i.label, addedBy: by }).execute();
  }

  async personDemographics(client: PoolClient, root: string) {
    return (await kyselyOn(client).selectFrom('patientIndexPersons').select(['patientName', 'birthDate', 'sex']).where('id', '=', root).executeTakeFirst()) ?? null;
  }

  /** The identifiers of every person under `root`, each once, with the clinic code of a clinic's own number. */
  async personIdentifiers(client: PoolClient, root: string) {
    return kyselyOn(client)
      .selectFrom('patientIndexIdentifiers as i')
      .innerJoin('patientIndexPersons as p', 'p.id', 'i.personRef')
      .leftJoin('clinics as c', (join) => join.on(sql<boolean>`i.namespace LIKE 'clinic:%' AND c.id::text = substr(i.namespace, 8)`))
      .select(['i.namespace', 'i.value', 'c.code as clinic'])
      .distinct()
      .where(sql.raw(ROOT_SQL('p')), '=', root)
      .orderBy('i.namespace')
      .orderBy('i.value')
      .execute();
  }

  /** The live studies filed under `root`, newest first, at most 50. */
  async personStudies(client: PoolClient, root: string) {
    return kyselyOn(client)
      .selectFrom('patientIndexStudies as x')
      .innerJoin('patientIndexPersons as p', 'p.id', 'x.personRef')
      .innerJoin('studies as s', 's.id', 'x.studyRef')
      .innerJoin('clinics as c', 'c.id', 's.clinicId')
      .select(['s.studyInstanceUid', 's.studyDate', 'c.code as clinic', 's.modalities', 's.studyDescription'])
      .where(sql.raw(ROOT_SQL('p')), '=', root)
      .where('s.disposedAt', 'is', null)
      .orderBy(sql`s.study_date DESC NULLS LAST`)
      .orderBy('s.id', 'desc')
      .limit(50)
      .execute();
  }

  /** The study UIDs filed under exactly these persons, by study id. */
  async studiesOf(client: PoolClient, persons: readonly string[]): Promise<string[]> {
    const rows = await kyselyOn(client)
      .selectFrom('patientIndexStudies as x')
      .innerJoin('studies as s', 's.id', 'x.studyRef')
      .select('s.studyInstanceUid')
      .where('x.personRef', '=', sql<string>`ANY(${[...persons]}::bigint[])`)
      .orderBy('s.id')
      .execute();
    return rows.map((r) => r.studyInstanceUid);
  }
}
