import { kyselyOn, sql, type Pool, type PoolClient, type Selectable, type Tables } from '@yunying/catalog';
import { AUDIT_EVENT_COLUMNS } from './audit.columns';
import type { AuditAction, AuditDetails, AuditEventType, AuditOutcome, AuditRecord } from './event-types';

/**
 * Reads of the audit chain as stored (audit_chain_head, audit_events): what verification, the segment
 * export and the anchor walk. Appends and the console's search are in audit.repository.ts.
 */

type Db = Pool | PoolClient;

/** A stored record as it reads back (generated table types, camelCase). */
export type AuditEventRow = Selectable<Tables.AuditEvents>;

/** A whole record's columns, from the one list (audit.columns.ts). */
const RECORD_FIELDS = AUDIT_EVENT_COLUMNS.map((c) => c.field);

/**
 * Rows are read as stored; the types are only asserted, verification recomputes the link over them. Members in
 * the list's order, written out: an exported segment line is this object as JSON (segmentLine), and the
 * segment verifier compares lines as strings.
 */
export function recordFromRow(row: AuditEventRow): AuditRecord {
  return {
    seq: Number(row.seq),
    id: row.id,
    occurredAt: row.occurredAt,
    eventType: row.eventType as AuditEventType,
    eventCode: row.eventCode,
    action: row.action as AuditAction,
    outcome: row.outcome as AuditOutcome,
    actorUserId: row.actorUserId,
    actorUsername: row.actorUsername,
    actorRole: row.actorRole,
    actorClinic: row.actorClinic,
    sourceIp: row.sourceIp,
    requestId: row.requestId,
    studyInstanceUid: row.studyInstanceUid,
    clinicId: row.clinicId,
    details: row.details as AuditDetails,
    prevHash: row.prevHash,
    hash: row.hash,
    macKeyId: row.macKeyId,
    macAlg: row.macAlg,
  };
}

/** Whole records, for a query to narrow and order (audit.repository's search, the range reads below). */
export function selectAuditEvents(db: Db) {
  return kyselyOn(db).selectFrom('auditEvents').select(RECORD_FIELDS);
}

/** The chain head: the last record's seq and link (seq 0 and the genesis when empty); null when the row is missing. */
export async function readChainHead(db: Db): Promise<{ seq: number; hash: string } | null> {
  const row = await kyselyOn(db).selectFrom('auditChainHead').select(['lastSeq', 'lastHash']).executeTakeFirst();
  return row === undefined ? null : { seq: Number(row.lastSeq), hash: row.lastHash };
}

/** The records from `fromSeq` to `toSeq` (inclusive) in seq order, at most `limit`. */
export async function readAuditRecords(db: Db, fromSeq: number, toSeq: number, limit?: number): Promise<AuditRecord[]> {
  const query = selectAuditEvents(db).where('seq', '>=', String(fromSeq)).where('seq', '<=', String(toSeq)).orderBy('seq');
  const rows = await (limit === undefined ? query : query.limit(limit)).execute();
  return rows.map(recordFromRow);
}

/** The seq of the record whose link is `hash`, or null when no record has it. */
export async function seqOfLink(db: Db, hash: string): Promise<number | null> {
  const row = await kyselyOn(db).selectFrom('auditEvents').select('seq').where('hash', '=', hash).executeTakeFirst();
  return row === undefined ? null : Number(row.seq);
}

/** The head record's seq and the MAC key and algorithm it was written under; null when the chain is empty. */
export async function headRecordKey(db: Db): Promise<{ seq: number; macKeyId: string | null; macAlg: string | null } | null> {
  const row = await kyselyOn(db)
    .selectFrom('auditChainHead as h')
    .innerJoin('auditEvents as e', 'e.seq', 'h.lastSeq')
    .select(['e.seq', 'e.macKeyId', 'e.macAlg'])
    .executeTakeFirst();
  return row === undefined ? null : { ...row, seq: Number(row.seq) };
}

/** The latest retain-until of the studies with these UIDs (null: none of them is in the catalog). */
export async function latestStudyRetainUntil(db: Db, studyInstanceUids: readonly string[]): Promise<Date | null> {
  const row = await kyselyOn(db)
    .selectFrom('studies')
    .select((eb) => eb.fn.max<Date | null>('retainUntil').as('until'))
    .where('studyInstanceUid', '=', sql<string>`ANY(${[...studyInstanceUids]}::text[])`)
    .executeTakeFirst();
  return row?.until ?? null;
}
