/**
 * Online migrations: index changes that must not stop ingest on a catalog of millions of studies.
 *
 * A plain `CREATE INDEX` holds a SHARE lock on its table for the whole build, and every insert queues behind it
 * (minutes on a 15-year catalog: every C-STORE and STOW-RS of every clinic waits). `CREATE INDEX CONCURRENTLY`
 * takes a lock that writers do not conflict with, but PostgreSQL refuses it inside a transaction block, cannot
 * use it on a partitioned table, and leaves an INVALID index behind when it fails. So a migration whose first line
 * is `-- yunying:online` is run differently (migrate.ts):
 *
 * - statement by statement outside a transaction, each of an idempotent form listed below, so a run that stopped
 *   half-way (a failure, a killed process) is resumed by running the whole file again;
 * - an index the file names that an interrupted concurrent build left INVALID is dropped (concurrently) first;
 * - on a partitioned table the index is made `ON ONLY` the parent (no rows), built concurrently on each
 *   partition and attached (`ALTER INDEX ... ATTACH PARTITION`), PostgreSQL's own recipe; `ON ONLY` on a plain
 *   table would build a blocking index and is refused when it runs;
 * - on a fresh, empty schema (every migration in one transaction) the same statements run in their plain form
 *   inside that transaction: there is nothing to build and nobody to block.
 *
 * Statements are split at `;`, with `--` comments removed: no `;` or `--` inside a statement.
 */
export const ONLINE_MARKER = /^--\s*yunying:online\b/;

const IDENT = '[a-z_][a-z0-9_]*';

/** One statement of an online migration, normalised to single spaces and without its `;`. */
export interface OnlineStatement {
  sql: string;
  /** The index it creates, when it creates one (`IF NOT EXISTS` skips it on a rerun). */
  createsIndex?: string;
  /** The table of an `ON ONLY` build: it must be partitioned. */
  onOnly?: string;
}

const FORMS: ReadonlyArray<{ pattern: RegExp; read: (match: RegExpMatchArray) => Partial<OnlineStatement> }> = [
  {
    // Built without blocking writes; never on a partitioned table (PostgreSQL refuses), hence not ON ONLY.
    pattern: new RegExp(`^create (?:unique )?index concurrently if not exists (${IDENT}) on (?!only )`, 'i'),
    read: (match) => ({ createsIndex: match[1] }),
  },
  {
    // The partitioned parent's index: catalog entries only, valid once every partition's index is attached.
    pattern: new RegExp(`^create (?:unique )?index if not exists (${IDENT}) on only (${IDENT}) `, 'i'),
    read: (match) => ({ createsIndex: match[1], onOnly: match[2] }),
  },
  { pattern: new RegExp(`^drop index concurrently if exists ${IDENT}$`, 'i'), read: () => ({}) },
  // Attaching an index that is already attached to the same parent does nothing: safe to rerun.
  { pattern: new RegExp(`^alter index ${IDENT} attach partition ${IDENT}$`, 'i'), read: () => ({}) },
  { pattern: new RegExp(`^analyze(?: ${IDENT})?$`, 'i'), read: () => ({}) },
];

/** True when the migration's first line marks it online. */
export function isOnlineMigration(sql: string): boolean {
  return ONLINE_MARKER.test(sql.trimStart());
}

/**
 * The statements of an online migration, each checked against the idempotent forms above. Throws, naming the
 * migration and the statement, when one is not of those forms (so a bad file stops the loader, not a half-run
 * upgrade).
 */
export function onlineStatements(name: string, sql: string): OnlineStatement[] {
  const code = sql
    .split('\n')
    .map((line) => line.replace(/--.*$/, ''))
    .join('\n');
  const statements = code
    .split(';')
    .map((text) => text.replace(/\s+/g, ' ').trim())
    .filter((text) => text.length > 0);
  if (statements.length === 0) throw new Error(`online migration ${name} has no statements`);
  return statements.map((text) => {
    for (const form of FORMS) {
      const match = text.match(form.pattern);
      if (match) return { sql: text, ...form.read(match) };
    }
    throw new Error(
      `online migration ${name}: "${text.slice(0, 80)}" cannot run online; it may hold only CREATE [UNIQUE] INDEX CONCURRENTLY IF NOT EXISTS, ` +
        'CREATE [UNIQUE] INDEX IF NOT EXISTS ... ON ONLY <partitioned table>, DROP INDEX CONCURRENTLY IF EXISTS, ALTER INDEX ... ATTACH PARTITION and ANALYZE',
    );
  });
}

/** The statement as it runs inside a fresh schema's single transaction: the same, without CONCURRENTLY. */
export function inTransactionForm(statement: OnlineStatement): string {
  return statement.sql.replace(/\bindex concurrently\b/i, 'INDEX');
}
