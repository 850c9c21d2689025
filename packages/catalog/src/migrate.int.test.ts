import { createTestCatalog, type TestCatalog } from './testing';
import { loadMigrations, migrate } from './migrate';

describe('migrations (real PostgreSQL)', () => {
  let catalog: TestCatalog;
  beforeAll(async () => {
    catalog = await createTestCatalog('mig');
  });
  afterAll(async () => {
    await catalog.drop();
  });

  it('applies every migration once, in order, into its own schema', async () => {
    const { rows } = await catalog.pool.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.name)).toEqual(loadMigrations().map((m) => m.name));
    const tables = await catalog.pool.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1',
      [catalog.schema],
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual(expect.arrayContaining(['studies', 'series', 'instances', 'copies', 'objects']));
    // Running again changes nothing.
    expect(await migrate(catalog.pool, catalog.schema)).toEqual([]);
  });

  it('refuses to start when an applied migration was edited', async () => {
    const edited = loadMigrations().map((m, i) => (i === 0 ? { ...m, checksum: 'changed' } : m));
    await expect(migrate(catalog.pool, catalog.schema, edited)).rejects.toThrow(/was changed after it was applied/);
  });

  const broken = { version: '9999', name: '9999_broken', sql: 'SELECT * FROM no_such_table', checksum: 'broken' };

  it('sets up a fresh schema all or nothing: a failing migration leaves none of the others applied', async () => {
    const schema = `${catalog.schema}_fresh`;
    try {
      await expect(migrate(catalog.pool, schema, [...loadMigrations().slice(0, 3), broken])).rejects.toThrow(/migration 9999_broken failed/);
      const left = await catalog.pool.query<{ applied: number; studies: string | null }>(
        `SELECT (SELECT count(*) FROM ${schema}.schema_migrations)::int AS applied, to_regclass('${schema}.studies')::text AS studies`,
      );
      expect(left.rows).toEqual([{ applied: 0, studies: null }]);
    } finally {
      await catalog.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  });

  it('upgrades an existing schema one migration at a time: those before a failing one stay applied', async () => {
    const upgrade = { version: '9998', name: '9998_upgrade_table', sql: 'CREATE TABLE upgrade_probe (id int)', checksum: 'upgrade' };
    await expect(migrate(catalog.pool, catalog.schema, [...loadMigrations(), upgrade, broken])).rejects.toThrow(/migration 9999_broken failed/);
    const { rows } = await catalog.pool.query<{ version: string }>("SELECT version FROM schema_migrations WHERE version >= '9998'");
    expect(rows).toEqual([{ version: '9998' }]);
    expect((await catalog.pool.query<{ t: string | null }>("SELECT to_regclass('upgrade_probe')::text AS t")).rows).toEqual([{ t: 'upgrade_probe' }]);
  });

  it('enforces the retention floor of a clinic policy in the schema', async () => {
    await expect(catalog.pool.query("INSERT INTO clinics (code, name, retention_years) VALUES ('c-1', 'x', 0)")).rejects.toThrow(/check/);
  });
});
