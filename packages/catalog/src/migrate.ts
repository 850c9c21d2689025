import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Pool, PoolClient } from './database';
import { quoteIdent } from './database';
import { inTransactionForm, isOnlineMigration, onlineStatements, type OnlineStatement } from './online-migration';

/**
 * Versioned SQL migrations: `migrations/NNNN_name.sql`, applied in name order, each in its own
 * transaction (all of them in one on a fresh schema), recorded with a checksum. An applied migration whose
 * file changed stops start-up: migrations are append-only history. A per-schema advisory lock lets several
 * processes start at once. A file whose first line is `-- yunying:online` builds or drops indexes without
 * blocking writes, outside a transaction (online-migration.ts).
 */
export const MIGRATIONS_DIR = path.resolve(__dirname, '../migrations');

export interface Migration {
  version: string;
  name: string;
  sql: string;
  checksum: string;
  /** Its statements when the file is an online migration (`-- yunying:online`), checked when loaded. */
  online?: OnlineStatement[];
}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const sql = fs.readFileSync(path.join(dir, file), 'utf8');
      const name = file.replace(/\.sql$/, '');
      return {
        version: file.slice(0, 4),
        name,
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
        ...(isOnlineMigration(sql) ? { online: onlineStatements(name, sql) } : {}),
      };
    });
}

function lockKey(schema: string): number {
  return createHash('sha256').update(`yunying-migrate:${schema}`).digest().readInt32BE(0);
}

export async function migrate(pool: Pool, schema: string, migrations = loadMigrations()): Promise<string[]> {
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [lockKey(schema)]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await client.query(`SET search_path TO ${quoteIdent(schema)}`);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: string; checksum: string; name: string }>('SELECT version, name, checksum FROM schema_migrations');
    const done = new Map(rows.map((r) => [r.version, r]));
    const pending: Migration[] = [];
    for (const migration of migrations) {
      const existing = done.get(migration.version);
      if (!existing) pending.push(migration);
      else if (existing.checksum !== migration.checksum) {
        throw new Error(`migration ${migration.name} was changed after it was applied; add a new migration instead`);
      }
    }
    // A fresh schema takes every migration in one transaction: nothing in it to keep if one fails, and one
    // commit instead of one per migration (a fifth of a fresh catalog's set-up time, paid by every first
    // start and every test schema). An existing catalog applies each in its own, so that a long upgrade
    // keeps what it has finished.
    const fresh = done.size === 0;
    const groups = fresh ? [pending] : pending.map((migration) => [migration]);
    for (const group of groups) {
      if (group.length === 0) continue;
      const [only] = group;
      if (!fresh && only?.online) {
        await applyOnline(client, schema, only, only.online);
        applied.push(only.name);
        continue;
      }
      await client.query('BEGIN');
      let current = group[0];
      try {
        for (const migration of group) {
          current = migration;
          // On a fresh schema the tables are empty and nobody else can see them yet: an online migration's
          // statements run in their plain form inside the one transaction.
          if (migration.online) for (const statement of migration.online) await client.query(inTransactionForm(statement));
          else await client.query(migration.sql);
          await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [migration.version, migration.name, migration.checksum]);
        }
        await client.query('COMMIT');
        applied.push(...group.map((migration) => migration.name));
      } catch (error) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${current?.name ?? '?'} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [lockKey(schema)]).catch(() => undefined);
    await client.query('RESET search_path').catch(() => undefined);
    client.release();
  }
  return applied;
}

/**
 * An online migration on an existing catalog: statement by statement outside a transaction (each is idempotent,
 * so a rerun resumes a run that stopped), after dropping any index it names that an interrupted concurrent
 * build left INVALID; recorded only when every statement has run.
 */
async function applyOnline(client: PoolClient, schema: string, migration: Migration, statements: OnlineStatement[]): Promise<void> {
  try {
    const names = statements.flatMap((statement) => (statement.createsIndex ? [statement.createsIndex.toLowerCase()] : []));
    // A partitioned parent's index (relkind 'I') is invalid by design until its partitions' indexes are
    // attached; only a plain index that is invalid is what a failed CONCURRENTLY build leaves.
    const invalid = await client.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = ANY($2) AND c.relkind = 'i' AND NOT i.indisvalid`,
      [schema, names],
    );
    for (const { name } of invalid.rows) await client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${quoteIdent(schema)}.${quoteIdent(name)}`);
    for (const statement of statements) {
      if (statement.onOnly) {
        const table = await client.query<{ kind: string | null }>(
          'SELECT c.relkind AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2',
          [schema, statement.onOnly.toLowerCase()],
        );
        if (table.rows[0]?.kind !== 'p') throw new Error(`${statement.onOnly} is not a partitioned table: ON ONLY would build a blocking index on it`);
      }
      await client.query(statement.sql);
    }
    await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [migration.version, migration.name, migration.checksum]);
  } catch (error) {
    throw new Error(
      `migration ${migration.name} failed: ${error instanceof Error ? error.message : String(error)} (online: run the migrations again to resume it)`,
    );
  }
}

/**
 * The migrations not yet applied, read with SELECT alone: what a process that connects as the
 * least-privileged application role (no DDL) checks before it starts (migrations run as the owner).
 */
export async function pendingMigrations(pool: Pool, schema: string, migrations = loadMigrations()): Promise<string[]> {
  const exists = await pool.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [`${quoteIdent(schema)}.schema_migrations`]);
  if (exists.rows[0]?.t == null) return migrations.map((m) => m.name);
  const { rows } = await pool.query<{ version: string; checksum: string }>(`SELECT version, checksum FROM ${quoteIdent(schema)}.schema_migrations`);
  const done = new Map(rows.map((r) => [r.version, r.checksum]));
  return migrations.filter((m) => done.get(m.version) !== m.checksum).map((m) => m.name);
}
