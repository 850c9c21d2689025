import { AI_PRIORITIES, AI_RESULT_STATUSES } from '@yunying/nodule-model/ai-result-view';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';

/**
 * The wire contract's statuses and priorities are the values the migrated schema lets ai_results hold: a
 * migration that widens a check constraint without the contract (or the reverse) fails here, not as a 500 in
 * aiResultView or an 'unknown' status in the AI panel.
 */
describe('AI result wire contract vs the migrated schema (real PostgreSQL)', () => {
  let catalog: TestCatalog;
  beforeAll(async () => {
    catalog = await createTestCatalog('aiwire');
  });
  afterAll(async () => {
    await catalog?.drop();
  });

  /** The quoted literals of a column's CHECK constraint on ai_results, as PostgreSQL prints it back. */
  async function allowed(column: string): Promise<string[]> {
    const { rows } = await catalog.pool.query<{ def: string }>(
      // This table's constraints first (an index probe by conrelid): pg_get_constraintdef on another schema's table
      // that a parallel test is dropping fails with "could not open relation".
      `WITH mine AS MATERIALIZED (
         SELECT c.oid FROM pg_constraint c WHERE c.conrelid = to_regclass(quote_ident($1) || '.ai_results') AND c.contype = 'c'
       )
       SELECT def FROM (SELECT pg_get_constraintdef(oid) AS def FROM mine) d WHERE def LIKE $2`,
      [catalog.schema, `%(${column} %`],
    );
    expect(rows).toHaveLength(1);
    return [...(rows[0]?.def ?? '').matchAll(/'([^']*)'::text/g)].map((m) => m[1] ?? '');
  }

  it('statuses', async () => {
    expect((await allowed('status')).sort()).toEqual([...AI_RESULT_STATUSES].sort());
  });

  it('priorities', async () => {
    expect((await allowed('priority')).sort()).toEqual([...AI_PRIORITIES].sort());
  });
});
