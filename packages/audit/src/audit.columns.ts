/**
 * The columns of audit_events, in one ordered list. The INSERT, the SELECT and the link (hash.ts: the
 * hashed fields, in this order) are all built from it, so a column cannot be stored without being covered
 * by the link unless it is marked unhashed here, with its reason. The order of the hashed entries is the
 * serialization of the link: changing it would break the verification of every stored record.
 */
import type { AuditRecord, JsonValue } from './event-types';

interface AuditColumn {
  column: string;
  field: keyof AuditRecord;
  hashed: boolean;
}

export const AUDIT_EVENT_COLUMNS = [
  // Not hashed: a record's position is bound by the prev_hash links, which is what lets verification
  // tell a moved record ("reordered") from an edited one ("changed").
  { column: 'seq', field: 'seq', hashed: false },
  { column: 'id', field: 'id', hashed: true },
  { column: 'occurred_at', field: 'occurredAt', hashed: true },
  { column: 'event_type', field: 'eventType', hashed: true },
  { column: 'event_code', field: 'eventCode', hashed: true },
  { column: 'action', field: 'action', hashed: true },
  { column: 'outcome', field: 'outcome', hashed: true },
  { column: 'actor_user_id', field: 'actorUserId', hashed: true },
  { column: 'actor_username', field: 'actorUsername', hashed: true },
  { column: 'actor_role', field: 'actorRole', hashed: true },
  { column: 'actor_clinic', field: 'actorClinic', hashed: true },
  { column: 'source_ip', field: 'sourceIp', hashed: true },
  { column: 'request_id', field: 'requestId', hashed: true },
  { column: 'study_instance_uid', field: 'studyInstanceUid', hashed: true },
  { column: 'clinic_id', field: 'clinicId', hashed: true },
  { column: 'details', field: 'details', hashed: true },
  { column: 'prev_hash', field: 'prevHash', hashed: true },
  // The link itself, and its labels: the MAC covers the key id and the algorithm on its own (macAuditRecord),
  // so a record cannot be re-labelled to another key or algorithm.
  { column: 'hash', field: 'hash', hashed: false },
  { column: 'mac_key_id', field: 'macKeyId', hashed: false },
  { column: 'mac_alg', field: 'macAlg', hashed: false },
] as const satisfies readonly AuditColumn[];

type Column = (typeof AUDIT_EVENT_COLUMNS)[number];
type HashedColumn = Extract<Column, { hashed: true }>;

/** What a link covers: the record's hashed fields. */
export type AuditContent = Pick<AuditRecord, HashedColumn['field']>;

export const HASHED_AUDIT_COLUMNS: readonly HashedColumn[] = AUDIT_EVENT_COLUMNS.filter((c): c is HashedColumn => c.hashed);

/** The SELECT list of a whole record (recordFromRow reads it). */
export const AUDIT_COLUMNS = AUDIT_EVENT_COLUMNS.map((c) => c.column).join(', ');

/** The hashed fields' values, in list order, as the link serializes them (a time as ISO 8601 text). */
export function hashedValues(record: AuditContent): JsonValue[] {
  return HASHED_AUDIT_COLUMNS.map((c) => {
    const value = record[c.field];
    return value instanceof Date ? value.toISOString() : value;
  });
}

/** The INSERT of one whole record, columns and parameters from the list (details as JSON text for jsonb). */
export function auditInsert(record: AuditRecord): { text: string; values: unknown[] } {
  const columns = AUDIT_EVENT_COLUMNS.map((c) => c.column);
  const values = AUDIT_EVENT_COLUMNS.map((c) => {
    const value = record[c.field];
    return typeof value === 'object' && value !== null && !(value instanceof Date) ? JSON.stringify(value) : value;
  });
  return { text: `INSERT INTO audit_events (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`, values };
}

/** The INSERT of several whole records, in order (the link trigger runs row by row, so each extends the one before). */
export function auditInsertMany(records: readonly AuditRecord[]): { text: string; values: unknown[] } {
  const columns = AUDIT_EVENT_COLUMNS.map((c) => c.column);
  const values: unknown[] = [];
  const rows = records.map((record) => {
    const one = auditInsert(record);
    const placeholders = one.values.map((_, i) => `$${values.length + i + 1}`);
    values.push(...one.values);
    return `(${placeholders.join(', ')})`;
  });
  return { text: `INSERT INTO audit_events (${columns.join(', ')}) VALUES ${rows.join(', ')}`, values };
}
