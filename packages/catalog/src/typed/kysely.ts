import { CamelCasePlugin, Kysely, PostgresDialect, type PostgresCursor, type PostgresPool, type PostgresPoolClient, type PostgresQueryResult } from 'kysely';
import type pg from 'pg';
import type { DB } from './database.types';

/** A pool or a client inside a transaction: typed queries run on either, like the raw ones. */
export interface QueryRunner {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export type Database = Kysely<DB>;

/** Raw SQL parts and row selection for services that build typed queries (they depend on the catalog, not on kysely). */
export { sql, type Selectable } from 'kysely';

/**
 * Hands Kysely the runner as its only connection. Kysely then neither opens nor ends connections itself:
 * the pool and transactions stay where they are (createPool, inTransaction), and a typed query inside a
 * transaction runs on that transaction's client.
 */
class RunnerConnection implements PostgresPoolClient {
  constructor(private readonly runner: QueryRunner) {}

  query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>;
  query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
  query<R>(sqlOrCursor: string | PostgresCursor<R>, parameters?: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    if (typeof sqlOrCursor !== 'string') throw new Error('streaming queries are not supported through kyselyOn');
    return this.run<R>(sqlOrCursor, parameters ?? []);
  }

  release(): void {
    // The runner's owner releases it (inTransaction, or the pool per query).
  }

  private async run<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> {
    const result = await this.runner.query(sql, [...parameters]);
    return { command: result.command as PostgresQueryResult<R>['command'], rowCount: result.rowCount ?? 0, rows: result.rows as R[] };
  }
}

class RunnerPool implements PostgresPool {
  private readonly connection: RunnerConnection;

  constructor(runner: QueryRunner) {
    this.connection = new RunnerConnection(runner);
  }

  connect(): Promise<PostgresPoolClient> {
    return Promise.resolve(this.connection);
  }

  async end(): Promise<void> {
    // Not Kysely's to end.
  }
}

/**
 * Column and table names are camelCase on the TypeScript side (database.types.ts is generated that way) and
 * snake_case in PostgreSQL; the plugin maps both ways, so no repository writes a row mapper. JSON values keep
 * their own keys.
 */
const camelCase = new CamelCasePlugin({ maintainNestedObjectKeys: true });

const handles = new WeakMap<QueryRunner, Database>();

/** The typed query builder over a pool or a transaction's client (one per runner, reused). */
export function kyselyOn(runner: QueryRunner): Database {
  let db = handles.get(runner);
  if (db === undefined) {
    db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: new RunnerPool(runner) }), plugins: [camelCase] });
    handles.set(runner, db);
  }
  return db;
}
