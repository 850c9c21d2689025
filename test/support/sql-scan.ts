/**
 * Where SQL is written outside a repository module (issue #19: "SQL only in repositories"). TypeScript's own
 * parser finds the string and template literals, so SQL in a comment or a name is not counted, and a
 * statement split over a template's `${...}` parts is read as one text. A query built with Kysely holds no SQL
 * text, so the parser also finds the query builder's entry points (`.selectFrom(` and the like) and Kysely's
 * `sql` tagged templates.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { tsFiles } from './import-graph';

/** The statement openings that make a literal SQL; keywords in capitals, as every query here is written. */
const STATEMENTS: readonly { name: string; pattern: RegExp }[] = [
  { name: 'SELECT', pattern: /\bSELECT\b/ },
  { name: 'INSERT INTO', pattern: /\bINSERT\s+INTO\b/ },
  { name: 'UPDATE … SET', pattern: /\bUPDATE\s+(ONLY\s+)?[\w."]+(\s+(AS\s+)?\w+)?\s+SET\b/ },
  { name: 'DELETE FROM', pattern: /\bDELETE\s+FROM\b/ },
  { name: 'WITH … AS (', pattern: /\bWITH\s+(RECURSIVE\s+)?[\w"]+(\s*\([\w\s,"]*\))?\s+AS\s+((NOT\s+)?MATERIALIZED\s+)?\(/ },
];

/**
 * Kysely's methods that start a query (on a Kysely instance, a transaction or a `.with(...)` chain). Read from
 * the syntax alone, without the type checker, so any object's method of that name counts: none of these names
 * means anything else in this code base.
 */
const QUERY_BUILDER_METHODS: ReadonlySet<string> = new Set(['selectFrom', 'insertInto', 'updateTable', 'deleteFrom', 'mergeInto', 'with', 'withRecursive']);

export interface SqlFinding {
  /** Repository-relative path. */
  file: string;
  /** 1-based line of the literal's start. */
  line: number;
  statement: string;
}

/** A template's text with each `${...}` as a placeholder, so `SELECT ${cols} FROM t` reads as one statement. */
function literalText(node: ts.Node): string | null {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isTemplateExpression(node)) return [node.head.text, ...node.templateSpans.map((s) => s.literal.text)].join(' $x ');
  return null;
}

/**
 * A query builder's method that starts a query, as `.selectFrom(`; null for any other call. `.with(` counts
 * only as Kysely writes it, a CTE's name (string) or a callback first, so that `array.with(index, value)`
 * (ES2023) is not taken for a query.
 */
function queryBuilderCall(node: ts.Node): { method: ts.Identifier | ts.PrivateIdentifier; statement: string } | null {
  if (!ts.isCallExpression(node) || !ts.isPropertyAccessExpression(node.expression)) return null;
  const method = node.expression.name.text;
  if (!QUERY_BUILDER_METHODS.has(method)) return null;
  if (method === 'with' || method === 'withRecursive') {
    const first = node.arguments[0];
    const cteLike = first !== undefined && (ts.isStringLiteralLike(first) || ts.isArrowFunction(first) || ts.isFunctionExpression(first));
    if (!cteLike) return null;
  }
  return { method: node.expression.name, statement: `.${method}(` };
}

/** Kysely's `sql` tag, as `` sql`...` `` or `` sql<boolean>`...` `` (the type argument is not part of the tag). */
function isSqlTag(node: ts.Node): boolean {
  return ts.isTaggedTemplateExpression(node) && ts.isIdentifier(node.tag) && node.tag.text === 'sql';
}

/**
 * The SQL written in `text`: statements in its string and template literals (comments are not looked at),
 * Kysely query builders started (`.selectFrom(` ...) and `sql` tagged templates.
 */
export function sqlInSource(fileName: string, text: string): Omit<SqlFinding, 'file'>[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: (Omit<SqlFinding, 'file'> & { at: number })[] = [];
  const note = (node: ts.Node, statement: string): void => {
    const at = node.getStart(source);
    found.push({ at, line: source.getLineAndCharacterOfPosition(at).line + 1, statement });
  };
  const visit = (node: ts.Node): void => {
    const builder = queryBuilderCall(node);
    // At the method's own line (`.selectFrom(` of a chain that starts lines above on `kyselyOn(db)`).
    if (builder !== null) note(builder.method, builder.statement);
    if (isSqlTag(node)) note(node, 'sql`…`');
    const literal = literalText(node);
    if (literal !== null) {
      const statement = STATEMENTS.find((s) => s.pattern.test(literal));
      if (statement) note(node, statement.name);
      // A template's `${...}` parts may hold literals of their own; they are visited below, not here.
      if (!ts.isTemplateExpression(node)) return;
      node.templateSpans.forEach((span) => visit(span.expression));
      return;
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  // In the order of the text: the walk meets a chain's outer call before the query it starts.
  return found.sort((a, b) => a.at - b.at).map(({ line, statement }) => ({ line, statement }));
}

/** Whose SQL is theirs to write: repository modules, and test code (which sets up and inspects the database). */
export function mayHoldSql(file: string): boolean {
  const name = path.basename(file);
  return name.endsWith('.repository.ts') || name.endsWith('.test.ts') || name === 'testing.ts';
}

/** Repository-relative paths of the non-test TypeScript sources under packages/*\/src and services/*\/src. */
export function sourceFiles(root: string): string[] {
  return ['packages', 'services']
    .flatMap((group) => {
      const groupDir = path.join(root, group);
      if (!fs.existsSync(groupDir)) return [];
      return fs.readdirSync(groupDir).flatMap((name) => tsFiles(path.join(groupDir, name, 'src')));
    })
    .map((file) => path.relative(root, file).split(path.sep).join('/'))
    .sort();
}

/** Every SQL statement in a non-repository source under `root`, files in `exempt` left out. */
export function sqlOutsideRepositories(root: string, exempt: ReadonlySet<string>): SqlFinding[] {
  return sourceFiles(root)
    .filter((file) => !mayHoldSql(file) && !exempt.has(file))
    .flatMap((file) => sqlInSource(file, fs.readFileSync(path.join(root, file), 'utf8')).map((f) => ({ file, ...f })));
}
