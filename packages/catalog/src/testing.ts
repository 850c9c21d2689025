import { randomBytes } from 'node:crypto';
import { createPool, quoteIdent, type Pool } from './database';
import { migrate } from './migrate';

export interface TestCatalog {
  pool: Pool;
  schema: string;
  url: string;
  /** Drops the schema and closes the pool. */
  drop: () => Promise<void>;
}

/** The Postgres URL tests use: TEST_DATABASE_URL, else the local server's `test` database. */
export function testDatabaseUrl(): string {
  return process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
}

/**
 * A fresh, fully migrated schema of its own for one test file, so test files run in parallel against one
 * real PostgreSQL without seeing each other's rows.
 */
export async function createTestCatalog(prefix = 't'): Promise<TestCatalog> {
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  const url = testDatabaseUrl();
  const pool = createPool({ url, schema, poolSize: 5, applicationName: 'yunying-test' });
  await migrate(pool, schema);
  return {
    pool,
    schema,
    url,
    drop: async () => {
      await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
      await pool.end();
    },
  };
}
