/**
 * Audit event types of DICOM PS3.15 Annex A.5.3 ("Audit Trail Message Format Profile"), with their
 * EventID codes from the DCM coding scheme (PS3.16). Only the event identification is taken from the
 * standard: records are stored as rows (not RFC 3881 / DICOM audit XML) and exported as CSV.
 */
export const AUDIT_EVENT_CODES = {
  'Begin Transferring DICOM Instances': '110102',
  'DICOM Instances Accessed': '110103',
  'DICOM Instances Transferred': '110104',
  'DICOM Study Deleted': '110105',
  Export: '110106',
  'Patient Record': '110110',
  Query: '110112',
  'Security Alert': '110113',
  'User Authentication': '110114',
} as const;

export type AuditEventType = keyof typeof AUDIT_EVENT_CODES;
export const AUDIT_EVENT_TYPES = Object.keys(AUDIT_EVENT_CODES) as AuditEventType[];

export function isAuditEventType(value: unknown): value is AuditEventType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(AUDIT_EVENT_CODES, value);
}

/** EventActionCode (RFC 3881 / PS3.15 A.5.1): Create, Read, Update, Delete, Execute. */
export type AuditAction = 'C' | 'R' | 'U' | 'D' | 'E';

/** EventOutcomeIndicator: 0 success, 4 minor failure, 8 serious failure, 12 major failure. */
export type AuditOutcome = 0 | 4 | 8 | 12;

/** The action PS3.15 A.5.3 prescribes (or most commonly uses) for each event type. */
export const DEFAULT_ACTION: Record<AuditEventType, AuditAction> = {
  'Begin Transferring DICOM Instances': 'E',
  'DICOM Instances Accessed': 'R',
  'DICOM Instances Transferred': 'C',
  'DICOM Study Deleted': 'D',
  Export: 'R',
  'Patient Record': 'U',
  Query: 'E',
  'Security Alert': 'E',
  'User Authentication': 'E',
};

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** UIDs, counts and reasons only: never a patient's name, id or birth date (checked by `appendAuditEvent`). */
export type AuditDetails = { [key: string]: JsonValue };

/** Who did it. Services build this from the caller's Principal (`auditActor()` in @yunying/auth). */
export interface AuditActor {
  userId?: string | null;
  username: string;
  role?: string | null;
  clinicId?: string | null;
}

export interface AuditEventInput {
  type: AuditEventType;
  /** Defaults to DEFAULT_ACTION[type]. */
  action?: AuditAction;
  /** Defaults to 0 (success). */
  outcome?: AuditOutcome;
  actor: AuditActor;
  sourceIp?: string | null;
  /** Defaults to the request id of the current async context. */
  requestId?: string | null;
  studyInstanceUid?: string | null;
  clinicId?: string | null;
  details?: AuditDetails;
}

/** A stored record, as read back and as hashed. */
export interface AuditRecord {
  seq: number;
  id: string;
  occurredAt: Date;
  eventType: AuditEventType;
  eventCode: string;
  action: AuditAction;
  outcome: AuditOutcome;
  actorUserId: string | null;
  actorUsername: string;
  actorRole: string | null;
  actorClinic: string | null;
  sourceIp: string | null;
  requestId: string | null;
  studyInstanceUid: string | null;
  clinicId: string | null;
  details: AuditDetails;
  prevHash: string;
  /** The link: HMAC under key `macKeyId` with `macAlg`; a plain SHA-256 for legacy records (both null). */
  hash: string;
  macKeyId: string | null;
  macAlg: string | null;
}
