import type { CommitmentReference, CommitmentRequest, CommitmentResult } from './scp.types';

/** Storage Commitment Push Model SOP Class and its well-known SOP Instance (PS3.4 J.3.1, J.3.5). */
export const STORAGE_COMMITMENT_SOP_CLASS = '1.2.840.10008.1.20.1';
export const STORAGE_COMMITMENT_SOP_INSTANCE = '1.2.840.10008.1.20.1.1';

/** N-ACTION-RSP statuses used here (PS3.7 10.1.4.1.10, C.4). */
export const CommitmentStatus = {
  Success: 0x0000,
  NoSuchActionType: 0x0123,
  InvalidObjectInstance: 0x0117,
  MissingAttribute: 0x0120,
  InvalidAttributeValue: 0x0106,
  ResourceLimitation: 0x0213,
} as const;

/** Event Type ID of the N-EVENT-REPORT (PS3.4 J.3.3): 1 all committed, 2 some failed. */
export const CommitmentEvent = { AllCommitted: 1, SomeFailed: 2 } as const;

export type ParsedCommitment = { ok: true; request: CommitmentRequest } | { ok: false; status: number; comment: string };

const UID = /^[0-9]+(\.[0-9]+)*$/;

function uidValue(value: unknown): string | undefined {
  const text: unknown = Array.isArray(value) ? (value as unknown[])[0] : value;
  if (typeof text !== 'string') return undefined;
  const uid = text.replace(/\0/g, '').trim();
  return uid.length > 0 && uid.length <= 64 && UID.test(uid) ? uid : undefined;
}

/**
 * Validates an N-ACTION-RQ (PS3.4 J.3.2.1): Action Type 1 on the well-known instance, a Transaction UID
 * and a non-empty Referenced SOP Sequence of (class, instance) pairs, at most `maxReferences` of them.
 */
export function parseCommitmentRequest(actionTypeId: number, requestedSopInstanceUid: string, elements: Record<string, unknown>, maxReferences: number): ParsedCommitment {
  if (actionTypeId !== 1) return { ok: false, status: CommitmentStatus.NoSuchActionType, comment: 'Action Type ID must be 1 (Request Storage Commitment)' };
  if (requestedSopInstanceUid.replace(/\0/g, '').trim() !== STORAGE_COMMITMENT_SOP_INSTANCE) {
    return { ok: false, status: CommitmentStatus.InvalidObjectInstance, comment: 'Requested SOP Instance must be the well-known 1.2.840.10008.1.20.1.1' };
  }
  const transactionUid = uidValue(elements.TransactionUID);
  if (transactionUid === undefined) return { ok: false, status: CommitmentStatus.MissingAttribute, comment: 'Transaction UID (0008,1195) missing or invalid' };
  const sequence = elements.ReferencedSOPSequence;
  const items: unknown[] = Array.isArray(sequence) ? sequence : sequence !== undefined && sequence !== null ? [sequence] : [];
  if (items.length === 0) return { ok: false, status: CommitmentStatus.MissingAttribute, comment: 'Referenced SOP Sequence (0008,1199) missing or empty' };
  if (items.length > maxReferences) return { ok: false, status: CommitmentStatus.ResourceLimitation, comment: `More than ${maxReferences} references in one request` };
  const references: CommitmentReference[] = [];
  for (const item of items) {
    const fields = typeof item === 'object' && item !== null ? (item as Record<string, unknown>) : {};
    const sopClassUid = uidValue(fields.ReferencedSOPClassUID);
    const sopInstanceUid = uidValue(fields.ReferencedSOPInstanceUID);
    if (sopClassUid === undefined || sopInstanceUid === undefined) return { ok: false, status: CommitmentStatus.InvalidAttributeValue, comment: 'A Referenced SOP Sequence item lacks a valid class or instance UID' };
    references.push({ sopClassUid, sopInstanceUid });
  }
  return { ok: true, request: { transactionUid, references } };
}

/** The N-EVENT-REPORT's Event Information (PS3.4 J.3.3.1) and its Event Type ID. */
export function eventReport(transactionUid: string, result: CommitmentResult): { eventTypeId: number; elements: Record<string, unknown> } {
  const elements: Record<string, unknown> = { TransactionUID: transactionUid };
  if (result.committed.length > 0) {
    elements.ReferencedSOPSequence = result.committed.map((r) => ({ ReferencedSOPClassUID: r.sopClassUid, ReferencedSOPInstanceUID: r.sopInstanceUid }));
  }
  if (result.failed.length > 0) {
    elements.FailedSOPSequence = result.failed.map((r) => ({ ReferencedSOPClassUID: r.sopClassUid, ReferencedSOPInstanceUID: r.sopInstanceUid, FailureReason: r.failureReason }));
  }
  return { eventTypeId: result.failed.length === 0 ? CommitmentEvent.AllCommitted : CommitmentEvent.SomeFailed, elements };
}
