import type { QidoAttributes } from '@yunying/dicom';
import type { PoolClient, Pool } from './database';
import type { Selectable } from 'kysely';
import type { Clinics, Instances, Studies } from './typed/database.types';

/**
 * Catalog writes of the ingest path (ARCHITECTURE "The data path", step 4): one transaction per
 * instance writes patient, study, series, object, copies and instance rows. The caller opens the
 * transaction (so the audit event and the outbox job join it) and passes the client.
 */

export type ClinicPolicy = Pick<Selectable<Clinics>, 'id' | 'code' | 'retentionYears'>;

/** An instance version as the ingest path reads it back (the generated columns, camelCase in SQL: no mapper). */
type InstanceVersion = Pick<Selectable<Instances>, 'id' | 'version' | 'sha256' | 'datasetSha256' | 'clinicId' | 'studyRef' | 'isCurrent'>;

/** The stored instance a re-send is answered with. */
export interface SameInstance {
  clinicId: string;
  studyRef: string;
  instanceRef: string;
  version: number;
}

export async function findClinicById(db: Pool | PoolClient, clinicId: string): Promise<ClinicPolicy | null> {
  const { rows } = await db.query<ClinicPolicy>('SELECT id, code, retention_years AS "retentionYears" FROM clinics WHERE id = $1', [clinicId]);
  return rows[0] ?? null;
}

export async function findClinicByAeTitle(db: Pool | PoolClient, aeTitle: string): Promise<ClinicPolicy | null> {
  const { rows } = await db.query<ClinicPolicy>(
    `SELECT c.id, c.code, c.retention_years AS "retentionYears" FROM clinic_ae_titles a JOIN clinics c ON c.id = a.clinic_id WHERE a.ae_title = $1`,
    [aeTitle.trim()],
  );
  return rows[0] ?? null;
}

export interface StoredCopy {
  target: string;
  key: string;
  versionId: string | null;
  size: number;
  retainUntil: Date;
  lockMode: 'COMPLIANCE' | 'GOVERNANCE' | 'FS_READONLY';
}

export interface FailedCopyRecord {
  target: string;
  reason: string;
}

export interface InstanceRecord {
  clinicId: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  transferSyntaxUid: string;
  /** The QIDO attributes parsed from the instance (packages/dicom). */
  attributes: Pick<
    QidoAttributes,
    | 'PatientName' | 'PatientID' | 'PatientBirthDate' | 'PatientSex' | 'StudyDate' | 'StudyTime' | 'AccessionNumber'
    | 'ReferringPhysicianName' | 'StudyID' | 'StudyDescription' | 'Modality' | 'SeriesNumber' | 'SeriesDescription'
    | 'SeriesDate' | 'BodyPartExamined' | 'InstanceNumber' | 'Rows' | 'Columns' | 'NumberOfFrames' | 'PhotometricInterpretation'
  >;
  dicomJson: object;
  frames: object[];
  sha256: string;
  /** SHA-256 of the dataset without its file meta group: identifies the same instance across channels. */
  datasetSha256: string;
  objectKey: string;
  size: number;
  retainUntil: Date;
  copies: StoredCopy[];
  failedCopies: FailedCopyRecord[];
  receivedAt: Date;
}

export type RecordOutcome =
  | { kind: 'stored'; studyRef: string; instanceRef: string; version: number }
  | { kind: 'already_stored'; studyRef: string; instanceRef: string; version: number }
  | { kind: 'new_version'; studyRef: string; instanceRef: string; version: number }
  /** The UID is known under another clinic (or the series under another study): refused, nothing written. */
  | { kind: 'conflict'; reason: string };

/** Postgres text cannot hold NUL; DICOM values padded with NUL are trimmed. */
function clean(value: string | null): string | null {
  if (value === null) return null;
  const trimmed = value.replace(/\0/g, '').trim();
  return trimmed === '' ? null : trimmed;
}

/**
 * Writes the catalog rows of one stored instance. Idempotent: the same bytes again return
 * `already_stored` and change nothing; different bytes under a known SOP Instance UID become a new
 * current version and the old version stays (and stays retained).
 */
