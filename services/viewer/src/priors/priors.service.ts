import { inTransaction, type CatalogReader, type Pool, type PoolClient } from '@yunying/catalog';
import type { AuditSink } from '@yunying/audit';
import { AppError } from '@yunying/core';
import { isoDate } from '../reading/patient-age';
import { auditRead, type Caller } from '../reading/reading.audit';
import { studyTime } from '../reading/banner.service';
import { PatientIndexRepository } from '../patient-index/patient-index.repository';
import { PatientIndexer } from '../patient-index/patient-indexer';
import { PriorsRepository, type PatientStudyRow } from './priors.repository';
import { compareMostRecentFirst, imagingModalities, isEarlier, isRelevantPrior, isThyroidStudy } from './priors.rules';

export interface PriorStudyView {
  studyInstanceUid: string;
  studyDate: string | null;
  studyTime: string | null;
  description: string | null;
  modalities: string[];
  bodyParts: string[];
  thyroid: boolean;
  clinic: { code: string; name: string };
  numberOfInstances: number;
  /** Before the current visit (a prior); false for a later visit or another study of the same visit. */
  earlier: boolean;
  /** Same imaging modality and region as the current study. */
  relevant: boolean;
}

export interface PriorsView {
  studyInstanceUid: string;
  /** What the studies were linked on; null when the study has no PatientID (then nothing is linked). */
  linkedOn: { patientId: true; issuer: string | null } | null;
  current: { modalities: string[]; bodyParts: string[]; thyroid: boolean };
  /** The patient's other studies the caller may see, most recent first. */
  studies: PriorStudyView[];
  /** The most recent earlier relevant study: the one the viewer opens beside the current one. */
  relevantPrior: string | null;
  /**
   * Studies with this PatientID (same clinic, or another clinic under the same issuer) that the patient
   * index did not link: another issuer, or a contradiction waiting in the admin queue. Never a guess here.
   */
  notLinked: number;
  /** The patient index has an open review about this person (an admin decides whether studies belong together). */
  identityUnderReview: boolean;
}

/** The study and the patient's other studies in scope, for the priors list and the nodule follow-up. */
export interface PatientStudies {
  current: PatientStudyRow;
  others: PatientStudyRow[];
  notLinked: number;
  identityUnderReview: boolean;
}

/** Pending studies indexed before priors are read: those received since the viewer's last sweep. */
const INDEX_BEFORE_READ = 200;

/**
 * Priors (issue #20): the same person's other studies as the patient index links them (PatientID +
 * Issuer of Patient ID, a clinic's own number within the clinic, configured identifiers such as a national
 * ID, checked against name, birth date and sex, and an admin's merges); only in the caller's clinics (grants
 * for a reader, their own clinic for a clinic user), in SQL. Audited as a Query on the current study
 * listing the studies shown. Read where staleness is harmless (a streaming replica, ServiceContext.reads):
 * a prior stored a moment ago may be listed a moment later; a study the replica has not indexed yet is
 * read on the primary, where it is indexed first.
 */
export class PriorsService {
  private readonly repo = new PriorsRepository();
  private readonly index = new PatientIndexRepository();
  private readonly indexer: PatientIndexer;

  constructor(
    private readonly pool: Pool,
    /** The process's audit log: the priors list records its Query through it (group-committed). */
    private readonly audit: AuditSink,
    /** Read-only lookups: a streaming replica with the primary as fallback, or the pool itself. */
    private readonly reads: CatalogReader = pool,
  ) {
    this.indexer = new PatientIndexer(pool);
  }

  async list(caller: Caller, studyUid: string): Promise<PriorsView> {
    const indexed = await this.indexedPatientStudies(this.reads, caller, studyUid);
    if (indexed !== null) {
      const result = priorsView(studyUid, indexed);
      // On the primary (a replica is read-only), committed before the response is sent.
      await this.record(caller, result, indexed.current.clinicId);
      return result;
    }
    // The primary may index the study here (a write), in its own transaction; the read's record follows it.
    const found = await inTransaction(this.pool, (client) => this.patientStudies(client, caller, studyUid));
    const result = priorsView(studyUid, found);
    await this.record(caller, result, found.current.clinicId);
    return result;
  }

