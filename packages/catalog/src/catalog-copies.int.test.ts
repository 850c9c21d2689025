import pg from 'pg';
import { copyMigratedCatalog } from './catalog-copies';
import { createPool } from './database';
import { loadMigrations, pendingMigrations } from './migrate';
import { testDatabaseUrl } from './testing';

/**
 * The copies every integration and system test stands on: fully migrated, under the test's own schema name,
 * isolated from each other, and gone when dropped.
 */
describe('test catalogs copied from a migrated template (real PostgreSQL)', () => {
  it('is migrated under its own name, reads its own tables through pinned functions, and is isolated and dropped', async () => {
    const [a, b] = await Promise.all([copyMigratedCatalog(testDatabaseUrl(), 'copy_a'), copyMigratedCatalog(testDatabaseUrl(), 'copy_b')]);
    const poolA = createPool({ url: a.url, schema: a.schema, poolSize: 1 });
    const poolB = createPool({ url: b.url, schema: b.schema, poolSize: 1 });
    try {
      expect(a.schema).toMatch(/^copy_a_[0-9a-f]{12}$/);
      expect(a.url).not.toBe(b.url);
      expect(await pendingMigrations(poolA, a.schema)).toEqual([]);
      const { rows: applied } = await poolA.query<{ n: string }>('SELECT count(*)::text AS n FROM schema_migrations');
      expect(Number(applied[0]?.n)).toBe(loadMigrations().length);

      // ingest_precheck is pinned to its schema's name (migration 1410): after the rename it must read this
      // copy's clinics, not fail on the template's name.
      await poolA.query(`INSERT INTO clinics (code, name) VALUES ('copy-a', 'A')`);
      const { rows } = await poolA.query<{ clinic_code: string | null }>(
        `SELECT clinic_code FROM ingest_precheck((SELECT array_agg(id) FROM clinics), ARRAY['1.2'], ARRAY['1.2.3'], ARRAY['1.2.3.4'], ARRAY['x'], ARRAY['y'])`,
      );
      expect(rows).toEqual([{ clinic_code: 'copy-a' }]);
      const { rows: b0 } = await poolB.query<{ n: string }>('SELECT count(*)::text AS n FROM clinics');
      expect(b0[0]?.n).toBe('0');
    } finally {
      await poolA.end();
      await poolB.end();
      await Promise.all([a.dropDatabase(), b.dropDatabase()]);
    }

    const admin = new pg.Client({ connectionString: testDatabaseUrl() });
    await admin.connect();
    try {
      const left = await admin.query('SELECT datname FROM pg_database WHERE datname = ANY($1)', [[new URL(a.url).pathname.slice(1), new URL(b.url).pathname.slice(1)]]);
      expect(left.rows).toEqual([]);
    } finally {
      await admin.end();
    }
  });
});
