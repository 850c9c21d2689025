import { appendAuditEvent } from '@yunying/audit';
import { auditActor } from '@yunying/auth';
import { inTransaction, type Pool, type PoolClient } from '@yunying/catalog';
import { AppError } from '@yunying/core';
import type { Caller } from '../reading/reading.audit';
import { PatientIndexRepository, ROOT_SQL } from './patient-index.repository';
import type { PatientIndexer } from './patient-indexer';

export interface PersonView {
  /** The person's root id in the index (opaque; not a patient identifier). */
  personId: string;
  name: string | null;
  birthDate: string | null;
  sex: string | null;
  /** The identifiers: issuer (or clinic code for a clinic's own number) and value. */
  identifiers: { issuer: string | null; clinic: string | null; value: string }[];
  studies: { studyInstanceUid: string; studyDate: string | null; clinic: string; modalities: string[]; description: string | null }[];
}

export interface ReviewView {
  id: string;
  reason: string;
  differs: string[];
  status: string;
  createdAt: Date;
  decidedAt: Date | null;
  decidedBy: string | null;
  /** The study whose indexing raised the review. */
  studyInstanceUid: string;
  /** Where that study was filed, and the person it may be. */
  person: PersonView;
  candidate: PersonView;
  /** Both sides are already one person (merged since). */
  sameNow: boolean;
}

export interface MergeView {
  id: string;
  survivorId: string;
  mergedId: string;
  reviewId: string | null;
  mergedBy: string;
  mergedAt: Date;
  unmergedBy: string | null;
  unmergedAt: Date | null;
  studiesMoved: number;
}

/** A corrected identity for one study: what the admin states its patient really is (null: not known). */
export interface DemographicsCorrection {
  patientId: string | null;
  issuer: string | null;
  name: string | null;
  birthDate: string | null;
  sex: 'M' | 'F' | 'O' | null;
  /** Why (for the record; never copied into the audit trail, it may name the patient). */
  reason: string;
}

export interface CorrectionView {
  correctionId: string;
  studyInstanceUid: string;
  /** The person root the study was filed under before, and now (null before when it was not indexed yet). */
  previousPersonId: string | null;
  personId: string;
  linkedBy: string;
  /** Undecided reviews the study had raised under its old identity, withdrawn. */
  withdrawnReviews: number;
}

export interface IdentifierIssuer {
  issuer: string;
  label: string;
}

const byOf = (caller: Caller): string => caller.principal.userId ?? caller.principal.username;

/**
 * The admin side of the patient index (#20): the queue of possible duplicates, merge, keep apart and unmerge,
 * and the issuers whose identifiers count everywhere. Admins see every clinic (their role's scope); every
 * read is a Query and every change a Patient Record (DCM 110110) audit event naming study UIDs and index ids,
 * never a name or identifier.
 */
export class PatientIndexAdmin {
  private readonly repo = new PatientIndexRepository();

  constructor(
    private readonly pool: Pool,
    private readonly indexer: PatientIndexer,
  ) {}

