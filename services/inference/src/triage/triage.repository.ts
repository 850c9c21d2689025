/**
 * The triage service's catalog reads. Its results are written through @yunying/catalog's ai-results.repository
 * (the one ai_results writer, which tests use too), keyed by (study, model id, model version, instances seen).
 *
 * "Instances seen" counts the study's current instances that are not Structured Reports: the SR this
 * service writes back (and any SR a device sends) is an arrival, but never a reason to triage again.
 */
import type { AiPriority, ClinicScopeRule } from '@yunying/nodule-model';
import { kyselyOn, readStudyHeader, sql, type Pool, type PoolClient, type StudyHeader } from '@yunying/catalog';
import type { DicomJsonObject } from '@yunying/dicom';

/** PS3.4 B.5: every SR storage SOP class (Basic Text, Enhanced, Comprehensive, Key Object, ...) is under this root. */
export const SR_SOP_CLASS_ROOT = '1.2.840.10008.5.1.4.1.1.88.';
export const SEGMENTATION_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.66.4';
/**
 * Instances that count as the study's images: not an SR and not a SEG, so the objects triage writes
 * back (the TID 1500 report, the nodule SEGs) and signed report SRs never re-trigger triage.
 */
const NOT_DERIVED = `i.sop_class_uid NOT LIKE '${SR_SOP_CLASS_ROOT}%' AND i.sop_class_uid <> '${SEGMENTATION_SOP_CLASS}'`;

/** The wire contract's priority (@yunying/nodule-model ai-result.view.ts), shared with the viewer and the web app. */
export type Priority = AiPriority;

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


type Db = Pool | PoolClient;

export async function studyActivity(db: Db, studyInstanceUid: string): Promise<StudyActivity | null> {
  const row = await kyselyOn(db)
    .selectFrom('studies as s')
    .leftJoin('instances as i', (join) => join.onRef('i.studyRef', '=', 's.id').on('i.isCurrent', '=', true).on(sql.raw<boolean>(NOT_DERIVED)))
    .select(['s.id as studyRef', 's.clinicId', sql<number>`count(i.id)::int`.as('instanceCount'), sql<Date | null>`max(i.received_at)`.as('lastArrival')])
    .where('s.studyInstanceUid', '=', studyInstanceUid)
    .groupBy('s.id')
    .executeTakeFirst();
  return row ?? null;
}

export async function currentInstances(db: Db, studyRef: string): Promise<StoredInstance[]> {
  const rows = await kyselyOn(db)
    .selectFrom('instances as i')
    .innerJoin('series as se', 'se.id', 'i.seriesRef')
    .innerJoin('objects as o', 'o.sha256', 'i.sha256')
    .select(['i.sopInstanceUid', 'se.seriesInstanceUid', 'i.sopClassUid', 'se.modality', 'o.objectKey', 'i.sizeBytes'])
    .where('i.studyRef', '=', studyRef)
    .where('i.isCurrent', '=', true)
    .where(sql.raw<boolean>(NOT_DERIVED))
    .orderBy(sql`se.series_number NULLS LAST`)
    .orderBy(sql`i.instance_number NULLS LAST`)
    .orderBy('i.sopInstanceUid')
    .execute();
  return rows.map((r) => ({ ...r, sizeBytes: Number(r.sizeBytes) }));
}

export async function studyHeader(db: Db, studyRef: string): Promise<StudyHeader | null> {
  return (await readStudyHeader(db, studyRef))?.header ?? null;
}

/** The clinic the study belongs to (the AI objects are stored as it); null when the study is gone. */
export async function studyClinic(db: Db, studyRef: string): Promise<string | null> {
  const row = await kyselyOn(db).selectFrom('studies').select('clinicId').where('id', '=', studyRef).executeTakeFirst();
  return row?.clinicId ?? null;
}

/** The stored DICOM JSON of the study's current instances among `sopInstanceUids`, by SOP Instance UID. */
export async function currentDicomJson(db: Db, studyRef: string, sopInstanceUids: readonly string[]): Promise<Map<string, DicomJsonObject>> {
  const rows = await kyselyOn(db)
    .selectFrom('instances')
    .select(['sopInstanceUid', 'dicomJson'])
    .where('studyRef', '=', studyRef)
    .where('isCurrent', '=', true)
    .where('sopInstanceUid', '=', sql<string>`ANY(${[...sopInstanceUids]}::text[])`)
    .execute();
  // The write path stores each instance's DICOM JSON model (PS3.18 F.2) as an object of attributes.
  return new Map(rows.map((r) => [r.sopInstanceUid, r.dicomJson as unknown as DicomJsonObject]));
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
  const rows = await kyselyOn(db)
    .selectFrom('triageScopeRules')
    .select(['pattern', 'scope'])
    .where('clinicId', '=', clinicId)
    .orderBy(sql`length(pattern) DESC`)
    .orderBy('pattern')
    .execute();
  // The scope as the table's CHECK holds it (migration 1400).
  return rows.map((r) => {
    if (r.scope !== 'thyroid' && r.scope !== 'other') throw new Error(`triage_scope_rules ${r.pattern}: unknown scope ${r.scope}`);
    return { pattern: r.pattern, scope: r.scope };
  });
}
