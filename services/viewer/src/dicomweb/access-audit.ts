import type { AuditDetails, AuditSink } from '@yunying/audit';
import { auditActor, canAccessClinic, type AuthedRequest, type Principal } from '@yunying/auth';
import type { QueryRunner } from '@yunying/catalog';
import { studyOwners } from './study-owner.repository';

/**
 * One audit record per DICOMweb request (not per instance), appended before any patient data is sent:
 * if the record cannot be written the request fails (every read of patient data is attributable).
 * Details carry UIDs, counts and the names of query keys, never their values (a PatientName value
 * is PHI).
 */
export type AccessAuditSink = AuditSink;

export interface AccessOrigin {
  principal: Principal;
  sourceIp: string | null;
}

/** How many study UIDs a Query record names; beyond it only the count (a record stays small). */
export const AUDITED_STUDY_UIDS = 100;

/** Just what AccessAudit needs of the catalog to tell a foreign study from a plain miss. */
export type StudyOwnerLookup = QueryRunner;

export class AccessAudit {
  constructor(
    private readonly log: AccessAuditSink,
    private readonly studies?: StudyOwnerLookup,
  ) {}

  /**
   * The study UIDs a query returned, so a read of names, IDs and birth dates is attributable to the studies it
   * disclosed (#17 finding 5): the first AUDITED_STUDY_UIDS distinct ones, and the count of all.
   */
  static returnedStudies(uids: readonly unknown[]): AuditDetails {
    const distinct = [...new Set(uids.filter((u): u is string => typeof u === 'string'))];
    return {
      studies: distinct.slice(0, AUDITED_STUDY_UIDS),
      studiesReturned: distinct.length,
      ...(distinct.length > AUDITED_STUDY_UIDS ? { studiesNotListed: distinct.length - AUDITED_STUDY_UIDS } : {}),
    };
  }

  /**
   * A caller asked for a study it may not see that exists in another clinic (answered 404, or an empty
   * result, exactly as a UID that exists nowhere, so nothing is confirmed to the caller): a Security Alert,
   * recorded under the owning clinic so its auditors see the probe. A UID that exists nowhere is a plain miss
   * and is not recorded (that would let anyone fill the audit trail with nothing).
   */
  async refusedIfForeign(origin: AccessOrigin, studyInstanceUids: string | readonly string[], resource: string): Promise<void> {
    if (this.studies === undefined) return;
    // A multi-valued match (WADO-URI / QIDO lists) is bounded like the query itself; 20 alerts at most.
    const asked = (typeof studyInstanceUids === 'string' ? [studyInstanceUids] : [...studyInstanceUids]).slice(0, 20);
    for (const row of await studyOwners(this.studies, asked)) {
      if (canAccessClinic(origin.principal, row.clinicId)) continue;
      await this.log.append({
        type: 'Security Alert',
        outcome: 4,
        actor: auditActor(origin.principal),
        sourceIp: origin.sourceIp,
        studyInstanceUid: row.studyInstanceUid,
        clinicId: row.clinicId,
        details: { kind: 'access-refused', reason: 'other-clinic', resource },
      });
    }
  }

  async query(origin: AccessOrigin, studyInstanceUid: string | null, details: AuditDetails): Promise<void> {
    await this.log.append({
      type: 'Query',
      actor: auditActor(origin.principal),
      sourceIp: origin.sourceIp,
      studyInstanceUid,
      details,
    });
  }

  async accessed(origin: AccessOrigin, studyInstanceUid: string, clinicId: string, details: AuditDetails): Promise<void> {
    await this.log.append({
      type: 'DICOM Instances Accessed',
      actor: auditActor(origin.principal),
      sourceIp: origin.sourceIp,
      studyInstanceUid,
      clinicId,
      details,
    });
  }
}

export function originOf(req: AuthedRequest): AccessOrigin {
  return { principal: req.principal, sourceIp: req.ip ?? null };
}
