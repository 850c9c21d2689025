import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../support/processes';
import { mayHoldSql, sourceFiles, sqlInSource, sqlOutsideRepositories } from '../support/sql-scan';

/**
 * Issue #19, "SQL only in repositories": SQL is written in `*.repository.ts` modules (typed through the
 * generated catalog types where the tables are ours), so a query is found, reviewed and reused in one place.
 * "SQL" is a statement in a string or template literal, a Kysely query started (`.selectFrom(`, `.insertInto(`,
 * `.updateTable(`, `.deleteFrom(`, `.mergeInto(`, `.with(`) or a `sql` tagged template.
 * Test code and migrations (packages/catalog/migrations/*.sql, outside src/) write SQL of their own.
 */

/** Modules that must write SQL and cannot be repositories, each with its reason. */
const EXCEPTIONS: ReadonlyMap<string, string> = new Map([
  [
    'packages/catalog/src/migrate.ts',
    'the migration runner: applies the migrations and keeps schema_migrations under its advisory lock; it runs before any typed table exists',
  ],
  [
    'packages/catalog/src/typed/generate-types.ts',
    'reads information_schema to write database.types.ts: the generated types the repositories are typed with come from here',
  ],
  ['packages/catalog/src/typed/database.types.ts', 'generated (npm run generate-types); holds no SQL, listed so that it never has to'],
  [
    'packages/catalog/src/catalog-copies.ts',
    "test support (exported only through @yunying/catalog/testing, like testing.ts): creates, copies, renames and drops whole databases for the tests' catalogs, statements on the server rather than queries of the catalog's tables",
  ],
  [
    'packages/auth/src/clinic-scope.sql.ts',
    "a principal's clinic scope as a WHERE condition (sql`` for typed queries, text for the others); runs no query itself, and the repositories of every package compose this one tenancy condition rather than each writing its own",
  ],
]);