  private async record(caller: Caller, result: PriorsView, clinicId: string): Promise<void> {
    await auditRead(this.audit, caller, {
      type: 'Query',
      studyInstanceUid: result.studyInstanceUid,
      clinicId,
      details: { what: 'priors', count: result.studies.length, studies: result.studies.map((s) => s.studyInstanceUid), notLinked: result.notLinked },
    });
  }

  /**
   * Read-only: the patient's studies when `reads` sees the study and has it in the patient index; null
   * otherwise (not visible there or not indexed yet: the caller asks the primary, which may index it).
   */
  private async indexedPatientStudies(reads: CatalogReader, caller: Caller, studyUid: string): Promise<PatientStudies | null> {
    const current = await this.repo.study(reads, studyUid, caller.principal);
    if (!current) return null;
    const root = await this.index.rootOfStudy(reads, current.id);
    return root === null ? null : this.linkedStudies(reads, caller, current, root);
  }

  /** Within the caller's transaction (the caller audits what it reads). 404 when the study is not visible. */
  async patientStudies(client: PoolClient, caller: Caller, studyUid: string): Promise<PatientStudies> {
    const current = await this.repo.study(client, studyUid, caller.principal);
    if (!current) throw new AppError('not_found', 'Study not found');
    // Studies are indexed in the order received, so once this one is indexed its earlier visits are too.
    // Only a study received since the last sweep waits for the index lock (held then to the end of this read).
    let root = await this.index.rootOfStudy(client, current.id);
    if (root === null) {
      await this.indexer.indexPendingIn(client, INDEX_BEFORE_READ);
      root = await this.index.rootOfStudy(client, current.id);
    }
    if (root === null) return { current, others: [], notLinked: 0, identityUnderReview: false };
    return this.linkedStudies(client, caller, current, root);
  }

  /** The studies filed under the person `root`, those with the same PatientID not linked, and open reviews. */
  private async linkedStudies(db: CatalogReader, caller: Caller, current: PatientStudyRow, root: string): Promise<PatientStudies> {
    const others = await this.repo.samePerson(db, current, root, caller.principal);
    const linked = new Set(others.map((s) => s.id));
    const samePatientId = current.patientId === null ? [] : await this.repo.samePatientId(db, current, caller.principal);
    const notLinked = samePatientId.filter((s) => !linked.has(s.id)).length;
    return { current, others, notLinked, identityUnderReview: (await this.index.openReviewsOf(db, root)) > 0 };
  }
}

function priorsView(studyUid: string, { current, others, notLinked, identityUnderReview }: PatientStudies): PriorsView {
  const studies = [...others].sort(compareMostRecentFirst).map((s) => view(s, current));
  return {
    studyInstanceUid: studyUid,
    linkedOn: current.patientId === null ? null : { patientId: true, issuer: current.issuer },
    current: { modalities: imagingModalities(current.modalities), bodyParts: current.bodyParts, thyroid: isThyroidStudy(current) },
    studies,
    relevantPrior: studies.find((s) => s.earlier && s.relevant)?.studyInstanceUid ?? null,
    notLinked,
    identityUnderReview,
  };
}

function view(s: PatientStudyRow, current: PatientStudyRow): PriorStudyView {
  return {
    studyInstanceUid: s.studyInstanceUid,
    studyDate: isoDate(s.studyDate),
    studyTime: studyTime(s.studyTime),
    description: s.description,
    modalities: imagingModalities(s.modalities),
    bodyParts: s.bodyParts,
    thyroid: isThyroidStudy(s),
    clinic: { code: s.clinicCode, name: s.clinicName },
    numberOfInstances: s.numberOfInstances,
    earlier: isEarlier(s, current),
    relevant: isRelevantPrior(s, current),
  };
}
