import type { CatalogReader } from '@yunying/catalog';
import type { DicomJsonObject, FrameLocation } from '@yunying/dicom';
import { addClinicFilter, type Principal } from '@yunying/auth';

/**
 * The current version of each instance (is_current) with where its object is: what WADO-RS (viewer) and
 * C-GET / C-MOVE (ingest's DICOM port) read, so both retrieve paths see the same instances under the same
 * tenancy rule.
 */
export interface InstanceRow {
  clinicId: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  transferSyntaxUid: string;
  objectKey: string;
  sizeBytes: number;
  numberOfFrames: number | null;
  rows: number | null;
  columns: number | null;
  photometric: string | null;
  /** Only when asked for (they are large). */
  dicomJson: DicomJsonObject | null;
  frames: FrameLocation[] | null;
}

/** A single UID (WADO-RS paths) or a list of UIDs (a C-GET / C-MOVE Identifier, PS3.4 C.4.2.2.1). */
export type UidMatch = string | readonly string[];

/** A study, some of its series or some of its instances. */
export interface StudyScope {
  studyInstanceUid: UidMatch;
  seriesInstanceUid?: UidMatch;
  sopInstanceUid?: UidMatch;
  /** Patient Root retrieve: the Patient ID the instances' study must carry. */
  patientId?: string;
}

/** Every study of one patient (a Patient Root C-GET / C-MOVE at PATIENT level, PS3.4 C.6.1.1.2). */
export interface PatientScope {
  patientId: string;
  studyInstanceUid?: undefined;
  seriesInstanceUid?: undefined;
  sopInstanceUid?: undefined;
}

export type InstanceScope = StudyScope | PatientScope;

/** The WADO-RS name of the scope (one UID per level; always within one study). */
export type WadoScope = StudyScope;

function uidCondition(column: string, match: UidMatch, params: unknown[]): string {
  params.push(typeof match === 'string' ? match : [...match]);
  return typeof match === 'string' ? `${column} = $${params.length}` : `${column} = ANY($${params.length}::text[])`;
}

/**
 * The instances of a study, series or single instance that the caller may see. The clinic check is in
 * the WHERE clause: a study of a clinic the caller is not granted yields no rows, exactly like a study
 * that does not exist (both become 404).
 */
export async function findInstances(
  pool: CatalogReader,
  principal: Principal,
  scope: InstanceScope,
  include: { json?: boolean; frames?: boolean } = {},
): Promise<InstanceRow[]> {
  const params: unknown[] = [];
  // Never an unbounded scope: a patient scope without a Patient ID would match every study the caller sees.
  if (scope.studyInstanceUid === undefined && (typeof scope.patientId !== 'string' || scope.patientId === '')) throw new Error('instance scope names neither a study nor a patient');
  const where = ['i.is_current', addClinicFilter(principal, 's.clinic_id', params)];
  if (scope.studyInstanceUid !== undefined) where.push(uidCondition('s.study_instance_uid', scope.studyInstanceUid, params));
  if (scope.seriesInstanceUid !== undefined) where.push(uidCondition('se.series_instance_uid', scope.seriesInstanceUid, params));
  if (scope.sopInstanceUid !== undefined) where.push(uidCondition('i.sop_instance_uid', scope.sopInstanceUid, params));
  if (scope.patientId !== undefined) {
    params.push(scope.patientId);
    where.push(`s.patient_id = $${params.length}`);
  }
  const { rows } = await pool.query<InstanceRow>(
    `SELECT s.clinic_id AS "clinicId", s.study_instance_uid AS "studyInstanceUid", se.series_instance_uid AS "seriesInstanceUid",
        i.sop_instance_uid AS "sopInstanceUid", i.sop_class_uid AS "sopClassUid", i.transfer_syntax_uid AS "transferSyntaxUid",
        o.object_key AS "objectKey", i.size_bytes::float8 AS "sizeBytes", i.number_of_frames AS "numberOfFrames", i.rows AS "rows",
        i.columns AS "columns", i.photometric AS "photometric",
        ${include.json === true ? 'i.dicom_json' : 'NULL::jsonb'} AS "dicomJson", ${include.frames === true ? 'i.frames' : 'NULL::jsonb'} AS "frames"
     FROM instances i JOIN series se ON se.id = i.series_ref JOIN studies s ON s.id = i.study_ref JOIN objects o ON o.sha256 = i.sha256
     WHERE ${where.join(' AND ')}
     ORDER BY s.id, se.series_number NULLS LAST, se.id, i.instance_number NULLS LAST, i.id`,
    params,
  );
  return rows;
}
