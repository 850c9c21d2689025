import type { CatalogReader } from '@yunying/catalog';

/**
 * Finding the backend a test has made wait. The failure-branch tests hold a lock (the audit chain's
 * advisory lock, a study row) so that an ingest transaction stops inside itself, then terminate that
 * transaction's backend. The waiter must be found by what blocks it: jest's other worker runs its tests in
 * the same database, and their backends wait on their own schemas' locks too. Matching waiters by
 * query text across the database once terminated another file's backend and left the test's own ingest
 * waiting for a lock that its finally block, never reached, would have released (a CI run, five failures).
 */

/** The server process of a session (a checked-out client). */
export async function backendPid(client: CatalogReader): Promise<number> {
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const pid = rows[0]?.pid;
  if (pid === undefined) throw new Error('pg_backend_pid() answered nothing');
  return pid;
}

/**
 * The backends waiting on a lock that `holderPid` holds (directly, or queued behind a waiter for it),
 * optionally only those whose current statement matches a LIKE pattern. Ordered by pid.
 * Ask through another session than a holder inside a transaction: pg_stat_activity is read once per transaction.
 */
export async function backendsBlockedBy(db: CatalogReader, holderPid: number, statementLike = '%'): Promise<number[]> {
  const { rows } = await db.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE $1::int = ANY(pg_blocking_pids(pid)) AND query LIKE $2 ORDER BY pid',
    [holderPid, statementLike],
  );
  return rows.map((row) => row.pid);
}
