import type { Pool } from '@yunying/catalog';
import { AUDIT_COLUMNS, recordFromRow, type AuditEventRow } from './audit.repository';
import type { AuditRecord } from './event-types';
import { GENESIS_HASH, hashAuditRecord } from './hash';

export type ChainProblem = 'changed' | 'removed' | 'reordered' | 'inserted';

export type ChainVerification =
  | { ok: true; count: number; headSeq: number; headHash: string }
  | { ok: false; count: number; firstBadSeq: number; problem: ChainProblem; detail: string };

interface Link {
  seq: number;
  hash: string;
  prevHash: string;
}

/**
 * Walks the audit chain in seq order, a page at a time, and names the first record that was changed,
 * removed, reordered or inserted:
 * - changed: a record's content no longer hashes to its stored hash, or a record was re-hashed after an
 *   edit so the next record's prev_hash no longer points at it;
 * - removed: a gap in seq (seq is gapless by construction, see migration 0200), or the chain head
 *   records more than the table holds (a truncated tail);
 * - reordered: a record is intact but links to another existing record than the one before it;
 * - inserted: a record sits between two records that link to each other directly.
 * Only records up to the head read at the start are checked, so appends during verification are fine.
 * An attacker who can rewrite every later record and the head can re-forge the chain; anchoring the head
 * outside the database (`headSeq`/`headHash` of an ok result, e.g. in a daily report) closes that.
 */
export async function verifyAuditChain(pool: Pool, options: { pageSize?: number } = {}): Promise<ChainVerification> {
  const pageSize = options.pageSize ?? 2000;
  const head = await pool.query<{ last_seq: string; last_hash: string }>('SELECT last_seq, last_hash FROM audit_chain_head');
  const headRow = head.rows[0];
  if (!headRow) return { ok: false, count: 0, firstBadSeq: 1, problem: 'removed', detail: 'the chain head is missing' };
  const headSeq = Number(headRow.last_seq);
  let count = 0;
  let expectedSeq = 1;
  let previous: Link | undefined;

  const fail = (firstBadSeq: number, problem: ChainProblem, detail: string): ChainVerification => ({ ok: false, count, firstBadSeq, problem, detail });

  for (;;) {
    const { rows } = await pool.query<AuditEventRow>(
      `SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE seq >= $1 AND seq <= $2 ORDER BY seq LIMIT $3`,
      [expectedSeq, headSeq, pageSize],
    );
    for (const row of rows) {
      const record: AuditRecord = recordFromRow(row);
      const expectedPrev = previous?.hash ?? GENESIS_HASH;
      if (record.seq !== expectedSeq) {
        return fail(expectedSeq, 'removed', `records ${expectedSeq}..${record.seq - 1} are missing`);
      }
      if (hashAuditRecord(record) !== record.hash) {
        return fail(record.seq, 'changed', `record ${record.seq} does not match its hash`);
      }
      if (record.prevHash !== expectedPrev) {
        if (previous && previous.prevHash === record.prevHash) {
          return fail(previous.seq, 'inserted', `record ${previous.seq} was inserted between records ${previous.seq - 1} and ${record.seq}`);
        }
        const target = await pool.query<{ seq: string }>('SELECT seq FROM audit_events WHERE hash = $1', [record.prevHash]);
        const linkedSeq = target.rows[0]?.seq;
        if (linkedSeq !== undefined) {
          return fail(record.seq, 'reordered', `record ${record.seq} follows record ${linkedSeq} in the chain, not record ${record.seq - 1}`);
        }
        if (previous) {
          // Either record N was rewritten and re-hashed, or records after N were removed and the rest renumbered
          // (which also needs the head rewritten); the hashes alone cannot tell which, so the detail says both.
          return fail(
            previous.seq,
            'changed',
            `record ${record.seq} links to a record that is not in the log: record ${previous.seq} was rewritten, or records after it were removed and the rest renumbered`,
          );
        }
        return fail(record.seq, 'changed', `record ${record.seq} does not start the chain`);
      }
      previous = { seq: record.seq, hash: record.hash, prevHash: record.prevHash };
      count += 1;
      expectedSeq += 1;
    }
    if (rows.length < pageSize) break;
  }
  if (count < headSeq) return fail(expectedSeq, 'removed', `records ${expectedSeq}..${headSeq} are missing (the chain head is at ${headSeq})`);
  if ((previous?.hash ?? GENESIS_HASH) !== headRow.last_hash) {
    return fail(headSeq, 'changed', `record ${headSeq} does not match the chain head`);
  }
  return { ok: true, count, headSeq, headHash: headRow.last_hash };
}
