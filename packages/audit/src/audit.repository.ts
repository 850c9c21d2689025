import { randomUUID } from 'node:crypto';
import { currentRequestId, PHI_KEYS, runOutsideContext } from '@yunying/core';
import { inTransaction, type Pool, type PoolClient } from '@yunying/catalog';
import { AUDIT_EVENT_CODES, DEFAULT_ACTION, type AuditDetails, type AuditEventInput, type AuditEventType, type AuditRecord, type JsonValue } from './event-types';
import { AUDIT_EVENT_COLUMNS, type AuditContent } from './audit.columns';
import { readChainHead, recordFromRow, selectAuditEvents } from './audit-chain.repository';
import { macAuditRecord } from './hash';
import { requireAuditKeyring } from './keyring';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PHI = new Set<string>(PHI_KEYS.map((k) => k.toLowerCase()));

/** uuid columns normalize case; the hash must be computed over what the database gives back. */
function uuidOrNull(value: string | null | undefined, field: string): string | null {
  if (value === null || value === undefined) return null;
  const v = value.toLowerCase();
  if (!UUID.test(v)) throw new Error(`audit event: ${field} is not a uuid`);
  return v;
}

function textOrNull(value: string | null | undefined, max: number): string | null {
  if (value === null || value === undefined || value === '') return null;
  return value.slice(0, max);
}

function assertNoPhi(value: JsonValue, path: string): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => assertNoPhi(v, `${path}[${i}]`));
    return;
  }
  for (const [key, v] of Object.entries(value)) {
    // A programming error, not a request error: audit details must never carry patient identifiers.
    if (PHI.has(key.toLowerCase())) throw new Error(`audit event: details.${path}${key} would store a patient identifier`);
    assertNoPhi(v, `${path}${key}.`);
  }
}

/**
 * The checks an event must pass to be appended (ids are uuids, details carry no patient identifier), made
 * before it joins a group commit so that a malformed event fails alone. appendAuditEvents makes them again.
 */
export function checkAuditEvent(event: AuditEventInput): void {
  uuidOrNull(event.actor.userId, 'actor.userId');
  uuidOrNull(event.actor.clinicId, 'actor.clinicId');
  uuidOrNull(event.clinicId, 'clinicId');
  assertNoPhi(JSON.parse(JSON.stringify(event.details ?? {})) as JsonValue, '');
}

/**
 * The INSERT of whole records in order, columns and parameters from the one list (audit.columns.ts), so no
 * column is written that the list, and with it the link, does not know of; details as JSON text for jsonb.
 * One multi-row statement: the link trigger runs row by row, so each record extends the one before.
 */
function auditInsert(records: readonly AuditRecord[]): { text: string; values: unknown[] } {
  const columns = AUDIT_EVENT_COLUMNS.map((c) => c.column);
  const values: unknown[] = [];
  const rows = records.map((record) => {
    const placeholders = AUDIT_EVENT_COLUMNS.map((c) => {
      const value = record[c.field];
      values.push(typeof value === 'object' && value !== null && !(value instanceof Date) ? JSON.stringify(value) : value);
      return `$${values.length}`;
    });
    return `(${placeholders.join(', ')})`;
  });
  return { text: `INSERT INTO audit_events (${columns.join(', ')}) VALUES ${rows.join(', ')}`, values };
}

/** Two-key advisory lock space of the audit chain, per schema (tests run many schemas in one database). */
const LOCK_SQL = "SELECT pg_advisory_xact_lock(7007, hashtext(current_schema()))";

/**
 * Appends one record to the audit chain INSIDE the caller's transaction: the record commits or rolls back
 * with the work it describes (ingest writes catalog rows and their audit event atomically).
 * Appends are serialized by a transaction-scoped advisory lock, so the chain stays linear under
 * concurrency; the lock is held until the caller commits, so keep audited transactions short.
 * Throws if `client` is not inside a transaction (the lock would not hold).
 */
