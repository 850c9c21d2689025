import { inTransactionForm, isOnlineMigration, onlineStatements } from './online-migration';

describe('online migrations: what a file may hold', () => {
  const recipe = [
    '-- yunying:online',
    '-- A partitioned table: the parent index first (no rows), then each partition built concurrently and attached.',
    'CREATE INDEX IF NOT EXISTS parts_k ON ONLY parts (k);',
    'CREATE INDEX CONCURRENTLY IF NOT EXISTS parts_h0_k',
    '  ON parts_h0 (k);  -- built without blocking writes',
    'ALTER INDEX parts_k ATTACH PARTITION parts_h0_k;',
    'DROP INDEX CONCURRENTLY IF EXISTS parts_old;',
    'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS readings_v ON readings (v) WHERE v > 0;',
    'ANALYZE parts;',
  ].join('\n');

  it('is marked by its first line', () => {
    expect(isOnlineMigration(recipe)).toBe(true);
    expect(isOnlineMigration('CREATE INDEX x ON t (v);\n-- yunying:online')).toBe(false);
  });

  it('reads the idempotent statements, the indexes they create and the ON ONLY tables', () => {
    expect(onlineStatements('0001_recipe', recipe)).toEqual([
      { sql: 'CREATE INDEX IF NOT EXISTS parts_k ON ONLY parts (k)', createsIndex: 'parts_k', onOnly: 'parts' },
      { sql: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS parts_h0_k ON parts_h0 (k)', createsIndex: 'parts_h0_k' },
      { sql: 'ALTER INDEX parts_k ATTACH PARTITION parts_h0_k' },
      { sql: 'DROP INDEX CONCURRENTLY IF EXISTS parts_old' },
      { sql: 'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS readings_v ON readings (v) WHERE v > 0', createsIndex: 'readings_v' },
      { sql: 'ANALYZE parts' },
    ]);
  });

  it.each([
    ['a blocking build', 'CREATE INDEX IF NOT EXISTS readings_v ON readings (v);'],
    ['a build a rerun would repeat', 'CREATE INDEX CONCURRENTLY readings_v ON readings (v);'],
    ['a concurrent build on a partitioned parent', 'CREATE INDEX CONCURRENTLY IF NOT EXISTS parts_k ON ONLY parts (k);'],
    ['a drop that locks the table', 'DROP INDEX IF EXISTS readings_v;'],
    ['a data change', 'UPDATE readings SET v = 0;'],
    ['a table change', 'ALTER TABLE readings ADD COLUMN w int;'],
  ])('refuses %s, naming the migration and the statement', (_what, statement) => {
    expect(() => onlineStatements('0002_bad', `-- yunying:online\n${statement}`)).toThrow(/online migration 0002_bad: ".+" cannot run online/);
  });

  it('refuses a file with no statement', () => {
    expect(() => onlineStatements('0003_empty', '-- yunying:online\n-- nothing\n')).toThrow(/has no statements/);
  });

  it('runs without CONCURRENTLY inside a fresh schema\'s transaction', () => {
    const forms = onlineStatements('0001_recipe', recipe).map(inTransactionForm);
    expect(forms).toEqual([
      'CREATE INDEX IF NOT EXISTS parts_k ON ONLY parts (k)',
      'CREATE INDEX IF NOT EXISTS parts_h0_k ON parts_h0 (k)',
      'ALTER INDEX parts_k ATTACH PARTITION parts_h0_k',
      'DROP INDEX IF EXISTS parts_old',
      'CREATE UNIQUE INDEX IF NOT EXISTS readings_v ON readings (v) WHERE v > 0',
      'ANALYZE parts',
    ]);
  });
});