export async function recordInstance(client: PoolClient, rec: InstanceRecord): Promise<RecordOutcome> {
  const a = rec.attributes;

  // The object and its copies first: they exist in storage whatever happens to the instance rows.
  await client.query(
    `INSERT INTO objects (sha256, object_key, size_bytes, retain_until) VALUES ($1, $2, $3, $4)
     ON CONFLICT (sha256) DO UPDATE SET retain_until = GREATEST(objects.retain_until, EXCLUDED.retain_until)`,
    [rec.sha256, rec.objectKey, rec.size, rec.retainUntil],
  );
  // All copies in one statement each for the good and the failed ones (#14: one statement per copy before).
  if (rec.copies.length > 0) {
    await client.query(
      `INSERT INTO copies (sha256, target, object_key, version_id, size_bytes, retain_until, lock_mode, state, last_verified_at)
       SELECT $1, c.target, c.object_key, c.version_id, c.size_bytes, c.retain_until, c.lock_mode, 'ok', now()
       FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::timestamptz[], $7::text[])
         AS c(target, object_key, version_id, size_bytes, retain_until, lock_mode)
       ON CONFLICT (sha256, target) DO UPDATE SET state = 'ok', failure_reason = NULL, version_id = EXCLUDED.version_id,
         retain_until = GREATEST(copies.retain_until, EXCLUDED.retain_until), lock_mode = EXCLUDED.lock_mode, last_verified_at = now()`,
      [
        rec.sha256,
        rec.copies.map((c) => c.target),
        rec.copies.map((c) => c.key),
        rec.copies.map((c) => c.versionId),
        rec.copies.map((c) => c.size),
        rec.copies.map((c) => c.retainUntil),
        rec.copies.map((c) => c.lockMode),
      ],
    );
  }
  if (rec.failedCopies.length > 0) {
    await client.query(
      `INSERT INTO copies (sha256, target, object_key, size_bytes, retain_until, lock_mode, state, failure_reason)
       SELECT $1, f.target, $3, $4, $5, 'NONE', 'missing', f.reason FROM unnest($2::text[], $6::text[]) AS f(target, reason)
       ON CONFLICT (sha256, target) DO NOTHING`,
      [rec.sha256, rec.failedCopies.map((f) => f.target), rec.objectKey, rec.size, rec.retainUntil, rec.failedCopies.map((f) => f.reason.slice(0, 500))],
    );
  }

  // Existing versions of this SOP Instance UID.
  const existing = await client.query<InstanceVersion>(
    `SELECT id, version, sha256, dataset_sha256 AS "datasetSha256", clinic_id AS "clinicId", study_ref AS "studyRef", is_current AS "isCurrent"
       FROM instances WHERE sop_instance_uid = $1 ORDER BY version DESC FOR UPDATE`,
    [rec.sopInstanceUid],
  );
  if (existing.rows.some((r) => r.clinicId !== rec.clinicId)) return { kind: 'conflict', reason: 'SOP Instance UID already stored for another sender' };
  // The same file, or the same dataset under another file meta header (another channel), is the same instance.
  const same = existing.rows.find((r) => r.sha256 === rec.sha256 || r.datasetSha256 === rec.datasetSha256);
  if (same) return { kind: 'already_stored', studyRef: same.studyRef, instanceRef: same.id, version: same.version };

  // Patient: keyed by PatientID within the clinic; without one, per study, so strangers never merge.
  const patientId = clean(a.PatientID) ?? '';
  const patientKey = patientId !== '' ? `id:${patientId}` : `study:${rec.studyInstanceUid}`;
  const patient = await client.query<{ id: string }>(
    `INSERT INTO patients (clinic_id, patient_key, patient_id, patient_name, birth_date, sex) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (clinic_id, patient_key) DO UPDATE SET patient_name = COALESCE(EXCLUDED.patient_name, patients.patient_name)
     RETURNING id`,
    [rec.clinicId, patientKey, patientId, clean(a.PatientName), clean(a.PatientBirthDate), clean(a.PatientSex)],
  );
  const patientRef = patient.rows[0]?.id;
  if (patientRef === undefined) throw new Error('patient upsert returned no row');

  const modality = clean(a.Modality);
  const study = await client.query<Pick<Selectable<Studies>, 'id' | 'clinicId'>>(
    `INSERT INTO studies (clinic_id, patient_ref, study_instance_uid, patient_name, patient_id, patient_birth_date, patient_sex,
        study_date, study_time, accession_number, referring_physician_name, study_id, study_description, modalities,
        received_at, last_instance_at, retain_until)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $16)
     ON CONFLICT (study_instance_uid) DO UPDATE SET
        last_instance_at = GREATEST(studies.last_instance_at, EXCLUDED.last_instance_at),
        modalities = (SELECT ARRAY(SELECT DISTINCT unnest(studies.modalities || EXCLUDED.modalities) ORDER BY 1)),
        retain_until = GREATEST(studies.retain_until, EXCLUDED.retain_until)
     RETURNING id, clinic_id AS "clinicId"`,
    [
      rec.clinicId,
      patientRef,
      rec.studyInstanceUid,
      clean(a.PatientName),
      patientId,
      clean(a.PatientBirthDate),
      clean(a.PatientSex),
      clean(a.StudyDate),
      clean(a.StudyTime),
      clean(a.AccessionNumber),
      clean(a.ReferringPhysicianName),
      clean(a.StudyID),
      clean(a.StudyDescription),
      modality ? [modality] : [],
      rec.receivedAt,
      rec.retainUntil,
    ],
  );
  const studyRow = study.rows[0];
  if (!studyRow) throw new Error('study upsert returned no row');
  // Checked after the upsert so the row is locked; the caller rolls the transaction back on conflict.
  if (studyRow.clinicId !== rec.clinicId) return { kind: 'conflict', reason: 'Study Instance UID already stored for another sender' };

  const series = await client.query<{ id: string; studyRef: string; inserted: boolean }>(
    `INSERT INTO series (study_ref, series_instance_uid, modality, series_number, series_description, series_date, body_part_examined)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (series_instance_uid) DO UPDATE SET modality = COALESCE(series.modality, EXCLUDED.modality)
     RETURNING id, study_ref AS "studyRef", (xmax = 0) AS inserted`,
    [studyRow.id, rec.seriesInstanceUid, modality, a.SeriesNumber, clean(a.SeriesDescription), clean(a.SeriesDate), clean(a.BodyPartExamined)],
  );
  const seriesRow = series.rows[0];
  if (!seriesRow) throw new Error('series upsert returned no row');
  if (seriesRow.studyRef !== studyRow.id) return { kind: 'conflict', reason: 'Series Instance UID already stored under another study' };

  const previous = existing.rows[0];
  const version = previous ? previous.version + 1 : 1;
  if (previous) await client.query('UPDATE instances SET is_current = false WHERE sop_instance_uid = $1 AND is_current', [rec.sopInstanceUid]);
  const inserted = await client.query<{ id: string }>(
    `INSERT INTO instances (series_ref, study_ref, clinic_id, sop_instance_uid, version, is_current, sop_class_uid, transfer_syntax_uid,
        instance_number, rows, columns, number_of_frames, photometric, sha256, size_bytes, dicom_json, frames, received_at, dataset_sha256)
     VALUES ($1, $2, $3, $4, $5, true, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) RETURNING id`,
    [
      seriesRow.id,
      studyRow.id,
      rec.clinicId,
      rec.sopInstanceUid,
      version,
      rec.sopClassUid,
      rec.transferSyntaxUid,
      a.InstanceNumber,
      a.Rows,
      a.Columns,
      a.NumberOfFrames,
      clean(a.PhotometricInterpretation),
      rec.sha256,
      rec.size,
      JSON.stringify(rec.dicomJson),
      JSON.stringify(rec.frames),
      rec.receivedAt,
      rec.datasetSha256,
    ],
  );
  const instanceRef = inserted.rows[0]?.id;
  if (instanceRef === undefined) throw new Error('instance insert returned no row');

  if (!previous) {
    await client.query(
      `WITH counted AS (UPDATE series SET number_of_instances = number_of_instances + 1 WHERE id = $3)
       UPDATE studies SET number_of_instances = number_of_instances + 1, number_of_series = number_of_series + $2 WHERE id = $1`,
      [studyRow.id, seriesRow.inserted ? 1 : 0, seriesRow.id],
    );
  }
  return { kind: previous ? 'new_version' : 'stored', studyRef: studyRow.id, instanceRef, version };
}