export async function appendAuditEvent(client: PoolClient, event: AuditEventInput): Promise<AuditRecord> {
  const [record] = await appendAuditEvents(client, [event]);
  if (!record) throw new Error('audit append returned no record');
  return record;
}

/**
 * Appends several records to the chain in order, in one multi-row INSERT under one lock (#14: a STOW
 * request's instances are audited in its one catalog transaction, not five statements per instance).
 * Each record links to the one before it exactly as single appends would; the link trigger checks each row.
 */
export async function appendAuditEvents(client: PoolClient, events: readonly AuditEventInput[]): Promise<AuditRecord[]> {
  if (events.length === 0) return [];
  // Round-trip through JSON so the hash covers exactly what jsonb will give back (undefined members dropped).
  const details = events.map((event) => {
    const d = JSON.parse(JSON.stringify(event.details ?? {})) as AuditDetails;
    assertNoPhi(d, '');
    return d;
  });
  try {
    await client.query('SAVEPOINT yy_audit_append');
  } catch (error) {
    throw new Error('appendAuditEvent must run inside a transaction (use AuditLog.append or inTransaction)', { cause: error });
  }
  await client.query(LOCK_SQL);
  const head = await readChainHead(client);
  if (!head) throw new Error('audit chain head is missing (migration 0200 not applied?)');
  const keyring = requireAuditKeyring();
  const records: AuditRecord[] = [];
  let prevHash = head.hash;
  let seq = head.seq;
  events.forEach((event, i) => {
    const type: AuditEventType = event.type;
    const unsigned: AuditContent = {
      id: randomUUID(),
      occurredAt: new Date(),
      eventType: type,
      eventCode: AUDIT_EVENT_CODES[type],
      action: event.action ?? DEFAULT_ACTION[type],
      outcome: event.outcome ?? 0,
      actorUserId: uuidOrNull(event.actor.userId, 'actor.userId'),
      actorUsername: textOrNull(event.actor.username, 128) ?? 'unknown',
      actorRole: textOrNull(event.actor.role, 32),
      actorClinic: uuidOrNull(event.actor.clinicId, 'actor.clinicId'),
      sourceIp: textOrNull(event.sourceIp, 64),
      requestId: textOrNull(event.requestId ?? currentRequestId(), 128),
      studyInstanceUid: textOrNull(event.studyInstanceUid, 64),
      clinicId: uuidOrNull(event.clinicId, 'clinicId'),
      details: details[i] as AuditDetails,
      prevHash,
    };
    seq += 1;
    const record: AuditRecord = { ...unsigned, seq, hash: macAuditRecord(unsigned, keyring.current, keyring.algorithm), macKeyId: keyring.current.id, macAlg: keyring.algorithm };
    records.push(record);
    prevHash = record.hash;
  });
  const insert = auditInsert(records);
  await client.query(insert.text, insert.values);
  await client.query('RELEASE SAVEPOINT yy_audit_append');
  return records;
}

export interface AuditEventFilter {
  studyInstanceUid?: string;
  /** A username or a user id. */
  user?: string;
  type?: AuditEventType;
  clinicId?: string;
  from?: Date;
  to?: Date;
  /** Newest first; returns records with seq below the cursor. */
  cursor?: number;
  limit?: number;
}

export interface AuditEventPage {
  events: AuditRecord[];
  /** Pass back as `cursor` for the next (older) page; null at the end. */
  nextCursor: number | null;
}

