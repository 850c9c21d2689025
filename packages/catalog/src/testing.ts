import type { AiPriority, AiScoredImageView } from '@yunying/nodule-model/ai-result-view';
import { applyAiResultToStudy, insertAiResult } from './ai-results.repository';
import { copyMigratedCatalog } from './catalog-copies';
import { createPool, type Pool, type QueryResultRow } from './database';
import type { QueryRunner } from './typed/kysely';

export { copyMigratedCatalog, type CatalogCopy } from './catalog-copies';

export interface TestCatalog {
  pool: Pool;
  schema: string;
  url: string;
  /** Closes the pool and drops the catalog's database. */
  drop: () => Promise<void>;
}

/** The Postgres URL tests use: TEST_DATABASE_URL, else the local server's `test` database. */
export function testDatabaseUrl(): string {
  return process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
}

/**
 * A fresh, fully migrated catalog of its own for one test file (or test), so test files run in parallel against
 * one real PostgreSQL without seeing each other's rows: a database of its own, copied from a migrated template
 * (catalog-copies.ts), with a schema named `<prefix>_<random>`. `url` names that database.
 */
export async function createTestCatalog(prefix = 't'): Promise<TestCatalog> {
  const copy = await copyMigratedCatalog(testDatabaseUrl(), prefix);
  const pool = createPool({ url: copy.url, schema: copy.schema, poolSize: 5, applicationName: 'yunying-test' });
  return {
    pool,
    schema: copy.schema,
    url: copy.url,
    drop: async () => {
      await pool.end();
      await copy.dropDatabase();
    },
  };
}

/** One node of a plan as EXPLAIN (ANALYZE, FORMAT JSON) gives it ('Actual Rows' is per loop). */
export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows': number;
  Plans?: PlanNode[];
}

/**
 * A query runner that runs each statement twice: first under EXPLAIN (ANALYZE, FORMAT JSON), keeping the plan
 * PostgreSQL ran, then for real, returning its result. For tests that hold a query's cost to what it reads
 * (rows per scan), not to a clock.
 */
export function planRecorder(pool: Pool): { runner: QueryRunner; plans: PlanNode[] } {
  const plans: PlanNode[] = [];
  const runner: QueryRunner = {
    query: async <R extends QueryResultRow>(text: string, values?: unknown[]) => {
      const { rows } = await pool.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, values);
      const plan = rows[0]?.['QUERY PLAN'][0].Plan;
      if (plan) plans.push(plan);
      return pool.query<R>(text, values);
    },
  };
  return { runner, plans };
}

/** Every node of a plan that reads `table`. */
export function scansOf(node: PlanNode, table: string): PlanNode[] {
  const own = node['Relation Name'] === table ? [node] : [];
  return [...own, ...(node.Plans ?? []).flatMap((child) => scansOf(child, table))];
}

/** The queue priority triage gives a triage level (services/inference/src/triage/result.ts priorityFor). */
const PRIORITY_OF_LEVEL: Readonly<Record<string, AiPriority>> = { urgent: 'urgent', flagged: 'priority', routine: 'routine' };

/**
 * Stores a 'triaged' AI result of the study as the triage worker does: through the ai_results writer, then put on
 * the study (priority, triage and reading status, ai_result_ref). The result's score, category and priority are
 * those of images[0] (scoredImage from @yunying/nodule-model/testing builds one). Returns the result's id. Tests
 * use this rather than insert the AI result they check by hand (#19).
 */
export async function storeTriagedResult(pool: Pool, studyInstanceUid: string, result: { instanceCount: number; images: AiScoredImageView[] }): Promise<string> {
  const top = result.images[0];
  if (!top) throw new Error('a triaged result has a scored image');
  const priority = PRIORITY_OF_LEVEL[top.category];
  if (!priority) throw new Error(`no triage level ${top.category}`);
  const { rows } = await pool.query<{ id: string }>('SELECT id::text FROM studies WHERE study_instance_uid = $1', [studyInstanceUid]);
  const studyRef = rows[0]?.id;
  if (studyRef === undefined) throw new Error('no such study');
  const { result: stored } = await insertAiResult(pool, {
    studyRef,
    modelId: 'thyroid-nodule',
    modelVersion: 'test',
    modelSha256: 'a'.repeat(64),
    instanceCount: result.instanceCount,
    status: 'triaged',
    reason: null,
    score: top.score,
    category: top.category,
    priority,
    thresholds: { triage: { value: 0.5, rule: 'test' }, urgent: { value: 0.9, rule: 'test' }, gate: { value: 0.5, rule: 'test' } },
    images: result.images,
    timings: { totalMs: 5, inferenceMs: 5 },
    gate: { decidedBy: 'attributes', evidence: 'BodyPartExamined THYROID', thyroid: 0.95, threshold: 0.5 },
  });
  await applyAiResultToStudy(pool, stored);
  return stored.id;
}
