import { appendAuditEvent } from '@yunying/audit';
import { auditActor } from '@yunying/auth';
import { inTransaction, type Pool, type PoolClient } from '@yunying/catalog';
import { AppError } from '@yunying/core';
import type { Caller } from '../reading/reading.audit';
import { PatientIndexAdminRepository } from './patient-index.admin.repository';
import { PatientIndexRepository } from './patient-index.repository';
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
  private readonly admin = new PatientIndexAdminRepository();

  constructor(
    private readonly pool: Pool,
    private readonly indexer: PatientIndexer,
  ) {}

  async reviews(caller: Caller, status: 'open' | 'merged' | 'kept-apart' | 'all', limit: number): Promise<ReviewView[]> {
    // Studies received since the last sweep may raise reviews: settle them first.
    await this.indexer.indexPending(1000);
    return inTransaction(this.pool, async (client) => {
      const rows = await this.admin.reviews(client, status, limit);
      const persons = new Map<string, PersonView>();
      for (const root of new Set(rows.flatMap((r) => [r.personRoot, r.candidateRoot]))) persons.set(root, await this.person(client, root));
      const views = rows.map((r) => ({
        id: r.id,
        reason: r.reason,
        differs: r.differs,
        status: r.status,
        createdAt: r.createdAt,
        decidedAt: r.decidedAt,
        decidedBy: r.decidedBy,
        studyInstanceUid: r.studyInstanceUid,
        person: persons.get(r.personRoot) as PersonView,
        candidate: persons.get(r.candidateRoot) as PersonView,
        sameNow: r.personRoot === r.candidateRoot,
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
      const moved = await this.admin.moveGroup(client, review.personRoot, review.candidateRoot);
      const mergeId = await this.admin.insertMerge(client, { survivorRoot: review.candidateRoot, mergedRoot: review.personRoot, movedPersons: moved, reviewId, by: byOf(caller) });
      // This review, and any other open one between what is now one person, is settled by the merge.
      await this.admin.settleReviewsWithin(client, review.candidateRoot, byOf(caller));
      const studies = await this.admin.studiesOf(client, moved);
      await this.audit(client, caller, 'Patient Record', 'U', { what: 'patient-index-merge', mergeId, reviewId, survivor: review.candidateRoot, merged: review.personRoot, studies });
      return this.mergeView(client, mergeId);
    });
  }

  /** Not the same person: the review is closed and the pair is not queued again. */
  async keepApart(caller: Caller, reviewId: string): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await this.repo.lock(client);
      await this.openReview(client, reviewId);
      await this.admin.decideReview(client, reviewId, 'kept-apart', byOf(caller));
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
      const merge = await this.admin.lockedMerge(client, mergeId);
      if (!merge) throw new AppError('not_found', 'Merge not found');
      if (merge.unmergedAt !== null) throw new AppError('conflict', 'This merge was already undone');
      if (!merge.survivorRoot || !merge.still) throw new AppError('conflict', 'A later merge involves these persons: undo it first');
      await this.admin.restoreGroup(client, merge.mergedRef, merge.movedPersons);
      await this.admin.markUnmerged(client, mergeId, byOf(caller));
      if (merge.reviewRef !== null) await this.admin.decideReview(client, merge.reviewRef, 'kept-apart', byOf(caller));
      const studies = await this.admin.studiesOf(client, merge.movedPersons);
      await this.audit(client, caller, 'Patient Record', 'U', { what: 'patient-index-unmerge', mergeId, survivor: merge.survivorRef, merged: merge.mergedRef, studies });
      return this.mergeView(client, mergeId);
    });
  }

  async merges(caller: Caller, limit: number): Promise<MergeView[]> {
    return inTransaction(this.pool, async (client) => {
      const views: MergeView[] = [];
      for (const id of await this.admin.recentMergeIds(client, limit)) views.push(await this.mergeView(client, id));
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
      const studyId = await this.admin.liveStudyId(client, studyUid);
      if (studyId === null) throw new AppError('not_found', 'Study not found');
      const previous = await this.repo.rootOfStudy(client, studyId);
      const correctionId = await this.admin.insertCorrection(client, {
        studyRef: studyId,
        patientId: correction.patientId,
        issuer: correction.issuer,
        name: correction.name,
        birthDate: correction.birthDate,
        sex: correction.sex,
        reason: correction.reason,
        by: byOf(caller),
        previousPerson: previous,
      });
      const filed = await this.indexer.reindexStudyIn(client, studyId);
      await this.admin.setCorrectionPerson(client, correctionId, filed.root);
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
    return this.admin.issuers(this.pool);
  }

  /** Replaces the configured issuers; applies to studies indexed from now on. */
  async setIssuers(caller: Caller, issuers: readonly IdentifierIssuer[]): Promise<IdentifierIssuer[]> {
    return inTransaction(this.pool, async (client) => {
      await this.repo.lock(client);
      await this.admin.replaceIssuers(client, issuers, byOf(caller));
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
    const review = await this.admin.lockedReview(client, reviewId);
    if (!review) throw new AppError('not_found', 'Review not found');
    if (review.status !== 'open') throw new AppError('conflict', `The review was already decided (${review.status})`);
    return { personRoot: review.personRoot, candidateRoot: review.candidateRoot };
  }

  private async person(client: PoolClient, root: string): Promise<PersonView> {
    const p = await this.admin.personDemographics(client, root);
    const ids = await this.admin.personIdentifiers(client, root);
    const studies = await this.admin.personStudies(client, root);
    return {
      personId: root,
      name: p?.patientName ?? null,
      birthDate: p?.birthDate ?? null,
      sex: p?.sex ?? null,
      identifiers: ids.map((i) => ({
        issuer: i.namespace.startsWith('issuer:') ? i.namespace.slice('issuer:'.length) : null,
        clinic: i.clinic,
        value: i.value,
      })),
      studies: studies.map((s) => ({ studyInstanceUid: s.studyInstanceUid, studyDate: s.studyDate, clinic: s.clinic, modalities: s.modalities, description: s.studyDescription })),
    };
  }

  private async mergeView(client: PoolClient, mergeId: string): Promise<MergeView> {
    const m = await this.admin.merge(client, mergeId);
    if (!m) throw new AppError('not_found', 'Merge not found');
    return {
      id: m.id,
      survivorId: m.survivorRef,
      mergedId: m.mergedRef,
      reviewId: m.reviewRef,
      mergedBy: m.mergedBy,
      mergedAt: m.mergedAt,
      unmergedBy: m.unmergedBy,
      unmergedAt: m.unmergedAt,
      studiesMoved: m.studies,
    };
  }

  private async audit(client: PoolClient, caller: Caller, type: 'Query' | 'Patient Record', action: 'E' | 'U', details: Record<string, string | number | string[]>): Promise<void> {
    await appendAuditEvent(client, { type, action, actor: auditActor(caller.principal), sourceIp: caller.sourceIp, details });
  }
}
