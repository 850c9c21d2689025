import { randomUUID } from 'node:crypto';
import { inTransaction } from '@yunying/catalog';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { TriageScopeRepository } from './triage-scope.repository';

/** A clinic's scope-gate mapping on the real PostgreSQL: replaced as a whole, listed by pattern, per clinic only. */
describe('triage scope repository (real PostgreSQL)', () => {
  let catalog: TestCatalog;
  const repo = new TriageScopeRepository();
  const clinicA = randomUUID();
  const clinicB = randomUUID();

  beforeAll(async () => {
    catalog = await createTestCatalog('triage_scope_repo');
    await catalog.pool.query(`INSERT INTO clinics (id, code, name) VALUES ($1, 'ts-a', 'A'), ($2, 'ts-b', 'B')`, [clinicA, clinicB]);
  });

  afterAll(async () => {
    await catalog.drop();
  });

  it('knows the clinics that exist', async () => {
    await inTransaction(catalog.pool, async (db) => {
      expect(await repo.clinicExists(db, clinicA)).toBe(true);
      expect(await repo.clinicExists(db, randomUUID())).toBe(false);
    });
  });

  it('replaces one clinic’s rules as a whole and lists them by pattern, leaving the other clinic’s alone', async () => {
    await inTransaction(catalog.pool, async (db) => {
      await repo.replace(db, clinicB, [{ pattern: 'breast', scope: 'other' }]);
      await repo.replace(db, clinicA, [
        { pattern: 'neck us', scope: 'thyroid' },
        { pattern: 'carotid', scope: 'other' },
      ]);
      expect(await repo.list(db, clinicA)).toEqual([
        { pattern: 'carotid', scope: 'other' },
        { pattern: 'neck us', scope: 'thyroid' },
      ]);
      await repo.replace(db, clinicA, [{ pattern: 'schilddruse', scope: 'thyroid' }]);
      expect(await repo.list(db, clinicA)).toEqual([{ pattern: 'schilddruse', scope: 'thyroid' }]);
      await repo.replace(db, clinicA, []);
      expect(await repo.list(db, clinicA)).toEqual([]);
      expect(await repo.list(db, clinicB)).toEqual([{ pattern: 'breast', scope: 'other' }]);
    });
  });
});
