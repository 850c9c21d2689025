/**
 * The columns of audit_events, in one ordered list. The INSERT and the SELECT (audit.repository.ts) and the
 * link (hash.ts: the hashed fields, in this order) are all built from it, so a column cannot be stored without
 * being covered by the link unless it is marked unhashed here, with its reason. The order of the hashed entries
 * is the serialization of the link: changing it would break the verification of every stored record.
 */
import type { Tables } from '@yunying/catalog';
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

/**
 * The list is the generated table (database.types.ts), no more and no less: a migration that adds a column
 * fails the type check here until the column is listed, hashed or with its reason (audit-columns.int.test.ts
 * checks the migrated database itself).
 */
type Missing = Exclude<keyof Tables.AuditEvents, Column['field']>;
type Unknown = Exclude<Column['field'], keyof Tables.AuditEvents>;
const listIsTheTable: [Missing, Unknown] extends [never, never] ? true : { missing: Missing; unknown: Unknown } = true;
void listIsTheTable;

/** What a link covers: the record's hashed fields. */
export type AuditContent = Pick<AuditRecord, HashedColumn['field']>;

export const HASHED_AUDIT_COLUMNS: readonly HashedColumn[] = AUDIT_EVENT_COLUMNS.filter((c): c is HashedColumn => c.hashed);

/** The hashed fields' values, in list order, as the link serializes them (a time as ISO 8601 text). */
export function hashedValues(record: AuditContent): JsonValue[] {
  return HASHED_AUDIT_COLUMNS.map((c) => {
    const value = record[c.field];
    return value instanceof Date ? value.toISOString() : value;
  });
}
