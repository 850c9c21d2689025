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

  it('enforces the retention floor of a clinic policy in the schema', async () => {
    await expect(catalog.pool.query("INSERT INTO clinics (code, name, retention_years) VALUES ('c-1', 'x', 0)")).rejects.toThrow(/check/);
  });
});
