import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPool, quoteIdent } from './database';
import { loadMigrations, migrate } from './migrate';

/**
 * Fresh, fully migrated catalogs for tests, copied rather than migrated. Migrating a fresh schema is ~0.7 s of
 * DDL on an idle 2-core machine (16 hash partitions of two tables with their indexes among it) and about twice
 * that under a full test run, which makes ~100 of them. PostgreSQL copies a database from a template in
 * ~0.1 s, so the migrations run once per set of migration files, into a template database named by their
 * checksums; each test catalog is a copy of it (its own database), its schema renamed to the test's own name.
 *
 * Only for tests: the product's start-up (`npm start`, the seed CLI) always migrates, and
 * `packages/catalog/src/migrate.int.test.ts` migrates fresh schemas itself, so the migrations stay tested.
 * The test user must be allowed to create databases (the local `postgres` superuser is). A template stays
 * on the server for the next run; one made for migrations since changed is left too (~13 MB each; drop
 * `yy_template_*` databases by hand to reclaim them).
 */

/** The schema the template is migrated into; each copy renames it. */
const TEMPLATE_SCHEMA = 'yy_template';

export interface CatalogCopy {
  /** The copy's own database, on the server of the URL it was made from. */
  url: string;
  schema: string;
  /** Drops the copy's database (its connections are closed first). */
  dropDatabase: () => Promise<void>;
}

function databaseUrl(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'yunying-test' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Named by the migrations' checksums, so an edited or added migration makes a new template. */
function templateName(): string {
  const digest = createHash('sha256');
  for (const migration of loadMigrations()) digest.update(`${migration.name}:${migration.checksum}\n`);
  return `yy_template_${digest.digest('hex').slice(0, 16)}`;
}

const made = new Map<string, Promise<void>>();

/**
 * Makes the template database once per server and set of migrations. Two test processes may ask at the same
 * time: an advisory lock on the server serializes them, and the template gets its name only when it is
 * complete (migrated under another name, then renamed), so a copy is never made of half a template.
 */
function ensureTemplate(adminUrl: string, template: string): Promise<void> {
  const key = `${new URL(adminUrl).host}/${template}`;
  let pending = made.get(key);
  if (!pending) {
    pending = withClient(adminUrl, async (admin) => {
      const lock = createHash('sha256').update('yunying-test-catalog-template').digest().readInt32BE(0);
      await admin.query('SELECT pg_advisory_lock($1)', [lock]);
      try {
        const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [template]);
        if (rowCount) return;
        const building = `${template}_new`;
        await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(building)} WITH (FORCE)`);
        await admin.query(`CREATE DATABASE ${quoteIdent(building)}`);
        const pool = createPool({ url: databaseUrl(adminUrl, building), schema: TEMPLATE_SCHEMA, poolSize: 1, applicationName: 'yunying-test' });
        try {
          await migrate(pool, TEMPLATE_SCHEMA);
        } finally {
          await pool.end();
        }
        await admin.query(`ALTER DATABASE ${quoteIdent(building)} RENAME TO ${quoteIdent(template)}`);
      } finally {
        await admin.query('SELECT pg_advisory_unlock($1)', [lock]);
      }
    });
    made.set(key, pending);
    pending.catch(() => made.delete(key));
  }
  return pending;
}

/**
 * A migrated catalog in a database of its own, copied from the template. `adminUrl` is a database on the
 * server that the test user may create databases from (the tests' TEST_DATABASE_URL).
 */
export async function copyMigratedCatalog(adminUrl: string, prefix: string): Promise<CatalogCopy> {
  const template = templateName();
  await ensureTemplate(adminUrl, template);
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  const database = `yy_test_${schema}`;
  quoteIdent(database); // throws here, before anything is made, on a prefix that makes no valid name
  await withClient(adminUrl, (admin) => admin.query(`CREATE DATABASE ${quoteIdent(database)} TEMPLATE ${quoteIdent(template)}`));
  const url = databaseUrl(adminUrl, database);
  const dropDatabase = (): Promise<void> => withClient(adminUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`)).then(() => undefined);
  try {
    await withClient(url, async (client) => {
      await client.query(`ALTER SCHEMA ${quoteIdent(TEMPLATE_SCHEMA)} RENAME TO ${quoteIdent(schema)}`);
      // A function created with `SET search_path FROM CURRENT` (e.g. ingest_precheck, migration 1410) keeps
      // the schema's name as text; it follows the rename only if told.
      const { rows } = await client.query<{ fn: string; path: string }>(
        `SELECT p.oid::regprocedure::text AS fn, substr(c, length('search_path=') + 1) AS path
           FROM pg_proc p, unnest(p.proconfig) c
          WHERE p.pronamespace = $1::regnamespace AND c LIKE 'search_path=%'`,
        [schema],
      );
      for (const { fn, path } of rows) {
        const entries = path.split(',').map((entry) => entry.trim().replace(/^"(.*)"$/, '$1'));
        if (!entries.includes(TEMPLATE_SCHEMA)) continue;
        const renamed = entries.map((entry) => quoteIdent(entry === TEMPLATE_SCHEMA ? schema : entry));
        await client.query(`ALTER FUNCTION ${fn} SET search_path = ${renamed.join(', ')}`);
      }
    });
  } catch (error) {
    await dropDatabase().catch(() => undefined);
    throw error;
  }
  return { url, schema, dropDatabase };
}
