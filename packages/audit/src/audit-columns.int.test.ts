import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { AUDIT_EVENT_COLUMNS } from './audit.columns';

/**
 * The table as the migrations made it against the list: a column added by a migration but missing from
 * AUDIT_EVENT_COLUMNS would be stored unhashed (never written, or written outside the link), so it fails here.
 */
describe('audit_events columns (migrated schema)', () => {
  let catalog: TestCatalog;
  beforeAll(async () => {
    catalog = await createTestCatalog('auditcols');
  });
  afterAll(async () => {
    await catalog.drop();
  });

  it('has exactly the listed columns, so each is hashed or listed as unhashed with its reason', async () => {
    const { rows } = await catalog.pool.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'audit_events' ORDER BY column_name`,
    );
    expect(rows.map((r) => r.column_name)).toEqual(AUDIT_EVENT_COLUMNS.map((c) => c.column).sort());
  });
});
