import type { AuditDetails, AuditLog } from '@yunying/audit';
import { auditActor, type AuthedRequest, type Principal } from '@yunying/auth';

/**
 * One audit record per DICOMweb request (not per instance), appended before any patient data is sent:
 * if the record cannot be written the request fails (every read of patient data is attributable).
 * Details carry UIDs, counts and the names of query keys, never their values (a PatientName value
 * is PHI).
 */
export interface AccessAuditSink {
  append: AuditLog['append'];
}

export interface AccessOrigin {
  principal: Principal;
  sourceIp: string | null;
}

export class AccessAudit {
  constructor(private readonly log: AccessAuditSink) {}

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
