import type { CatalogReader } from '@yunying/catalog';
import type { DicomJsonObject } from '@yunying/dicom';
import { addClinicFilter, type Principal } from '@yunying/auth';
import type { QidoLevel } from './qido.attributes';
import { allColumns, type QidoRequest } from './qido.query';

export interface QidoRow {
  /** Column attributes by tag (aliases in the SELECT). */
  [tag: string]: unknown;
  /** Attributes from dicom_json (the instance's, or a representative instance's at study/series level). */
  extra: DicomJsonObject | null;
}

const FROM: Record<QidoLevel, string> = {
  study: 'studies s',
  series: 'series se JOIN studies s ON s.id = se.study_ref',
  instance: 'instances i JOIN series se ON se.id = i.series_ref JOIN studies s ON s.id = i.study_ref',
};

// Newest study first (stable for paging: ids never change); series and instances in their numbered order.
const ORDER: Record<QidoLevel, string> = {
  study: 's.id DESC',
  series: 's.id DESC, se.series_number NULLS LAST, se.id',
  instance: 's.id DESC, se.series_number NULLS LAST, se.id, i.instance_number NULLS LAST, i.id',
};

/** Where extra attributes come from at each level: the instance itself, else the first current instance. */
const JSON_SOURCE: Record<QidoLevel, string> = {
  study: '(SELECT ri.dicom_json FROM instances ri WHERE ri.study_ref = s.id AND ri.is_current ORDER BY ri.id LIMIT 1)',
  series: '(SELECT ri.dicom_json FROM instances ri WHERE ri.series_ref = se.id AND ri.is_current ORDER BY ri.id LIMIT 1)',
  instance: 'i.dicom_json',
};

/**
 * Runs one QIDO-RS query. The tenancy filter is part of the WHERE clause, so rows of clinics the caller
 * is not granted never leave the database (#7), and `limit + 1` rows are fetched to know whether more
 * exist. `extraTags`: tags to take from dicom_json, or 'all' for the whole of it (instance level).
 */
export async function runQidoQuery(reads: CatalogReader, principal: Principal, request: QidoRequest, extraTags: string[] | 'all'): Promise<QidoRow[]> {
  const params = [...request.params];
  // A disposed study is a tombstone kept for the audit trail (#8), not something to show.
  const where = [...request.where, addClinicFilter(principal, 's.clinic_id', params), 's.disposed_at IS NULL'];
  if (request.level === 'instance') where.push('i.is_current');
  const columns = allColumns(request.level).map((a) => `${a.sql} AS "${a.tag}"`);
  let extra = 'NULL::jsonb';
  if (extraTags === 'all') {
    extra = JSON_SOURCE[request.level];
  } else if (extraTags.length > 0) {
    params.push(extraTags);
    extra = `(SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(${JSON_SOURCE[request.level]}) e WHERE e.key = ANY($${params.length}::text[]))`;
  }
  params.push(request.limit + 1, request.offset);
  const sql = `SELECT ${columns.join(', ')}, ${extra} AS extra FROM ${FROM[request.level]}
    WHERE ${where.join(' AND ')}
    ORDER BY ${ORDER[request.level]} LIMIT $${params.length - 1} OFFSET $${params.length}`;
  const { rows } = await reads.query<QidoRow>(sql, params);
  return rows;
}
