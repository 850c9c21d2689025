import { addClinicFilter } from '@yunying/auth';
import { inTransaction, type Pool, type PoolClient } from '@yunying/catalog';
import { AppError } from '@yunying/core';
import { isoDate } from '../reading/patient-age';
import { auditReading, type Caller } from '../reading/reading.audit';
import { studyTime } from '../reading/banner.service';
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
   * Studies of the same clinic with this PatientID under another issuer (or none where this one has one):
   * possibly the same person, deliberately not linked; a patient index decides that, not a guess here.
   */
  notLinked: number;
}

/** The study and the patient's other studies in scope, for the priors list and the nodule follow-up. */
export interface PatientStudies {
  current: PatientStudyRow;
  others: PatientStudyRow[];
  notLinked: number;
}

/**
 * Priors (issue #20): the same patient's other studies, linked on PatientID + Issuer of Patient ID and
 * never across issuers; a study of another clinic only under a shared issuer; only in the caller's
 * clinics (grants for a reader, their own clinic for a clinic user), in SQL. Audited as a Query on the
 * current study listing the studies shown.
 */
export class PriorsService {
  private readonly repo = new PriorsRepository();

  constructor(private readonly pool: Pool) {}

  async list(caller: Caller, studyUid: string): Promise<PriorsView> {
    return inTransaction(this.pool, async (client) => {
      const { current, others, notLinked } = await this.patientStudies(client, caller, studyUid);
      const sorted = [...others].sort(compareMostRecentFirst);
      const studies = sorted.map((s) => view(s, current));
      await auditReading(client, caller, {
        type: 'Query',
        studyInstanceUid: studyUid,
        clinicId: current.clinicId,
        details: { what: 'priors', count: studies.length, studies: studies.map((s) => s.studyInstanceUid), notLinked },
      });
      return {
        studyInstanceUid: studyUid,
        linkedOn: current.patientId === null ? null : { patientId: true, issuer: current.issuer },
        current: { modalities: imagingModalities(current.modalities), bodyParts: current.bodyParts, thyroid: isThyroidStudy(current) },
        studies,
        relevantPrior: studies.find((s) => s.earlier && s.relevant)?.studyInstanceUid ?? null,
        notLinked,
      };
    });
  }

  /** Within the caller's transaction (the caller audits what it reads). 404 when the study is not visible. */
  async patientStudies(client: PoolClient, caller: Caller, studyUid: string): Promise<PatientStudies> {
    const params: unknown[] = [];
    const tenancySql = addClinicFilter(caller.principal, 's.clinic_id', params);
    const current = await this.repo.study(client, studyUid, tenancySql, params);
    if (!current) throw new AppError('not_found', 'Study not found');
    if (current.patientId === null) return { current, others: [], notLinked: 0 };
    const candidates = await this.repo.samePatientId(client, current, tenancySql, params);
    const linked = candidates.filter((s) => s.issuer === current.issuer);
    return { current, others: linked, notLinked: candidates.length - linked.length };
  }
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