/**
 * The stored instance with these dataset bytes, if any: a re-send (same file, or the same dataset under
 * another channel's file meta) is answered without writing anything.
 */
export async function findSameInstance(
  db: Pool | PoolClient,
  sopInstanceUid: string,
  sha256: string,
  datasetSha256: string,
): Promise<SameInstance | null> {
  const { rows } = await db.query<SameInstance>(
    `SELECT clinic_id AS "clinicId", study_ref AS "studyRef", id AS "instanceRef", version
       FROM instances WHERE sop_instance_uid = $1 AND (sha256 = $2 OR dataset_sha256 = $3) LIMIT 1`,
    [sopInstanceUid, sha256, datasetSha256],
  );
  return rows[0] ?? null;
}

/**
 * Why an instance of this clinic cannot be filed under these UIDs, if another clinic (or another study)
 * already holds them; null when it can. Checked before anything is written, so a refused instance leaves
 * no copies behind; recordInstance checks again under lock.
 */
export async function findUidConflict(
  db: Pool | PoolClient,
  clinicId: string,
  uids: { studyInstanceUid: string; seriesInstanceUid: string; sopInstanceUid: string },
): Promise<string | null> {
  const { rows } = await db.query<{ conflict: string }>(
    `SELECT 'Study Instance UID already stored for another sender' AS conflict FROM studies WHERE study_instance_uid = $2 AND clinic_id <> $1
     UNION ALL
     SELECT 'Series Instance UID already stored under another study' FROM series se JOIN studies s ON s.id = se.study_ref
      WHERE se.series_instance_uid = $3 AND s.study_instance_uid <> $2
     UNION ALL
     SELECT 'SOP Instance UID already stored for another sender' FROM instances WHERE sop_instance_uid = $4 AND clinic_id <> $1
     LIMIT 1`,
    [clinicId, uids.studyInstanceUid, uids.seriesInstanceUid, uids.sopInstanceUid],
  );
  return rows[0]?.conflict ?? null;
}

