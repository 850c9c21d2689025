import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
export type QueryResultRow = pg.QueryResultRow;

export interface DatabaseSettings {
  url: string;
  schema: string;
  poolSize?: number;
  applicationName?: string;
  /** How long to wait for a connection (default 5 s). */
  connectionTimeoutMillis?: number;
}

/** A quoted SQL identifier; schema names come from config (validated) or tests, never from requests. */
export function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid SQL identifier: ${name}`);
  return `"${name}"`;
}

/**
 * A pool whose connections all use the configured schema, so tests can each own a schema and run in
 * parallel against one database. `pg_catalog` stays first implicitly, so built-ins resolve.
 */
export function createPool(settings: DatabaseSettings): Pool {
  const pool = new pg.Pool({
    connectionString: settings.url,
    max: settings.poolSize ?? 10,
    application_name: settings.applicationName ?? 'yunying',
    // JIT compilation costs hundreds of ms on the first run of a plan and pays off only for long
    // analytical queries; the catalog's queries are short (measured: reading queue at 1 M studies,
    // 1 ms of execution behind 333 ms of JIT — docs/benchmarks.md).
    options: `-c search_path=${quoteIdent(settings.schema)} -c jit=off`,
    connectionTimeoutMillis: settings.connectionTimeoutMillis ?? 5000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client's error (e.g. Postgres restarted) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}

/** Runs `fn` in one transaction; rolls back on any error and rethrows it. */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A connection lost while checked out (server restart, terminated backend) fails the running query and
  // also emits 'error' on the client; without a listener that event would crash the whole process. The
  // broken client is then released with its error, so the pool discards it instead of handing it out again.
  let lost: Error | undefined;
  const onError = (error: Error): void => {
    lost = error;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    if (lost === undefined) await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.off('error', onError);
    client.release(lost);
  }
}
