import type { Pool, QueryResultRow } from '@yunying/catalog';

/**
 * Rows of one query, streamed through a server-side cursor on a connection of its own: one sort, one
 * pass, bounded memory, whatever the table size (keyset pages would re-sort per page). The cursor sees
 * one snapshot, taken when the stream starts; writes made meanwhile through other connections do not
 * disturb it.
 */
export async function* streamRows<R extends QueryResultRow>(pool: Pool, sql: string, params: unknown[] = [], fetchSize = 500): AsyncGenerator<R> {
  const client = await pool.connect();
  let open = false;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    open = true;
    await client.query(`DECLARE yy_stream NO SCROLL CURSOR FOR ${sql}`, params);
    for (;;) {
      const { rows } = await client.query<R>(`FETCH ${fetchSize} FROM yy_stream`);
      for (const row of rows) yield row;
      if (rows.length < fetchSize) break;
    }
    await client.query('COMMIT');
    open = false;
  } finally {
    // Also when the consumer stopped early: the transaction must not go back to the pool open.
    if (open) await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }
}
