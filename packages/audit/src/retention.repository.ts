import type { Pool } from '@yunying/catalog';
import { addClinicFilter, type Principal } from '@yunying/auth';

/**
 * Retention status read from the catalog tables of migration 0001 (studies, instances, objects, copies).
 * A study's "copies present" is the weakest of its current instances' objects: the number of its copies in
 * state ok, out of the 3 required. It is at risk when any of these holds (the `risks` codes):
 *   copies-missing        fewer than 3 ok copies of some object (or no stored object at all);
 *   verification-stale    a copy not verified since `staleBefore` (a copy's write counts as its first check);
 *   copy-retention-short  a copy locked for less time than the study's retain-until;
 *   retention-below-policy  the study's retain-until is earlier than received + the clinic's retention years;
 *   copy-unlocked         a copy with lock mode NONE.
 * The status is computed on read; for archives with millions of instances a per-study status table kept by
 * the scrubber would replace the first two CTEs.
 */
export type RetentionRisk = 'copies-missing' | 'verification-stale' | 'copy-retention-short' | 'retention-below-policy' | 'copy-unlocked';

export interface StudyRetention {
  studyInstanceUid: string;
  clinicId: string;
  clinicCode: string;
  instances: number;
  objects: number;
  copiesPresent: number;
  copiesRequired: number;
  lastVerifiedAt: Date | null;
  retainUntil: Date;
  copiesRetainUntil: Date | null;
  lockModes: string[];
  legalHold: boolean;
  receivedAt: Date;
  atRisk: boolean;
  risks: RetentionRisk[];
}

export interface ClinicRetention {
  clinicId: string;
  clinicCode: string;
  clinicName: string;
  retentionYears: number;
  studies: number;
  studiesAtRisk: number;
  minCopiesPresent: number | null;
  oldestVerificationAt: Date | null;
  earliestRetainUntil: Date | null;
  legalHolds: number;
}

export interface RetentionFilter {
  clinicId?: string;
  studyInstanceUid?: string;
  atRiskOnly?: boolean;
  /** Copies verified before this are stale. */
  staleBefore: Date;
}

export const COPIES_REQUIRED = 3;

function studyStatusSql(principal: Principal, filter: RetentionFilter, params: unknown[]): string {
  params.push(filter.staleBefore);
  const stale = `$${params.length}`;
  const where = [addClinicFilter(principal, 's.clinic_id', params)];
  if (filter.clinicId !== undefined) {
    params.push(filter.clinicId);
    where.push(`s.clinic_id = $${params.length}::uuid`);
  }
  if (filter.studyInstanceUid !== undefined) {
    params.push(filter.studyInstanceUid);
    where.push(`s.study_instance_uid = $${params.length}`);
  }
  return `
  per_object AS (
    SELECT i.study_ref, i.sha256, count(c.id) FILTER (WHERE c.state = 'ok') AS ok_copies
      FROM instances i LEFT JOIN copies c ON c.sha256 = i.sha256
     WHERE i.is_current
     GROUP BY i.study_ref, i.sha256
  ),
  per_study_objects AS (
    SELECT study_ref, count(*)::int AS objects, min(ok_copies)::int AS min_ok FROM per_object GROUP BY study_ref
  ),
  per_study_copies AS (
    SELECT i.study_ref, min(coalesce(c.last_verified_at, c.created_at)) AS oldest_verified,
           min(c.retain_until) AS copies_retain_until, array_agg(DISTINCT c.lock_mode ORDER BY c.lock_mode) AS lock_modes
      FROM instances i JOIN copies c ON c.sha256 = i.sha256
     WHERE i.is_current
     GROUP BY i.study_ref
  ),
  base AS (
    SELECT s.id, s.study_instance_uid, s.clinic_id::text AS clinic_id, cl.code AS clinic_code, s.number_of_instances,
           s.received_at, s.retain_until, s.legal_hold, cl.retention_years,
           coalesce(o.objects, 0) AS objects, coalesce(o.min_ok, 0) AS copies_ok,
           c.oldest_verified, c.copies_retain_until, coalesce(c.lock_modes, '{}') AS lock_modes
      FROM studies s
      JOIN clinics cl ON cl.id = s.clinic_id
      LEFT JOIN per_study_objects o ON o.study_ref = s.id
      LEFT JOIN per_study_copies c ON c.study_ref = s.id
     WHERE ${where.join(' AND ')}
  ),
  study_status AS (
    SELECT b.*, array_remove(ARRAY[
             CASE WHEN b.copies_ok < ${COPIES_REQUIRED} OR b.objects = 0 THEN 'copies-missing' END,
             CASE WHEN b.oldest_verified < ${stale} THEN 'verification-stale' END,
             CASE WHEN b.copies_retain_until < b.retain_until THEN 'copy-retention-short' END,
             CASE WHEN b.retain_until < b.received_at + make_interval(years => b.retention_years) THEN 'retention-below-policy' END,
             CASE WHEN 'NONE' = ANY(b.lock_modes) THEN 'copy-unlocked' END
           ], NULL) AS risks
      FROM base b
  )`;
}

interface StudyStatusRow {
  study_instance_uid: string;
  clinic_id: string;
  clinic_code: string;
  number_of_instances: number;
  objects: number;
  copies_ok: number;
  oldest_verified: Date | null;
  retain_until: Date;
  copies_retain_until: Date | null;
  lock_modes: string[];
  legal_hold: boolean;
  received_at: Date;
  risks: RetentionRisk[];
}

