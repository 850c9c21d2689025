import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { quoteIdent } from './database';
import { loadMigrations, migrate } from './migrate';
import { createTestCatalog, type TestCatalog } from './testing';

/**
 * Online migrations (`-- yunying:online`, online-migration.ts) on the real PostgreSQL: an index built on a table
 * that is being written must not stop the writes, an interrupted build resumes, partitioned tables take
 * PostgreSQL's parent/partition recipe, and a fresh schema takes them in its one transaction.
 */
describe('online migrations (real PostgreSQL)', () => {
  let catalog: TestCatalog;
  let dir: string;
  beforeAll(async () => {
    catalog = await createTestCatalog('migon');
  });
  afterAll(async () => {
    await catalog.drop();
  });
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-migrations-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Writes the files (name -> SQL) into this test's migration directory and loads them as the runner does. */
  function migrationsOf(files: Record<string, string>): ReturnType<typeof loadMigrations> {
    for (const [name, sql] of Object.entries(files)) fs.writeFileSync(path.join(dir, `${name}.sql`), sql);
    return loadMigrations(dir);
  }

  async function connect(schema: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: catalog.url, options: `-c search_path=${quoteIdent(schema)}` });
    await client.connect();
    return client;
  }

  async function indexState(schema: string, name: string): Promise<{ valid: boolean; partitions: number } | null> {
    const { rows } = await catalog.pool.query<{ valid: boolean; partitions: number }>(
      `SELECT i.indisvalid AS valid, (SELECT count(*) FROM pg_inherits h WHERE h.inhparent = c.oid)::int AS partitions
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2`,
      [schema, name],
    );
    return rows[0] ?? null;
  }

  async function appliedVersions(schema: string): Promise<string[]> {
    const { rows } = await catalog.pool.query<{ version: string }>(`SELECT version FROM ${quoteIdent(schema)}.schema_migrations ORDER BY version`);
    return rows.map((row) => row.version);
  }

  const readings = {
    '0001_readings':
      'CREATE TABLE readings (id bigserial PRIMARY KEY, clinic int NOT NULL, v int NOT NULL);\n' +
      'INSERT INTO readings (clinic, v) SELECT g % 7, g FROM generate_series(1, 5000) g;',
  };

  it('builds an index while the table is written: inserts queued behind the build go through', async () => {
    const schema = `${catalog.schema}_writes`;
    await migrate(catalog.pool, schema, migrationsOf(readings));
    const all = migrationsOf({ '0002_readings_clinic': '-- yunying:online\nCREATE INDEX CONCURRENTLY IF NOT EXISTS readings_clinic ON readings (clinic, v);\n' });
    // A writer in the middle of its transaction: any index build has to wait for it to end.
    const writer = await connect(schema);
    const other = await connect(schema);
    try {
      await writer.query('BEGIN');
      await writer.query('INSERT INTO readings (clinic, v) VALUES (1, -1)');
      const run = migrate(catalog.pool, schema, all);
      run.catch(() => undefined);
      // Wait until the build is waiting for the writer.
      for (let tries = 0; ; tries += 1) {
        const { rows } = await catalog.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE '%INDEX%readings_clinic%'`,
        );
        if (rows[0]?.n === 1) break;
        if (tries > 200) throw new Error('the index build never started waiting');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      // A plain CREATE INDEX would now hold the table's queue: this insert would wait behind it and time out.
      await other.query("SET lock_timeout = '3s'");
      await expect(other.query('INSERT INTO readings (clinic, v) VALUES (2, -2)')).resolves.toMatchObject({ rowCount: 1 });
      await writer.query('COMMIT');
      await expect(run).resolves.toEqual(['0002_readings_clinic']);
    } finally {
      await writer.end();
      await other.end();
    }
    expect(await indexState(schema, 'readings_clinic')).toEqual({ valid: true, partitions: 0 });
    expect(await appliedVersions(schema)).toEqual(['0001', '0002']);
    expect((await catalog.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${quoteIdent(schema)}.readings`)).rows).toEqual([{ n: 5002 }]);
  });

  it('resumes a build that failed: the invalid index it left is dropped and built again', async () => {
    const schema = `${catalog.schema}_resume`;
    await migrate(catalog.pool, schema, migrationsOf(readings));
    await catalog.pool.query(`INSERT INTO ${quoteIdent(schema)}.readings (clinic, v) VALUES (3, 42)`); // a duplicate v
    const all = migrationsOf({ '0002_readings_v': '-- yunying:online\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS readings_v ON readings (v);\n' });
    await expect(migrate(catalog.pool, schema, all)).rejects.toThrow(/migration 0002_readings_v failed: could not create unique index .*run the migrations again to resume/);
    // What a failed concurrent build leaves: the index, marked invalid, and the migration not recorded.
    expect(await indexState(schema, 'readings_v')).toEqual({ valid: false, partitions: 0 });
    expect(await appliedVersions(schema)).toEqual(['0001']);
    await catalog.pool.query(`DELETE FROM ${quoteIdent(schema)}.readings WHERE clinic = 3`);
    await expect(migrate(catalog.pool, schema, all)).resolves.toEqual(['0002_readings_v']);
    expect(await indexState(schema, 'readings_v')).toEqual({ valid: true, partitions: 0 });
    await expect(catalog.pool.query(`INSERT INTO ${quoteIdent(schema)}.readings (clinic, v) VALUES (3, 42)`)).rejects.toThrow(/duplicate key/);
  });

  const parts = {
    '0001_parts':
      'CREATE TABLE parts (id bigint NOT NULL, k int NOT NULL) PARTITION BY HASH (id);\n' +
      'CREATE TABLE parts_h0 PARTITION OF parts FOR VALUES WITH (MODULUS 2, REMAINDER 0);\n' +
      'CREATE TABLE parts_h1 PARTITION OF parts FOR VALUES WITH (MODULUS 2, REMAINDER 1);\n' +
      'INSERT INTO parts SELECT g, g % 11 FROM generate_series(1, 2000) g;',
    '0002_parts_k': [
      '-- yunying:online',
      'CREATE INDEX IF NOT EXISTS parts_k ON ONLY parts (k);',
      'CREATE INDEX CONCURRENTLY IF NOT EXISTS parts_h0_k ON parts_h0 (k);',
      'ALTER INDEX parts_k ATTACH PARTITION parts_h0_k;',
      'CREATE INDEX CONCURRENTLY IF NOT EXISTS parts_h1_k ON parts_h1 (k);',
      'ALTER INDEX parts_k ATTACH PARTITION parts_h1_k;',
      '',
    ].join('\n'),
  };

  it.each([
    ['an existing schema, online', true],
    ['a fresh schema, in its one transaction', false],
  ])('indexes a partitioned table partition by partition: %s', async (_where, existing) => {
    const schema = `${catalog.schema}_parts_${existing ? 'old' : 'new'}`;
    const all = migrationsOf(parts);
    if (existing) await migrate(catalog.pool, schema, all.slice(0, 1));
    await expect(migrate(catalog.pool, schema, all)).resolves.toEqual(existing ? ['0002_parts_k'] : ['0001_parts', '0002_parts_k']);
    expect(await indexState(schema, 'parts_k')).toEqual({ valid: true, partitions: 2 });
    expect(await appliedVersions(schema)).toEqual(['0001', '0002']);
    await expect(migrate(catalog.pool, schema, all)).resolves.toEqual([]);
  });

  it('refuses ON ONLY on a table that is not partitioned, before building anything', async () => {
    const schema = `${catalog.schema}_only`;
    await migrate(catalog.pool, schema, migrationsOf(readings));
    const all = migrationsOf({ '0002_readings_only': '-- yunying:online\nCREATE INDEX IF NOT EXISTS readings_only ON ONLY readings (v);\n' });
    await expect(migrate(catalog.pool, schema, all)).rejects.toThrow(/readings is not a partitioned table: ON ONLY would build a blocking index/);
    expect(await indexState(schema, 'readings_only')).toBeNull();
  });

  it('refuses to load a migration marked online that holds a blocking statement', () => {
    expect(() => migrationsOf({ '0001_blocking': '-- yunying:online\nCREATE INDEX IF NOT EXISTS readings_v ON readings (v);\n' })).toThrow(
      /online migration 0001_blocking: "CREATE INDEX IF NOT EXISTS readings_v ON readings \(v\)" cannot run online/,
    );
  });
});
