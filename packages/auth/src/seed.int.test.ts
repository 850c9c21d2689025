import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { seedDemo } from './seed';

const SECRET = 'seed-secret-seed-secret-seed-secret-seed-0001';

/**
 * The demo seed on real PostgreSQL: two processes seeding at once create the set once (the advisory lock),
 * the demo clinics accept AE-title-only DICOM with their AE titles registered, and a clinic that already
 * exists is kept as it is.
 */
describe('seedDemo', () => {
  let catalog: TestCatalog;

  beforeAll(async () => {
    catalog = await createTestCatalog('seed');
  });
  afterAll(async () => {
    await catalog?.drop();
  });

  it('seeds once when two processes seed at once, with ae_only clinics and their AE titles', async () => {
    // other-clinic exists already, with another name and the default policy: kept as it is.
    await catalog.pool.query("INSERT INTO clinics (code, name) VALUES ('other-clinic', 'Kept name')");
    const results = await Promise.all([seedDemo(catalog.pool, { tokenSecret: SECRET }), seedDemo(catalog.pool, { tokenSecret: SECRET })]);
    const created = results.filter((r) => r !== null);
    expect(created).toHaveLength(1);
    expect(created[0]?.users.map((u) => u.username).sort()).toEqual(['admin', 'auditor', 'clinic', 'radiologist']);

    const { rows } = await catalog.pool.query<{ id: string; code: string; name: string; dimse_auth: string; ae_titles: string[] }>(
      `SELECT c.id, c.code, c.name, c.dimse_auth, ARRAY(SELECT a.ae_title FROM clinic_ae_titles a WHERE a.clinic_id = c.id ORDER BY a.ae_title) AS ae_titles
         FROM clinics c ORDER BY c.code`,
    );
    expect(rows.map((r) => [r.code, r.name, r.dimse_auth, r.ae_titles])).toEqual([
      ['demo-clinic', 'Demo Clinic', 'ae_only', ['DEMO_US']],
      ['other-clinic', 'Kept name', 'credentials', ['OTHER_US']],
    ]);
    expect(created[0]?.clinics).toEqual(rows.map((r) => ({ code: r.code, id: r.id, aeTitle: r.ae_titles[0] })));
    await expect(seedDemo(catalog.pool, { tokenSecret: SECRET })).resolves.toBeNull();
  });
});