describe('SQL only in repositories (#19)', () => {
  it('finds no SQL statement in a non-repository source of packages/*/src or services/*/src', () => {
    const files = sourceFiles(REPO_ROOT);
    expect(files.length).toBeGreaterThan(300);
    const found = sqlOutsideRepositories(REPO_ROOT, new Set(EXCEPTIONS.keys()));
    // file:line and the statement, so a failure says where; move the query into a repository module.
    expect(found.map((f) => `${f.file}:${f.line} ${f.statement}`)).toEqual([]);
  });

  it('keeps no exception that is no longer needed', () => {
    const files = new Set(sourceFiles(REPO_ROOT));
    const stale = [...EXCEPTIONS.keys()].filter((file) => {
      if (!files.has(file)) return true;
      // The generated types are listed on principle, not because they hold SQL.
      return !file.endsWith('database.types.ts') && sqlInSource(file, fs.readFileSync(path.join(REPO_ROOT, file), 'utf8')).length === 0;
    });
    expect(stale).toEqual([]);
  });

  it('reads string and template literals only, statements in capitals, a template across its ${...} parts', () => {
    const source = [
      "// SELECT id FROM studies: a comment is not code",
      "/* DELETE FROM users */",
      "const a = 'SELECT 1';",
      'const b = `INSERT INTO audit_events (${columns}) VALUES ${rows}`;',
      "const c = \"UPDATE copies c SET state = 'bad' WHERE c.id = $1\";",
      'const d = `DELETE FROM x WHERE id = ${id}`;',
      'const e = `WITH recent AS (SELECT 1) SELECT * FROM recent`;',
      'const f = sql`WITH RECURSIVE t(n) AS (VALUES (1)) TABLE t`;',
      "const prose = 'Select a study, then update the report and set its status';",
      'const name = SELECT_LIMIT;',
    ].join('\n');
    expect(sqlInSource('x.ts', source)).toEqual([
      { line: 3, statement: 'SELECT' },
      { line: 4, statement: 'INSERT INTO' },
      { line: 5, statement: 'UPDATE … SET' },
      { line: 6, statement: 'DELETE FROM' },
      { line: 7, statement: 'SELECT' },
      { line: 8, statement: 'sql`…`' },
      { line: 8, statement: 'WITH … AS (' },
    ]);
  });

  it('finds Kysely queries started and sql tagged templates by the syntax, each on its own line', () => {
    const source = [
      'const a = await kyselyOn(db)',
      "  .selectFrom('studies')",
      "  .where('id', '=', id)",
      '  .execute();',
      "await db.insertInto('t').values(v).execute();",
      "await trx.updateTable('t').set(v).execute(); await trx.deleteFrom('t').execute();",
      "await db.mergeInto('t').using('u', 'u.id', 't.id').execute();",
      "await db.with('due', (q) => q.selectFrom('copies')).updateTable('copies').execute();",
      'const c = sql<boolean>`TRUE`;',
      'const d = sql`now()`;',
      '// db.selectFrom(\'studies\') in a comment',
      "const names = ['selectFrom', 'deleteFrom'];",
      'const e = items.with(0, first);',
      'const f = other`TRUE`;',
      'const g = selectFrom(table);',
      'const h = sql.raw(column);',
    ].join('\n');
    expect(sqlInSource('x.ts', source)).toEqual([
      { line: 2, statement: '.selectFrom(' },
      { line: 5, statement: '.insertInto(' },
      { line: 6, statement: '.updateTable(' },
      { line: 6, statement: '.deleteFrom(' },
      { line: 7, statement: '.mergeInto(' },
      { line: 8, statement: '.with(' },
      { line: 8, statement: '.selectFrom(' },
      { line: 8, statement: '.updateTable(' },
      { line: 9, statement: 'sql`…`' },
      { line: 10, statement: 'sql`…`' },
    ]);
  });

  it('leaves repositories and tests to write SQL, and names file:line elsewhere', () => {
    expect(['a/b.repository.ts', 'a/b.int.test.ts', 'a/b.test.ts', 'a/testing.ts'].map(mayHoldSql)).toEqual([true, true, true, true]);
    expect(['a/b.service.ts', 'a/repository.ts', 'a/b.repository.helper.ts'].map(mayHoldSql)).toEqual([false, false, false]);
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-sql-'));
    const write = (file: string, text: string): void => {
      fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      fs.writeFileSync(path.join(root, file), text);
    };
    write('packages/a/src/studies.service.ts', "import { q } from './studies.repository';\nexport const r = `SELECT ${q}`;\n");
    write('packages/a/src/studies.int.test.ts', "const q = 'DELETE FROM studies';\nawait db.deleteFrom('studies').execute();\n");
    write('services/b/src/deep/find.ts', "\n\nexport const f = 'x';\nconst g = 'SELECT 1';\n");
    write('services/b/src/deep/skip.ts', "const g = 'SELECT 1';\n");
    write('services/b/web/src/page.ts', "const g = 'SELECT 1';\n");
    write('packages/a/src/studies.repository.ts', "export const q = 'SELECT id FROM studies';\nexport const k = (db: Db) => db.selectFrom('studies');\n");
    write('packages/c/src/header.ts', "import { kyselyOn } from 'x';\n\nexport const h = (db: Db) =>\n  kyselyOn(db)\n    .selectFrom('studies')\n    .where(sql<boolean>`TRUE`);\n");
    try {
      expect(sqlOutsideRepositories(root, new Set(['services/b/src/deep/skip.ts']))).toEqual([
        { file: 'packages/a/src/studies.service.ts', line: 2, statement: 'SELECT' },
        { file: 'packages/c/src/header.ts', line: 5, statement: '.selectFrom(' },
        { file: 'packages/c/src/header.ts', line: 6, statement: 'sql`…`' },
        { file: 'services/b/src/deep/find.ts', line: 4, statement: 'SELECT' },
      ]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
