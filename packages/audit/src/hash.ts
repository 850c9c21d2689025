import { createHash } from 'node:crypto';
import type { AuditRecord, JsonValue } from './event-types';

export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted at every depth, so the same value always serializes to the same bytes. */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k] ?? null)}`).join(',')}}`;
}

/**
 * SHA-256 over a canonical serialization of every field except seq and hash, including prev_hash.
 * seq is left out on purpose: a record's position is bound by the prev_hash links, which is what lets
 * verification tell a moved record ("reordered") from an edited one ("changed").
 * Version tag "yy-audit-1" allows a later change of the serialization without ambiguity.
 */
export function hashAuditRecord(record: Omit<AuditRecord, 'seq' | 'hash'>): string {
  const fields: JsonValue[] = [
    'yy-audit-1',
    record.id,
    record.occurredAt.toISOString(),
    record.eventType,
    record.eventCode,
    record.action,
    record.outcome,
    record.actorUserId,
    record.actorUsername,
    record.actorRole,
    record.actorClinic,
    record.sourceIp,
    record.requestId,
    record.studyInstanceUid,
    record.clinicId,
    record.details,
    record.prevHash,
  ];
  return createHash('sha256').update(canonicalJson(fields)).digest('hex');
}
