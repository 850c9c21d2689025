/**
 * The writer of ai_results, shared by the triage worker (services/inference) and the tests that need a stored AI
 * result (services/viewer): one way a result gets into the catalog, so a test's result is stored as triage
 * stores it. A result is keyed by (study, model id, model version, instances seen): inserted with ON CONFLICT
 * DO NOTHING, so two runs of one job store one row.
 */
import { isAiPriority, isAiResultStatus, type AiImageView, type AiPriority, type AiResultStatus } from '@yunying/nodule-model/ai-result-view';
import type { Pool, PoolClient } from './database';
import { kyselyOn } from './typed/kysely';
import type { AiResultRow } from './typed/rows';

type Db = Pool | PoolClient;

export interface AiResultKey {
  studyRef: string;
  modelId: string;
  modelVersion: string;
  instanceCount: number;
}

export interface NewAiResult extends AiResultKey {
  modelSha256: string;
  status: AiResultStatus;
  reason: string | null;
  score: number | null;
  category: string | null;
  priority: AiPriority | null;
  thresholds: object;
  /** The wire contract's per-image entries: what the viewer serves and the web app draws. */
  images: AiImageView[];
  timings: object;
  /** How the scope gate decided (attributes or image, the thyroid likelihood and the threshold). */
  gate: object | null;
}

export interface StoredAiResult extends Omit<NewAiResult, 'images'> {
  /** As read back (results of earlier models may differ from AiImageView). */
  images: object[];
  id: string;
  createdAt: Date;
  srSopInstanceUid: string | null;
}

/**
 * Narrows a stored row to the result's own shape: the enums the check constraints hold, and the JSON documents
 * triage writes as objects (thresholds/timings were nullable before #13's results; read as empty).
 */
function toStoredAiResult(r: AiResultRow): StoredAiResult {
  if (!isAiResultStatus(r.status)) throw new Error(`ai_results ${r.id}: unknown status`);
  if (r.priority !== null && !isAiPriority(r.priority)) throw new Error(`ai_results ${r.id}: unknown priority`);
  return {
    id: r.id,
    studyRef: r.studyRef,
    modelId: r.modelId,
    modelVersion: r.modelVersion,
    modelSha256: r.modelSha256,
    instanceCount: r.instanceCount,
    status: r.status,
    reason: r.reason,
    score: r.score,
    category: r.category,
    priority: r.priority,
    thresholds: isJsonObject(r.thresholds) ? r.thresholds : {},
    images: Array.isArray(r.images) ? r.images.flatMap((i) => (isJsonObject(i) ? [i] : [])) : [],
    timings: isJsonObject(r.timings) ? r.timings : {},
    gate: isJsonObject(r.gate) ? r.gate : null,
    createdAt: r.createdAt,
    srSopInstanceUid: r.srSopInstanceUid,
  };
}

function isJsonObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export async function findAiResult(db: Db, key: AiResultKey): Promise<StoredAiResult | null> {
  const row = await kyselyOn(db)
    .selectFrom('aiResults')
    .selectAll()
    .where('studyRef', '=', key.studyRef)
    .where('modelId', '=', key.modelId)
    .where('modelVersion', '=', key.modelVersion)
    .where('instanceCount', '=', key.instanceCount)
    .executeTakeFirst();
  return row ? toStoredAiResult(row) : null;
}

/** Stores the result unless one with the same key exists; returns the stored row and whether it is this one. */
export async function insertAiResult(db: Db, r: NewAiResult): Promise<{ result: StoredAiResult; inserted: boolean }> {
  const row = await kyselyOn(db)
    .insertInto('aiResults')
    .values({
      studyRef: r.studyRef,
      modelId: r.modelId,
      modelVersion: r.modelVersion,
      modelSha256: r.modelSha256,
      instanceCount: r.instanceCount,
      status: r.status,
      reason: r.reason,
      score: r.score,
      category: r.category,
      priority: r.priority,
      // As JSON text: node-postgres would send a JavaScript array as a PostgreSQL array, not as jsonb.
      thresholds: JSON.stringify(r.thresholds),
      images: JSON.stringify(r.images),
      timings: JSON.stringify(r.timings),
      gate: r.gate === null ? null : JSON.stringify(r.gate),
    })
    .onConflict((oc) => oc.columns(['studyRef', 'modelId', 'modelVersion', 'instanceCount']).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (row) return { result: toStoredAiResult(row), inserted: true };
  const existing = await findAiResult(db, r);
  if (!existing) throw new Error('ai_results row vanished after a conflicting insert');
  return { result: existing, inserted: false };
}

/**
 * Puts the result on the study for the reading queue. Only a study still waiting to be read changes
 * (reading_status 'new' or 'triaged'), and never back to an older result (fewer instances seen). The
 * priority moves only with a 'triaged' result: a study that could not be triaged keeps its priority.
 */
export async function applyAiResultToStudy(db: Db, result: StoredAiResult): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE studies s SET
        triage_status = $2,
        priority = CASE WHEN $2 <> 'failed' THEN $3 ELSE s.priority END,
        ai_result_ref = $4,
        reading_status = CASE WHEN s.reading_status = 'new' THEN 'triaged' ELSE s.reading_status END
      WHERE s.id = $1 AND s.reading_status IN ('new', 'triaged')
        AND (s.ai_result_ref IS NULL OR s.ai_result_ref = $4
             OR (SELECT r.instance_count FROM ai_results r WHERE r.id = s.ai_result_ref) <= $5)`,
    [result.studyRef, result.status, result.priority ?? 'routine', result.id, result.instanceCount],
  );
  return (rowCount ?? 0) > 0;
}

/** Records the TID 1500 report SR triage wrote back for the result. */
export async function setAiResultSr(db: Db, resultId: string, sopInstanceUid: string): Promise<void> {
  await kyselyOn(db).updateTable('aiResults').set({ srSopInstanceUid: sopInstanceUid }).where('id', '=', resultId).execute();
}