function studyFromRow(r: StudyStatusRow): StudyRetention {
  return {
    studyInstanceUid: r.study_instance_uid,
    clinicId: r.clinic_id,
    clinicCode: r.clinic_code,
    instances: r.number_of_instances,
    objects: r.objects,
    copiesPresent: r.copies_ok,
    copiesRequired: COPIES_REQUIRED,
    lastVerifiedAt: r.oldest_verified,
    retainUntil: r.retain_until,
    copiesRetainUntil: r.copies_retain_until,
    lockModes: r.lock_modes,
    legalHold: r.legal_hold,
    receivedAt: r.received_at,
    atRisk: r.risks.length > 0,
    risks: r.risks,
  };
}

const STUDY_COLUMNS = `study_instance_uid, clinic_id, clinic_code, number_of_instances, objects, copies_ok, oldest_verified, retain_until,
  copies_retain_until, lock_modes, legal_hold, received_at, risks`;

/** Studies at risk first (fewest copies, then oldest verification), then the rest. Offset paging. */
export async function listStudyRetention(
  pool: Pool,
  principal: Principal,
  filter: RetentionFilter & { limit?: number; offset?: number },
): Promise<{ studies: StudyRetention[]; total: number; atRisk: number }> {
  const params: unknown[] = [];
  const ctes = studyStatusSql(principal, filter, params);
  const limit = Math.min(Math.max(filter.limit ?? 100, 1), 1000);
  const offset = Math.max(filter.offset ?? 0, 0);
  params.push(limit, offset);
  const { rows } = await pool.query<StudyStatusRow & { total: number; at_risk_total: number }>(
    `WITH ${ctes}
     SELECT ${STUDY_COLUMNS}, count(*) OVER ()::int AS total, count(*) FILTER (WHERE cardinality(risks) > 0) OVER ()::int AS at_risk_total
       FROM study_status
      ${filter.atRiskOnly ? 'WHERE cardinality(risks) > 0' : ''}
      ORDER BY cardinality(risks) > 0 DESC, copies_ok, oldest_verified NULLS FIRST, id
      LIMIT $${params.length - 1} OFFSET $${params.length}`,
    params,
  );
  return { studies: rows.map(studyFromRow), total: rows[0]?.total ?? 0, atRisk: rows[0]?.at_risk_total ?? 0 };
}

/** Every study's status in catalog order, a page at a time (CSV export). */
export async function* iterateStudyRetention(pool: Pool, principal: Principal, filter: RetentionFilter, pageSize = 1000): AsyncGenerator<StudyRetention> {
  let afterId = 0;
  for (;;) {
    const params: unknown[] = [];
    const ctes = studyStatusSql(principal, filter, params);
    params.push(afterId, pageSize);
    const { rows } = await pool.query<StudyStatusRow & { id: string }>(
      `WITH ${ctes} SELECT id, ${STUDY_COLUMNS} FROM study_status
        WHERE id > $${params.length - 1} ${filter.atRiskOnly ? 'AND cardinality(risks) > 0' : ''}
        ORDER BY id LIMIT $${params.length}`,
      params,
    );
    for (const row of rows) yield studyFromRow(row);
    const last = rows[rows.length - 1];
    if (!last || rows.length < pageSize) return;
    afterId = Number(last.id);
  }
}

export async function clinicRetentionSummary(pool: Pool, principal: Principal, filter: RetentionFilter): Promise<ClinicRetention[]> {
  const params: unknown[] = [];
  const ctes = studyStatusSql(principal, { ...filter, studyInstanceUid: undefined }, params);
  const clinicTenancy = addClinicFilter(principal, 'cl.id', params);
  let clinicWhere = clinicTenancy;
  if (filter.clinicId !== undefined) {
    params.push(filter.clinicId);
    clinicWhere += ` AND cl.id = $${params.length}::uuid`;
  }
  const { rows } = await pool.query<{
    clinic_id: string;
    code: string;
    name: string;
    retention_years: number;
    studies: number;
    at_risk: number;
    min_copies: number | null;
    oldest_verified: Date | null;
    earliest_retain_until: Date | null;
    legal_holds: number;
  }>(
    `WITH ${ctes}
     SELECT cl.id::text AS clinic_id, cl.code, cl.name, cl.retention_years,
            count(ss.id)::int AS studies, count(ss.id) FILTER (WHERE cardinality(ss.risks) > 0)::int AS at_risk,
            min(ss.copies_ok)::int AS min_copies, min(ss.oldest_verified) AS oldest_verified,
            min(ss.retain_until) AS earliest_retain_until, count(ss.id) FILTER (WHERE ss.legal_hold)::int AS legal_holds
       FROM clinics cl LEFT JOIN study_status ss ON ss.clinic_id = cl.id::text
      WHERE ${clinicWhere}
      GROUP BY cl.id
      ORDER BY count(ss.id) FILTER (WHERE cardinality(ss.risks) > 0) DESC, cl.code`,
    params,
  );
  return rows.map((r) => ({
    clinicId: r.clinic_id,
    clinicCode: r.code,
    clinicName: r.name,
    retentionYears: r.retention_years,
    studies: r.studies,
    studiesAtRisk: r.at_risk,
    minCopiesPresent: r.min_copies,
    oldestVerificationAt: r.oldest_verified,
    earliestRetainUntil: r.earliest_retain_until,
    legalHolds: r.legal_holds,
  }));
}