export interface IngestPrecheck {
  /** The sender's clinic, null when the id names none. Its code travels with the copies (#18). */
  clinic: { retentionYears: number; code: string } | null;
  /** The stored instance with these bytes or this dataset (see findSameInstance), if any. */
  same: SameInstance | null;
  /** Why these UIDs cannot be filed for this clinic (see findUidConflict), or null. */
  conflict: string | null;
}

/** One instance's pre-check: who sends it, its UIDs and its two digests. */
export interface IngestPrecheckInput {
  clinicId: string;
  uids: { studyInstanceUid: string; seriesInstanceUid: string; sopInstanceUid: string };
  sha256: string;
  datasetSha256: string;
}

/** A pre-check row, camelCase in SQL; `n` is the instance's place (1-based), the rest null when its part found nothing (LEFT JOINs). */
interface PrecheckRow {
  n: string;
  retentionYears: number | null;
  code: string | null;
  sameClinicId: string | null;
  sameStudyRef: string | null;
  sameInstanceRef: string | null;
  sameVersion: number | null;
  conflict: string | null;
}

/**
 * findClinicById, findSameInstance and findUidConflict for many instances in one statement, answered in
 * their order (#14: they were three statements per instance, then one per instance; now one per group of
 * instances waiting for a pre-check at once, see the archive's PrecheckCoalescer). Each instance is
 * checked on its own, exactly as one alone would be: instances of one group do not see each other (none
 * of them is written yet; recordInstances checks again under lock).
 */
export async function ingestPrechecks(db: Pool | PoolClient, inputs: readonly IngestPrecheckInput[]): Promise<IngestPrecheck[]> {
  if (inputs.length === 0) return [];
  // One function call (migration 1410): its plan is made once per connection, not once per call.
  const { rows } = await db.query<PrecheckRow>(
    `SELECT place::text AS n, retention_years AS "retentionYears", clinic_code AS code, same_clinic_id AS "sameClinicId",
            same_study_ref AS "sameStudyRef", same_instance_ref AS "sameInstanceRef", same_version AS "sameVersion", conflict
       FROM ingest_precheck($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])`,
    [
      inputs.map((i) => i.clinicId),
      inputs.map((i) => i.uids.studyInstanceUid),
      inputs.map((i) => i.uids.seriesInstanceUid),
      inputs.map((i) => i.uids.sopInstanceUid),
      inputs.map((i) => i.sha256),
      inputs.map((i) => i.datasetSha256),
    ],
  );
  const byPlace = new Map(rows.map((row) => [Number(row.n), row]));
  return inputs.map((_, index) => {
    const row = byPlace.get(index + 1);
    if (!row) throw new Error('pre-check returned no row for an instance');
    return {
      clinic: row.retentionYears != null && row.code !== null ? { retentionYears: row.retentionYears, code: row.code } : null,
      same:
        row.sameClinicId != null && row.sameStudyRef !== null && row.sameInstanceRef !== null && row.sameVersion !== null
          ? { clinicId: row.sameClinicId, studyRef: row.sameStudyRef, instanceRef: row.sameInstanceRef, version: row.sameVersion }
          : null,
      conflict: row.conflict ?? null,
    };
  });
}

/** The study's last arrival time and current instance count, for the stable-study check. */
export async function studyActivity(db: Pool | PoolClient, studyInstanceUid: string): Promise<{ lastInstanceAt: Date; instanceCount: number; clinicId: string } | null> {
  const { rows } = await db.query<{ lastInstanceAt: Date; instanceCount: number; clinicId: string }>(
    'SELECT last_instance_at AS "lastInstanceAt", number_of_instances AS "instanceCount", clinic_id AS "clinicId" FROM studies WHERE study_instance_uid = $1',
    [studyInstanceUid],
  );
  return rows[0] ?? null;
}

export async function setSeriesThumbnail(db: Pool | PoolClient, seriesInstanceUid: string, thumbnailKey: string): Promise<void> {
  await db.query('UPDATE series SET thumbnail_key = $2 WHERE series_instance_uid = $1', [seriesInstanceUid, thumbnailKey]);
}

export async function seriesHasThumbnail(db: Pool | PoolClient, seriesInstanceUid: string): Promise<boolean> {
  const { rows } = await db.query<{ thumbnail_key: string | null }>('SELECT thumbnail_key FROM series WHERE series_instance_uid = $1', [seriesInstanceUid]);
  return rows[0]?.thumbnail_key != null;
}
