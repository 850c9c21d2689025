/**
 * The triage service's catalog reads and writes. A result is keyed by (study, model id, model version,
 * instances seen): inserted with ON CONFLICT DO NOTHING, so two runs of one job store one row.
 *
 * "Instances seen" counts the study's current instances that are not Structured Reports: the SR this
 * service writes back (and any SR a device sends) is an arrival, but never a reason to triage again.
 */
import type { ClinicScopeRule } from '@yunying/nodule-model';
import { readStudyHeader, type Pool, type PoolClient, type StudyHeader } from '@yunying/catalog';

/** PS3.4 B.5: every SR storage SOP class (Basic Text, Enhanced, Comprehensive, Key Object, ...) is under this root. */
export const SR_SOP_CLASS_ROOT = '1.2.840.10008.5.1.4.1.1.88.';
export const SEGMENTATION_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.66.4';
/**
 * Instances that count as the study's images: not an SR and not a SEG, so the objects triage writes
 * back (the TID 1500 report, the nodule SEGs) and signed report SRs never re-trigger triage.
 */
const NOT_DERIVED = `i.sop_class_uid NOT LIKE '${SR_SOP_CLASS_ROOT}%' AND i.sop_class_uid <> '${SEGMENTATION_SOP_CLASS}'`;

export type ResultStatus = 'triaged' | 'no_nodule_found' | 'not_triaged' | 'failed';
export type Priority = 'urgent' | 'priority' | 'routine';

export interface StudyActivity {
  studyRef: string;
  clinicId: string;
  /** Current non-SR instances. */
  instanceCount: number;
  /** Latest arrival among them (null when the study has none). */
  lastArrival: Date | null;
}

export interface StoredInstance {
  sopInstanceUid: string;
  seriesInstanceUid: string;
  sopClassUid: string;
  modality: string | null;
  objectKey: string;
  sizeBytes: number;
}

export interface ResultKey {
  studyRef: string;
  modelId: string;
  modelVersion: string;
  instanceCount: number;
}

export interface NewResult extends ResultKey {
  modelSha256: string;
  status: ResultStatus;
  reason: string | null;
  score: number | null;
  category: string | null;
  priority: Priority | null;
  thresholds: object;
  images: object[];
  timings: object;
  /** How the scope gate decided (attributes or image, the thyroid likelihood and the threshold). */
  gate: object | null;
}

export interface StoredResult extends NewResult {
  id: string;
  createdAt: Date;
  srSopInstanceUid: string | null;
}

export type { StudyHeader } from '@yunying/catalog';

type Db = Pool | PoolClient;

export async function studyActivity(db: Db, studyInstanceUid: string): Promise<StudyActivity | null> {
  const { rows } = await db.query<{ id: string; clinic_id: string; n: number; last: Date | null }>(
    `SELECT s.id, s.clinic_id, count(i.id)::int AS n, max(i.received_at) AS last
       FROM studies s LEFT JOIN instances i ON i.study_ref = s.id AND i.is_current AND ${NOT_DERIVED}
      WHERE s.study_instance_uid = $1 GROUP BY s.id`,
    [studyInstanceUid],
  );
  const row = rows[0];
  return row ? { studyRef: row.id, clinicId: row.clinic_id, instanceCount: row.n, lastArrival: row.last } : null;
}

export async function currentInstances(db: Db, studyRef: string): Promise<StoredInstance[]> {
  const { rows } = await db.query<{ sop_instance_uid: string; series_instance_uid: string; sop_class_uid: string; modality: string | null; object_key: string; size_bytes: string }>(
    `SELECT i.sop_instance_uid, se.series_instance_uid, i.sop_class_uid, se.modality, o.object_key, i.size_bytes
       FROM instances i JOIN series se ON se.id = i.series_ref JOIN objects o ON o.sha256 = i.sha256
      WHERE i.study_ref = $1 AND i.is_current AND ${NOT_DERIVED}
      ORDER BY se.series_number NULLS LAST, i.instance_number NULLS LAST, i.sop_instance_uid`,
    [studyRef],
  );
  return rows.map((r) => ({ sopInstanceUid: r.sop_instance_uid, seriesInstanceUid: r.series_instance_uid, sopClassUid: r.sop_class_uid, modality: r.modality, objectKey: r.object_key, sizeBytes: Number(r.size_bytes) }));
}

interface ResultRow {
  id: string;
  study_ref: string;
  model_id: string;
  model_version: string;
  model_sha256: string;
  instance_count: number;
  status: ResultStatus;
  reason: string | null;
  score: number | null;
  category: string | null;
  priority: Priority | null;
  thresholds: object | null;
  images: object[];
  timings: object | null;
  gate: object | null;
  created_at: Date;
  sr_sop_instance_uid: string | null;
}