export async function queryAuditEvents(db: Pool | PoolClient, filter: AuditEventFilter): Promise<AuditEventPage> {
  let query = selectAuditEvents(db);
  if (filter.studyInstanceUid !== undefined) query = query.where('studyInstanceUid', '=', filter.studyInstanceUid);
  if (filter.user !== undefined) {
    // A user id matches the record's user, or a username spelled like it; anything else is a username.
    const user = filter.user.toLowerCase();
    query = UUID.test(user) ? query.where((eb) => eb.or([eb('actorUserId', '=', user), eb('actorUsername', '=', user)])) : query.where('actorUsername', '=', filter.user);
  }
  if (filter.type !== undefined) query = query.where('eventType', '=', filter.type);
  const clinicId = filter.clinicId;
  if (clinicId !== undefined) query = query.where((eb) => eb.or([eb('clinicId', '=', clinicId), eb('actorClinic', '=', clinicId)]));
  if (filter.from !== undefined) query = query.where('occurredAt', '>=', filter.from);
  if (filter.to !== undefined) query = query.where('occurredAt', '<', filter.to);
  if (filter.cursor !== undefined) query = query.where('seq', '<', String(filter.cursor));
  const limit = Math.min(Math.max(filter.limit ?? 100, 1), 1000);
  const rows = await query.orderBy('seq', 'desc').limit(limit + 1).execute();
  const events = rows.slice(0, limit).map(recordFromRow);
  const last = events[events.length - 1];
  return { events, nextCursor: rows.length > limit && last ? last.seq : null };
}

/** Every matching record, newest first, a page at a time (for CSV export of long histories). */
export async function* iterateAuditEvents(db: Pool, filter: Omit<AuditEventFilter, 'cursor' | 'limit'>, pageSize = 1000): AsyncGenerator<AuditRecord> {
  let cursor: number | undefined;
  for (;;) {
    const page = await queryAuditEvents(db, { ...filter, limit: pageSize, ...(cursor === undefined ? {} : { cursor }) });
    yield* page.events;
    if (page.nextCursor === null) return;
    cursor = page.nextCursor;
  }
}

/** What a service that records but writes nothing else needs of the audit log: `append` (an AuditLog). */
export type AuditSink = Pick<AuditLog, 'append'>;

/** At most this many records in one group-committed transaction, so the chain lock is never held long. */
export const AUDIT_GROUP_MAX = 256;

interface PendingAppend {
  event: AuditEventInput;
  resolve: (record: AuditRecord) => void;
  reject: (error: unknown) => void;
}

/**
 * The audit log over a pool, for records that describe no other write (a read of patient data, a sign-in):
 * `append` resolves once its record is committed. Appends that arrive while a commit is in flight are
 * committed together in the next transaction (group commit), in arrival order.
 *
 * Why: every append holds the chain's lock until its transaction's commit is durable, so appends in separate
 * transactions run one commit (one WAL flush) at a time across the whole system. A radiologist opening a study
 * sends five audited reads at once, and each waited for the commits of those before it (160–250 ms each on a
 * disk whose flush takes tens of ms). Grouped, concurrent appends share one lock hold and one flush. An idle
 * log adds no wait: the first append starts its own commit at once (after the current turn of the event loop,
 * so appends of the same turn join it). A record is checked before it is queued, so a malformed one fails
 * alone; a failed commit fails every append of its group (none of them was recorded).
 */
export class AuditLog {
  private readonly pending: PendingAppend[] = [];
  private draining = false;

  constructor(private readonly pool: Pool) {}

  append(event: AuditEventInput): Promise<AuditRecord> {
    try {
      checkAuditEvent(event);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    // The record names the request that asked for it; the group's commit runs outside every request's context.
    const own: AuditEventInput = { ...event, requestId: event.requestId !== undefined ? event.requestId : (currentRequestId() ?? null) };
    return new Promise<AuditRecord>((resolve, reject) => {
      this.pending.push({ event: own, resolve, reject });
      if (!this.draining) {
        this.draining = true;
        runOutsideContext(() => setImmediate(() => void this.drain()));
      }
    });
  }

  query(filter: AuditEventFilter): Promise<AuditEventPage> {
    return queryAuditEvents(this.pool, filter);
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const group = this.pending.splice(0, AUDIT_GROUP_MAX);
      try {
        const records = await inTransaction(this.pool, (client) => appendAuditEvents(client, group.map((p) => p.event)));
        group.forEach((p, i) => {
          const record = records[i];
          if (record) p.resolve(record);
          else p.reject(new Error('audit append returned no record'));
        });
      } catch (error) {
        for (const p of group) p.reject(error);
      }
    }
    this.draining = false;
  }
}