  async reviews(caller: Caller, status: 'open' | 'merged' | 'kept-apart' | 'all', limit: number): Promise<ReviewView[]> {
    // Studies received since the last sweep may raise reviews: settle them first.
    await this.indexer.indexPending(1000);
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{
        id: string;
        reason: string;
        differs: string[];
        status: string;
        created_at: Date;
        decided_at: Date | null;
        decided_by: string | null;
        study_instance_uid: string;
        person_root: string;
        candidate_root: string;
      }>(
        `SELECT r.id::text, r.reason, r.differs, r.status, r.created_at, r.decided_at, r.decided_by, s.study_instance_uid,
                ${ROOT_SQL('a')}::text AS person_root, ${ROOT_SQL('b')}::text AS candidate_root
           FROM patient_index_reviews r
           JOIN studies s ON s.id = r.study_ref
           JOIN patient_index_persons a ON a.id = r.person_ref JOIN patient_index_persons b ON b.id = r.candidate_ref
          WHERE ($1 = 'all' OR r.status = $1)
          ORDER BY r.id LIMIT $2`,
        [status, limit],
      );
      const persons = new Map<string, PersonView>();
      for (const root of new Set(rows.flatMap((r) => [r.person_root, r.candidate_root]))) persons.set(root, await this.person(client, root));
      const views = rows.map((r) => ({
        id: r.id,
        reason: r.reason,
        differs: r.differs,
        status: r.status,
        createdAt: r.created_at,
        decidedAt: r.decided_at,
        decidedBy: r.decided_by,
        studyInstanceUid: r.study_instance_uid,
        person: persons.get(r.person_root) as PersonView,
        candidate: persons.get(r.candidate_root) as PersonView,
        sameNow: r.person_root === r.candidate_root,
      }));
      await this.audit(client, caller, 'Query', 'E', { what: 'patient-index-reviews', status, count: views.length, reviews: views.map((v) => v.id) });
      return views;
    });
  }

  /** Merges the review's study's person group into the candidate's: from now on one person for priors. */
  async merge(caller: Caller, reviewId: string): Promise<MergeView> {
    return inTransaction(this.pool, async (client) => {
      await this.repo.lock(client);
      const review = await this.openReview(client, reviewId);
      if (review.personRoot === review.candidateRoot) throw new AppError('conflict', 'Both sides are already one person');
      const { rows: moved } = await client.query<{ id: string }>(
        `UPDATE patient_index_persons p SET merged_into = $1 WHERE ${ROOT_SQL('p')} = $2 RETURNING p.id::text`,
        [review.candidateRoot, review.personRoot],
      );
      const { rows } = await client.query<{ id: string }>(
        `INSERT INTO patient_index_merges (survivor_ref, merged_ref, moved_persons, review_ref, merged_by) VALUES ($1, $2, $3, $4, $5) RETURNING id::text`,
        [review.candidateRoot, review.personRoot, moved.map((m) => m.id), reviewId, byOf(caller)],
      );
      const mergeId = rows[0]?.id ?? '';
      // This review, and any other open one between what is now one person, is settled by the merge.
      await client.query(
        `UPDATE patient_index_reviews r SET status = 'merged', decided_by = $2, decided_at = now()
           FROM patient_index_persons a, patient_index_persons b
          WHERE a.id = r.person_ref AND b.id = r.candidate_ref AND r.status = 'open' AND ${ROOT_SQL('a')} = $1 AND ${ROOT_SQL('b')} = $1`,
        [review.candidateRoot, byOf(caller)],
      );
      const studies = await this.studiesOf(client, moved.map((m) => m.id));
      await this.audit(client, caller, 'Patient Record', 'U', { what: 'patient-index-merge', mergeId, reviewId, survivor: review.candidateRoot, merged: review.personRoot, studies });
      return this.mergeView(client, mergeId);
    });
  }

  /** Not the same person: the review is closed and the pair is not queued again. */
  async keepApart(caller: Caller, reviewId: string): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await this.repo.lock(client);
      await this.openReview(client, reviewId);
      await client.query(`UPDATE patient_index_reviews SET status = 'kept-apart', decided_by = $2, decided_at = now() WHERE id = $1`, [reviewId, byOf(caller)]);
      await this.audit(client, caller, 'Patient Record', 'E', { what: 'patient-index-keep-apart', reviewId });
    });
  }

  /**
   * Undoes a merge exactly: the persons it moved go back under the merged person. Only while the survivor
   * is still a root (a later merge of the survivor is undone first); the review becomes "kept apart".
   */
  async unmerge(caller: Caller, mergeId: string): Promise<MergeView> {
    return inTransaction(this.pool, async (client) => {
      await this.repo.lock(client);
      const { rows } = await client.query<{ survivor_ref: string; merged_ref: string; moved_persons: string[]; review_ref: string | null; unmerged_at: Date | null; survivor_root: boolean; still: boolean }>(
        `SELECT m.survivor_ref::text, m.merged_ref::text, m.moved_persons::text[] AS moved_persons, m.review_ref::text, m.unmerged_at,
                (SELECT merged_into IS NULL FROM patient_index_persons WHERE id = m.survivor_ref) AS survivor_root,
                NOT EXISTS (SELECT 1 FROM patient_index_persons p WHERE p.id = ANY(m.moved_persons) AND p.merged_into IS DISTINCT FROM m.survivor_ref) AS still
           FROM patient_index_merges m WHERE m.id = $1 FOR UPDATE`,
        [mergeId],
      );
      const merge = rows[0];
      if (!merge) throw new AppError('not_found', 'Merge not found');
      if (merge.unmerged_at !== null) throw new AppError('conflict', 'This merge was already undone');
      if (!merge.survivor_root || !merge.still) throw new AppError('conflict', 'A later merge involves these persons: undo it first');
      await client.query(
        `UPDATE patient_index_persons SET merged_into = CASE WHEN id = $1 THEN NULL ELSE $1 END WHERE id = ANY($2::bigint[])`,
        [merge.merged_ref, merge.moved_persons],
      );
      await client.query('UPDATE patient_index_merges SET unmerged_by = $2, unmerged_at = now() WHERE id = $1', [mergeId, byOf(caller)]);
      if (merge.review_ref !== null) {
        await client.query(`UPDATE patient_index_reviews SET status = 'kept-apart', decided_by = $2, decided_at = now() WHERE id = $1`, [merge.review_ref, byOf(caller)]);
      }
      const studies = await this.studiesOf(client, merge.moved_persons);
      await this.audit(client, caller, 'Patient Record', 'U', { what: 'patient-index-unmerge', mergeId, survivor: merge.survivor_ref, merged: merge.merged_ref, studies });
      return this.mergeView(client, mergeId);
    });
  }

  async merges(caller: Caller, limit: number): Promise<MergeView[]> {
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{ id: string }>('SELECT id::text FROM patient_index_merges ORDER BY id DESC LIMIT $1', [limit]);
      const views: MergeView[] = [];
      for (const r of rows) views.push(await this.mergeView(client, r.id));
      await this.audit(client, caller, 'Query', 'E', { what: 'patient-index-merges', count: views.length });
      return views;
    });
  }

  /**
   * Corrects a study's patient identity for the index and files the study again at once: its priors (and
   * the priors of the studies it leaves or joins) follow. The stored DICOM objects are not changed; the
   * correction is kept (every one, with who and why) and audited as a Patient Record update naming only
   * the study UID and index ids.
   */
  async correct(caller: Caller, studyUid: string, correction: DemographicsCorrection): Promise<CorrectionView> {
    return inTransaction(this.pool, async (client) => {
      await this.repo.lock(client);
      const { rows: studies } = await client.query<{ id: string }>('SELECT id::text FROM studies WHERE study_instance_uid = $1 AND disposed_at IS NULL', [studyUid]);
      const studyId = studies[0]?.id;
      if (studyId === undefined) throw new AppError('not_found', 'Study not found');
      const previous = await this.repo.rootOfStudy(client, studyId);
      const { rows } = await client.query<{ id: string }>(
        `INSERT INTO patient_index_corrections (study_ref, patient_id, issuer, patient_name, birth_date, sex, reason, corrected_by, previous_person_ref)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id::text`,
        [studyId, correction.patientId, correction.issuer, correction.name, correction.birthDate, correction.sex, correction.reason, byOf(caller), previous],
      );
      const correctionId = rows[0]?.id ?? '';
      const filed = await this.indexer.reindexStudyIn(client, studyId);
      await client.query('UPDATE patient_index_corrections SET person_ref = $2 WHERE id = $1', [correctionId, filed.root]);
      await this.audit(client, caller, 'Patient Record', 'U', {
        what: 'patient-index-correction',
        correctionId,
        studies: [studyUid],
        previousPerson: previous ?? '',
        person: filed.root,
        linkedBy: filed.linkedBy,
        withdrawnReviews: filed.withdrawnReviews,
      });
      return { correctionId, studyInstanceUid: studyUid, previousPersonId: previous, personId: filed.root, linkedBy: filed.linkedBy, withdrawnReviews: filed.withdrawnReviews };
    });
  }

  async issuers(): Promise<IdentifierIssuer[]> {
    const { rows } = await this.pool.query<IdentifierIssuer>('SELECT issuer, label FROM patient_identifier_issuers ORDER BY issuer');
    return rows;
  }

  /** Replaces the configured issuers; applies to studies indexed from now on. */
  async setIssuers(caller: Caller, issuers: readonly IdentifierIssuer[]): Promise<IdentifierIssuer[]> {
    return inTransaction(this.pool, async (client) => {
      await this.repo.lock(client);
      await client.query('DELETE FROM patient_identifier_issuers');
      for (const i of issuers) await client.query('INSERT INTO patient_identifier_issuers (issuer, label, added_by) VALUES ($1, $2, $3)', [i.issuer, i.label, byOf(caller)]);
      await appendAuditEvent(client, {
        type: 'Security Alert',
        action: 'U',
        actor: auditActor(caller.principal),
        sourceIp: caller.sourceIp,
        details: { what: 'patient-identifier-issuers', issuers: issuers.length },
      });
      return [...issuers].sort((a, b) => a.issuer.localeCompare(b.issuer));
    });
  }

  private async openReview(client: PoolClient, reviewId: string): Promise<{ personRoot: string; candidateRoot: string }> {
    const { rows } = await client.query<{ status: string; person_root: string; candidate_root: string }>(
      `SELECT r.status, ${ROOT_SQL('a')}::text AS person_root, ${ROOT_SQL('b')}::text AS candidate_root
         FROM patient_index_reviews r JOIN patient_index_persons a ON a.id = r.person_ref JOIN patient_index_persons b ON b.id = r.candidate_ref
        WHERE r.id = $1 FOR UPDATE OF r`,
      [reviewId],
    );
    const review = rows[0];
    if (!review) throw new AppError('not_found', 'Review not found');
    if (review.status !== 'open') throw new AppError('conflict', `The review was already decided (${review.status})`);
    return { personRoot: review.person_root, candidateRoot: review.candidate_root };
  }

  private async person(client: PoolClient, root: string): Promise<PersonView> {
    const { rows: p } = await client.query<{ patient_name: string | null; birth_date: string | null; sex: string | null }>(
      'SELECT patient_name, birth_date, sex FROM patient_index_persons WHERE id = $1',
      [root],
    );
    const { rows: ids } = await client.query<{ namespace: string; value: string; clinic: string | null }>(
      `SELECT DISTINCT i.namespace, i.value, c.code AS clinic
         FROM patient_index_identifiers i JOIN patient_index_persons p ON p.id = i.person_ref
         LEFT JOIN clinics c ON i.namespace LIKE 'clinic:%' AND c.id::text = substr(i.namespace, 8)
        WHERE ${ROOT_SQL('p')} = $1 ORDER BY 1, 2`,
      [root],
    );
    const { rows: studies } = await client.query<{ study_instance_uid: string; study_date: string | null; clinic: string; modalities: string[]; study_description: string | null }>(
      `SELECT s.study_instance_uid, s.study_date, c.code AS clinic, s.modalities, s.study_description
         FROM patient_index_studies x JOIN patient_index_persons p ON p.id = x.person_ref
         JOIN studies s ON s.id = x.study_ref JOIN clinics c ON c.id = s.clinic_id
        WHERE ${ROOT_SQL('p')} = $1 AND s.disposed_at IS NULL ORDER BY s.study_date DESC NULLS LAST, s.id DESC LIMIT 50`,
      [root],
    );
    return {
      personId: root,
      name: p[0]?.patient_name ?? null,
      birthDate: p[0]?.birth_date ?? null,
      sex: p[0]?.sex ?? null,
      identifiers: ids.map((i) => ({
        issuer: i.namespace.startsWith('issuer:') ? i.namespace.slice('issuer:'.length) : null,
        clinic: i.clinic,
        value: i.value,
      })),
      studies: studies.map((s) => ({ studyInstanceUid: s.study_instance_uid, studyDate: s.study_date, clinic: s.clinic, modalities: s.modalities, description: s.study_description })),
    };
  }

  private async studiesOf(client: PoolClient, persons: readonly string[]): Promise<string[]> {
    const { rows } = await client.query<{ study_instance_uid: string }>(
      `SELECT s.study_instance_uid FROM patient_index_studies x JOIN studies s ON s.id = x.study_ref WHERE x.person_ref = ANY($1::bigint[]) ORDER BY s.id`,
      [persons],
    );
    return rows.map((r) => r.study_instance_uid);
  }

  private async mergeView(client: PoolClient, mergeId: string): Promise<MergeView> {
    const { rows } = await client.query<{
      id: string;
      survivor_ref: string;
      merged_ref: string;
      review_ref: string | null;
      merged_by: string;
      merged_at: Date;
      unmerged_by: string | null;
      unmerged_at: Date | null;
      studies: number;
    }>(
      `SELECT m.id::text, m.survivor_ref::text, m.merged_ref::text, m.review_ref::text, m.merged_by, m.merged_at, m.unmerged_by, m.unmerged_at,
              (SELECT count(*)::int FROM patient_index_studies x WHERE x.person_ref = ANY(m.moved_persons)) AS studies
         FROM patient_index_merges m WHERE m.id = $1`,
      [mergeId],
    );
    const m = rows[0];
    if (!m) throw new AppError('not_found', 'Merge not found');
    return {
      id: m.id,
      survivorId: m.survivor_ref,
      mergedId: m.merged_ref,
      reviewId: m.review_ref,
      mergedBy: m.merged_by,
      mergedAt: m.merged_at,
      unmergedBy: m.unmerged_by,
      unmergedAt: m.unmerged_at,
      studiesMoved: m.studies,
    };
  }

  private async audit(client: PoolClient, caller: Caller, type: 'Query' | 'Patient Record', action: 'E' | 'U', details: Record<string, string | number | string[]>): Promise<void> {
    await appendAuditEvent(client, { type, action, actor: auditActor(caller.principal), sourceIp: caller.sourceIp, details });
  }
}