function toResult(r: ResultRow): StoredResult {
  return {
    id: r.id,
    studyRef: r.study_ref,
    modelId: r.model_id,
    modelVersion: r.model_version,
    modelSha256: r.model_sha256,
    instanceCount: r.instance_count,
    status: r.status,
    reason: r.reason,
    score: r.score,
    category: r.category,
    priority: r.priority,
    thresholds: r.thresholds ?? {},
    images: r.images,
    timings: r.timings ?? {},
    gate: r.gate,
    createdAt: r.created_at,
    srSopInstanceUid: r.sr_sop_instance_uid,
  };
}

export async function findResult(db: Db, key: ResultKey): Promise<StoredResult | null> {
  const { rows } = await db.query<ResultRow>(
    'SELECT * FROM ai_results WHERE study_ref = $1 AND model_id = $2 AND model_version = $3 AND instance_count = $4',
    [key.studyRef, key.modelId, key.modelVersion, key.instanceCount],
  );
  const row = rows[0];
  return row ? toResult(row) : null;
}

/** Stores the result unless one with the same key exists; returns the stored row and whether it is this one. */
export async function insertResult(db: Db, r: NewResult): Promise<{ result: StoredResult; inserted: boolean }> {
  const { rows } = await db.query<ResultRow>(
    `INSERT INTO ai_results (study_ref, model_id, model_version, model_sha256, instance_count, status, reason, score, category, priority, thresholds, images, timings, gate)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     ON CONFLICT (study_ref, model_id, model_version, instance_count) DO NOTHING RETURNING *`,
    [
      r.studyRef,
      r.modelId,
      r.modelVersion,
      r.modelSha256,
      r.instanceCount,
      r.status,
      r.reason,
      r.score,
      r.category,
      r.priority,
      JSON.stringify(r.thresholds),
      JSON.stringify(r.images),
      JSON.stringify(r.timings),
      r.gate === null ? null : JSON.stringify(r.gate),
    ],
  );
  const row = rows[0];
  if (row) return { result: toResult(row), inserted: true };
  const existing = await findResult(db, r);
  if (!existing) throw new Error('ai_results row vanished after a conflicting insert');
  return { result: existing, inserted: false };
}

/**
 * Puts the result on the study for the reading queue. Only a study still waiting to be read changes
 * (reading_status 'new' or 'triaged'), and never back to an older result (fewer instances seen). The
 * priority moves only with a 'triaged' result: a study that could not be triaged keeps its priority.
 */
export async function applyToStudy(db: Db, result: StoredResult): Promise<boolean> {
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

export async function setResultSr(db: Db, resultId: string, sopInstanceUid: string): Promise<void> {
  await db.query('UPDATE ai_results SET sr_sop_instance_uid = $2 WHERE id = $1', [resultId, sopInstanceUid]);
}

export async function studyHeader(db: Db, studyRef: string): Promise<StudyHeader | null> {
  return (await readStudyHeader(db, studyRef))?.header ?? null;
}

export interface UntriagedStudy {
  studyInstanceUid: string;
  instanceCount: number;
}

/**
 * Stable studies (last arrival older than the quiet period, within the lookback) that have at least one
 * non-SR instance and no result of this model for their current instance count. The lookback keeps
 * the pass cheap and stops a new model version from re-triaging the whole archive.
 */
export async function untriagedStableStudies(
  db: Db,
  options: { quietSeconds: number; lookbackSeconds: number; modelId: string; modelVersion: string; limit: number },
): Promise<UntriagedStudy[]> {
  const { rows } = await db.query<{ study_instance_uid: string; n: number }>(
    `SELECT s.study_instance_uid, c.n
       FROM studies s
       CROSS JOIN LATERAL (SELECT count(*)::int AS n, max(i.received_at) AS last FROM instances i
                            WHERE i.study_ref = s.id AND i.is_current AND ${NOT_DERIVED}) c
      WHERE s.last_instance_at > now() - make_interval(secs => $2)
        AND c.n > 0 AND c.last < now() - make_interval(secs => $1)
        AND NOT EXISTS (SELECT 1 FROM ai_results r WHERE r.study_ref = s.id AND r.model_id = $3 AND r.model_version = $4 AND r.instance_count = c.n)
      ORDER BY s.last_instance_at
      LIMIT $5`,
    [options.quietSeconds, options.lookbackSeconds, options.modelId, options.modelVersion, options.limit],
  );
  return rows.map((r) => ({ studyInstanceUid: r.study_instance_uid, instanceCount: r.n }));
}

/** A clinic's own protocol-name mapping for the scope gate (triage_scope_rules). */
export async function clinicScopeRules(db: Db, clinicId: string): Promise<ClinicScopeRule[]> {
  const { rows } = await db.query<{ pattern: string; scope: 'thyroid' | 'other' }>(
    'SELECT pattern, scope FROM triage_scope_rules WHERE clinic_id = $1 ORDER BY length(pattern) DESC, pattern',
    [clinicId],
  );
  return rows;
}
