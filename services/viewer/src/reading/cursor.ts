import { AppError } from '@yunying/core';

/**
 * Opaque keyset cursors for server-side paging. A cursor names the last row of a page by its sort key, so a
 * row inserted or re-prioritized between two requests never makes the next page repeat or skip the rows
 * that kept their place (an offset would). Each list has its own kind; a cursor of another list is refused.
 *
 * Timestamps travel as the text Postgres printed (microseconds, UTC), never through a JS Date, which would
 * truncate them to milliseconds and break the total order.
 */
export type CursorKind = 'queue' | 'clinic-studies';

/** Queue order: priority_rank, received_at, id (all ascending). */
export interface QueueCursor {
  rank: number;
  receivedAt: string;
  id: string;
}

/** Clinic list order: received_at, id (both descending, newest first). */
export interface ClinicStudiesCursor {
  receivedAt: string;
  id: string;
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const BIGINT = /^[1-9]\d{0,18}$/;

function encode(kind: CursorKind, values: (string | number)[]): string {
  return Buffer.from(JSON.stringify([kind, ...values]), 'utf8').toString('base64url');
}

function decode(kind: CursorKind, cursor: string): unknown[] {
  const invalid = new AppError('bad_request', 'Invalid cursor', { details: { fields: ['cursor'] } });
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(cursor)) throw invalid;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  if (!Array.isArray(parsed) || parsed[0] !== kind) throw invalid;
  return parsed.slice(1) as unknown[];
}

function timestamp(value: unknown): string {
  if (typeof value !== 'string' || !TIMESTAMP.test(value) || Number.isNaN(Date.parse(value))) throw new AppError('bad_request', 'Invalid cursor', { details: { fields: ['cursor'] } });
  return value;
}

function rowId(value: unknown): string {
  if (typeof value !== 'string' || !BIGINT.test(value)) throw new AppError('bad_request', 'Invalid cursor', { details: { fields: ['cursor'] } });
  return value;
}

export function encodeQueueCursor(c: QueueCursor): string {
  return encode('queue', [c.rank, c.receivedAt, c.id]);
}

export function decodeQueueCursor(cursor: string): QueueCursor {
  const [rank, receivedAt, id, ...rest] = decode('queue', cursor);
  if (rest.length > 0 || typeof rank !== 'number' || !Number.isInteger(rank) || rank < 0 || rank > 2) {
    throw new AppError('bad_request', 'Invalid cursor', { details: { fields: ['cursor'] } });
  }
  return { rank, receivedAt: timestamp(receivedAt), id: rowId(id) };
}

export function encodeClinicStudiesCursor(c: ClinicStudiesCursor): string {
  return encode('clinic-studies', [c.receivedAt, c.id]);
}

export function decodeClinicStudiesCursor(cursor: string): ClinicStudiesCursor {
  const [receivedAt, id, ...rest] = decode('clinic-studies', cursor);
  if (rest.length > 0) throw new AppError('bad_request', 'Invalid cursor', { details: { fields: ['cursor'] } });
  return { receivedAt: timestamp(receivedAt), id: rowId(id) };
}
