import type { Selectable } from 'kysely';
import type { PoolClient } from './database';
import type { Instances, Patients, Series, Studies } from './typed/database.types';
import type { InstanceRecord, RecordOutcome } from './archive.repository';

/**
 * Catalog writes of several stored instances in one transaction (#14: one transaction per STOW request,
 * or per batch of its parts, instead of one per instance). Each table is written by one multi-row
 * statement, so a batch costs about as many statements as one instance did.
 *
 * The caller opens the transaction. When any instance of the batch conflicts (its UIDs belong to another
 * clinic or study), nothing is decided for the others: the caller rolls back and records the batch again
 * without the conflicting ones, so nothing of a refused instance remains (not even its object row).
 */
export type BatchRecordResult =
  | { kind: 'recorded'; outcomes: Array<Exclude<RecordOutcome, { kind: 'conflict' }> & { seriesHasThumbnail: boolean }> }
  | { kind: 'conflicts'; conflicts: Map<number, string> };

/** Postgres text cannot hold NUL; DICOM values padded with NUL are trimmed (as recordInstance does). */
function clean(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const trimmed = value.replace(/\0/g, '').trim();
  return trimmed === '' ? null : trimmed;
}

/** uuid columns come back lower-case whatever the spelling they were given in. */
function sameUuid(a: string | undefined, b: string): boolean {
  return a !== undefined && a.toLowerCase() === b.toLowerCase();
}

function patientKeyOf(rec: InstanceRecord): string {
  const patientId = clean(rec.attributes.PatientID) ?? '';
  // Keyed by PatientID within the clinic; without one, per study, so strangers never merge.
  return patientId !== '' ? `id:${patientId}` : `study:${rec.studyInstanceUid}`;
}

/** A stored version of a SOP Instance UID of the batch (the generated columns, camelCase in SQL: no mapper). */
type ExistingRow = Pick<Selectable<Instances>, 'id' | 'version' | 'sha256' | 'datasetSha256' | 'clinicId' | 'studyRef' | 'sopInstanceUid'>;

/**
 * Writes the catalog rows of the instances in `recs` (distinct SOP Instance UIDs). Idempotent per
 * instance like recordInstance: the same bytes again are `already_stored`; other bytes under a known UID
 * become a new current version.
 */
export async function recordInstances(client: PoolClient, recs: readonly InstanceRecord[]): Promise<BatchRecordResult> {
  if (new Set(recs.map((r) => r.sopInstanceUid)).size !== recs.length) throw new Error('recordInstances: a SOP Instance UID appears twice in one batch');
  await writeObjectsAndCopies(client, recs);

  const existing = await client.query<ExistingRow>(
    `SELECT id, version, sha256, dataset_sha256 AS "datasetSha256", clinic_id AS "clinicId", study_ref AS "studyRef", sop_instance_uid AS "sopInstanceUid" FROM instances
     WHERE sop_instance_uid = ANY($1::text[]) ORDER BY sop_instance_uid, version DESC FOR UPDATE`,
    [recs.map((r) => r.sopInstanceUid)],
  );
  const versions = new Map<string, ExistingRow[]>();
  for (const row of existing.rows) versions.set(row.sopInstanceUid, [...(versions.get(row.sopInstanceUid) ?? []), row]);

  const conflicts = new Map<number, string>();
  const outcomes: Array<(Exclude<RecordOutcome, { kind: 'conflict' }> & { seriesHasThumbnail: boolean }) | undefined> = recs.map(() => undefined);
  const toWrite: number[] = [];
  recs.forEach((rec, i) => {
    const rows = versions.get(rec.sopInstanceUid) ?? [];
    if (rows.some((r) => !sameUuid(r.clinicId, rec.clinicId))) {
      conflicts.set(i, 'SOP Instance UID already stored for another sender');
      return;
    }
    // The same file, or the same dataset under another file meta header (another channel), is the same instance.
    const same = rows.find((r) => r.sha256 === rec.sha256 || r.datasetSha256 === rec.datasetSha256);
    if (same) outcomes[i] = { kind: 'already_stored', studyRef: same.studyRef, instanceRef: same.id, version: same.version, seriesHasThumbnail: true };
    else toWrite.push(i);
  });
  if (conflicts.size > 0) return { kind: 'conflicts', conflicts };
  if (toWrite.length === 0) return { kind: 'recorded', outcomes: outcomes.filter((o) => o !== undefined) };
  const writes = toWrite.map((i) => recs[i] as InstanceRecord);

  const patientRefs = await upsertPatients(client, writes);
  const studies = await upsertStudies(client, writes, patientRefs);
  writes.forEach((rec, w) => {
    if (!sameUuid(studies.get(rec.studyInstanceUid)?.clinicId, rec.clinicId)) conflicts.set(toWrite[w] as number, 'Study Instance UID already stored for another sender');
  });
  if (conflicts.size > 0) return { kind: 'conflicts', conflicts };
  const series = await upsertSeries(client, writes, studies);
  writes.forEach((rec, w) => {
    if (series.get(rec.seriesInstanceUid)?.studyRef !== studies.get(rec.studyInstanceUid)?.id) conflicts.set(toWrite[w] as number, 'Series Instance UID already stored under another study');
  });
  if (conflicts.size > 0) return { kind: 'conflicts', conflicts };

  const previousVersion = (rec: InstanceRecord): number | undefined => versions.get(rec.sopInstanceUid)?.[0]?.version;
  const superseded = writes.filter((rec) => previousVersion(rec) !== undefined).map((rec) => rec.sopInstanceUid);
  if (superseded.length > 0) await client.query('UPDATE instances SET is_current = false WHERE sop_instance_uid = ANY($1::text[]) AND is_current', [superseded]);

  const seriesOf = (rec: InstanceRecord): SeriesRow => series.get(rec.seriesInstanceUid) as SeriesRow;
  const studyOf = (rec: InstanceRecord): StudyRow => studies.get(rec.studyInstanceUid) as StudyRow;
  const inserted = await client.query<Pick<ExistingRow, 'id' | 'sopInstanceUid'>>(
    `INSERT INTO instances (series_ref, study_ref, clinic_id, sop_instance_uid, version, is_current, sop_class_uid, transfer_syntax_uid,
        instance_number, rows, columns, number_of_frames, photometric, sha256, size_bytes, dicom_json, frames, received_at, dataset_sha256)
     SELECT v.series_ref, v.study_ref, v.clinic_id, v.sop_instance_uid, v.version, true, v.sop_class_uid, v.transfer_syntax_uid,
        v.instance_number, v.rows, v.columns, v.number_of_frames, v.photometric, v.sha256, v.size_bytes, v.dicom_json::jsonb, v.frames::jsonb, v.received_at, v.dataset_sha256
     FROM unnest($1::bigint[], $2::bigint[], $3::uuid[], $4::text[], $5::int[], $6::text[], $7::text[], $8::int[], $9::int[], $10::int[], $11::int[],
                 $12::text[], $13::text[], $14::bigint[], $15::text[], $16::text[], $17::timestamptz[], $18::text[])
       AS v(series_ref, study_ref, clinic_id, sop_instance_uid, version, sop_class_uid, transfer_syntax_uid, instance_number, rows, columns,
            number_of_frames, photometric, sha256, size_bytes, dicom_json, frames, received_at, dataset_sha256)
     RETURNING id, sop_instance_uid AS "sopInstanceUid"`,
    [
      writes.map((r) => seriesOf(r).id),
      writes.map((r) => studyOf(r).id),
      writes.map((r) => r.clinicId),
      writes.map((r) => r.sopInstanceUid),
      writes.map((r) => (previousVersion(r) ?? 0) + 1),
      writes.map((r) => r.sopClassUid),
      writes.map((r) => r.transferSyntaxUid),
      writes.map((r) => r.attributes.InstanceNumber),
      writes.map((r) => r.attributes.Rows),
      writes.map((r) => r.attributes.Columns),
      writes.map((r) => r.attributes.NumberOfFrames),
      writes.map((r) => clean(r.attributes.PhotometricInterpretation)),
      writes.map((r) => r.sha256),
      writes.map((r) => r.size),
      writes.map((r) => JSON.stringify(r.dicomJson)),
      writes.map((r) => JSON.stringify(r.frames)),
      writes.map((r) => r.receivedAt),
      writes.map((r) => r.datasetSha256),
    ],
  );
  const instanceRefs = new Map(inserted.rows.map((r) => [r.sopInstanceUid, r.id]));
  await countNewInstances(client, writes.filter((rec) => previousVersion(rec) === undefined), studyOf, seriesOf);

  writes.forEach((rec, w) => {
    const instanceRef = instanceRefs.get(rec.sopInstanceUid);
    if (instanceRef === undefined) throw new Error('instance insert returned no row');
    const previous = previousVersion(rec);
    outcomes[toWrite[w] as number] = {
      kind: previous === undefined ? 'stored' : 'new_version',
      studyRef: studyOf(rec).id,
      instanceRef,
      version: (previous ?? 0) + 1,
      seriesHasThumbnail: seriesOf(rec).hasThumbnail,
    };
  });
  return { kind: 'recorded', outcomes: outcomes.map((o) => {
    if (o === undefined) throw new Error('recordInstances: an instance has no outcome');
    return o;
  }) };
}

/** The objects and their copies first: they exist in storage whatever happens to the instance rows. */
async function writeObjectsAndCopies(client: PoolClient, recs: readonly InstanceRecord[]): Promise<void> {
  // One row per content address: ON CONFLICT DO UPDATE may not touch one row twice in a statement.
  const objects = new Map<string, InstanceRecord>();
  for (const rec of recs) {
    const seen = objects.get(rec.sha256);
    if (!seen || seen.retainUntil < rec.retainUntil) objects.set(rec.sha256, rec);
  }
  const objectRecs = [...objects.values()];
  await client.query(
    `INSERT INTO objects (sha256, object_key, size_bytes, retain_until)
     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[])
     ON CONFLICT (sha256) DO UPDATE SET retain_until = GREATEST(objects.retain_until, EXCLUDED.retain_until)`,
    [objectRecs.map((r) => r.sha256), objectRecs.map((r) => r.objectKey), objectRecs.map((r) => r.size), objectRecs.map((r) => r.retainUntil)],
  );
  const copies = objectRecs.flatMap((rec) => rec.copies.map((c) => ({ sha256: rec.sha256, ...c })));
  if (copies.length > 0) {
    await client.query(
      `INSERT INTO copies (sha256, target, object_key, version_id, size_bytes, retain_until, lock_mode, state, last_verified_at)
       SELECT c.sha256, c.target, c.object_key, c.version_id, c.size_bytes, c.retain_until, c.lock_mode, 'ok', now()
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::timestamptz[], $7::text[])
         AS c(sha256, target, object_key, version_id, size_bytes, retain_until, lock_mode)
       ON CONFLICT (sha256, target) DO UPDATE SET state = 'ok', failure_reason = NULL, version_id = EXCLUDED.version_id,
         retain_until = GREATEST(copies.retain_until, EXCLUDED.retain_until), lock_mode = EXCLUDED.lock_mode, last_verified_at = now()`,
      [
        copies.map((c) => c.sha256),
        copies.map((c) => c.target),
        copies.map((c) => c.key),
        copies.map((c) => c.versionId),
        copies.map((c) => c.size),
        copies.map((c) => c.retainUntil),
        copies.map((c) => c.lockMode),
      ],
    );
  }
  const failed = objectRecs.flatMap((rec) => rec.failedCopies.map((f) => ({ rec, ...f })));
  if (failed.length > 0) {
    await client.query(
      `INSERT INTO copies (sha256, target, object_key, size_bytes, retain_until, lock_mode, state, failure_reason)
       SELECT f.sha256, f.target, f.object_key, f.size_bytes, f.retain_until, 'NONE', 'missing', f.reason
       FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::timestamptz[], $6::text[]) AS f(sha256, target, object_key, size_bytes, retain_until, reason)
       ON CONFLICT (sha256, target) DO NOTHING`,
      [
        failed.map((f) => f.rec.sha256),
        failed.map((f) => f.target),
        failed.map((f) => f.rec.objectKey),
        failed.map((f) => f.rec.size),
        failed.map((f) => f.rec.retainUntil),
        failed.map((f) => f.reason.slice(0, 500)),
      ],
    );
  }
}

/** One row per (clinic, patient key); a later instance's non-empty name wins, as in recordInstance. */
async function upsertPatients(client: PoolClient, writes: readonly InstanceRecord[]): Promise<Map<string, string>> {
  const byKey = new Map<string, { rec: InstanceRecord; name: string | null }>();
  for (const rec of writes) {
    const key = `${rec.clinicId} ${patientKeyOf(rec)}`;
    const seen = byKey.get(key);
    byKey.set(key, { rec: seen?.rec ?? rec, name: clean(rec.attributes.PatientName) ?? seen?.name ?? null });
  }
  const rows = [...byKey.values()];
  const { rows: upserted } = await client.query<Pick<Selectable<Patients>, 'id' | 'clinicId' | 'patientKey'>>(
    `INSERT INTO patients (clinic_id, patient_key, patient_id, patient_name, birth_date, sex)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
     ON CONFLICT (clinic_id, patient_key) DO UPDATE SET patient_name = COALESCE(EXCLUDED.patient_name, patients.patient_name)
     RETURNING id, clinic_id::text AS "clinicId", patient_key AS "patientKey"`,
    [
      rows.map((p) => p.rec.clinicId),
      rows.map((p) => patientKeyOf(p.rec)),
      rows.map((p) => clean(p.rec.attributes.PatientID) ?? ''),
      rows.map((p) => p.name),
      rows.map((p) => clean(p.rec.attributes.PatientBirthDate)),
      rows.map((p) => clean(p.rec.attributes.PatientSex)),
    ],
  );
  // uuid columns come back lower-case; the map is keyed the same way.
  return new Map(upserted.map((r) => [`${r.clinicId.toLowerCase()} ${r.patientKey}`, r.id]));
}

type StudyRow = Pick<Selectable<Studies>, 'id' | 'clinicId'>;

async function upsertStudies(client: PoolClient, writes: readonly InstanceRecord[], patientRefs: Map<string, string>): Promise<Map<string, StudyRow>> {
  const byUid = new Map<string, { rec: InstanceRecord; modalities: Set<string>; first: Date; last: Date; retainUntil: Date }>();
  for (const rec of writes) {
    const modality = clean(rec.attributes.Modality);
    const seen = byUid.get(rec.studyInstanceUid);
    if (!seen) {
      byUid.set(rec.studyInstanceUid, { rec, modalities: new Set(modality ? [modality] : []), first: rec.receivedAt, last: rec.receivedAt, retainUntil: rec.retainUntil });
      continue;
    }
    if (modality) seen.modalities.add(modality);
    if (rec.receivedAt < seen.first) seen.first = rec.receivedAt;
    if (rec.receivedAt > seen.last) seen.last = rec.receivedAt;
    if (rec.retainUntil > seen.retainUntil) seen.retainUntil = rec.retainUntil;
  }
  const rows = [...byUid.values()];
  const patientRef = (rec: InstanceRecord): string => {
    const ref = patientRefs.get(`${rec.clinicId.toLowerCase()} ${patientKeyOf(rec)}`);
    if (ref === undefined) throw new Error('patient upsert returned no row');
    return ref;
  };
  const a = (row: (typeof rows)[number]): InstanceRecord['attributes'] => row.rec.attributes;
  const { rows: upserted } = await client.query<StudyRow & Pick<Selectable<Studies>, 'studyInstanceUid'>>(
    `INSERT INTO studies (clinic_id, patient_ref, study_instance_uid, patient_name, patient_id, patient_birth_date, patient_sex,
        study_date, study_time, accession_number, referring_physician_name, study_id, study_description, modalities,
        received_at, last_instance_at, retain_until)
     SELECT v.clinic_id, v.patient_ref, v.study_instance_uid, v.patient_name, v.patient_id, v.patient_birth_date, v.patient_sex,
        v.study_date, v.study_time, v.accession_number, v.referring_physician_name, v.study_id, v.study_description,
        -- Modalities travel comma-joined (one text per study): CS values never contain a comma.
        CASE WHEN v.modalities = '' THEN '{}'::text[] ELSE string_to_array(v.modalities, ',') END,
        v.received_at, v.last_instance_at, v.retain_until
     FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                 $11::text[], $12::text[], $13::text[], $14::text[], $15::timestamptz[], $16::timestamptz[], $17::timestamptz[])
       AS v(clinic_id, patient_ref, study_instance_uid, patient_name, patient_id, patient_birth_date, patient_sex, study_date, study_time,
            accession_number, referring_physician_name, study_id, study_description, modalities, received_at, last_instance_at, retain_until)
     ON CONFLICT (study_instance_uid) DO UPDATE SET
        last_instance_at = GREATEST(studies.last_instance_at, EXCLUDED.last_instance_at),
        modalities = (SELECT ARRAY(SELECT DISTINCT unnest(studies.modalities || EXCLUDED.modalities) ORDER BY 1)),
        retain_until = GREATEST(studies.retain_until, EXCLUDED.retain_until)
     RETURNING id, clinic_id::text AS "clinicId", study_instance_uid AS "studyInstanceUid"`,
    [
      rows.map((s) => s.rec.clinicId),
      rows.map((s) => patientRef(s.rec)),
      rows.map((s) => s.rec.studyInstanceUid),
      rows.map((s) => clean(a(s).PatientName)),
      rows.map((s) => clean(a(s).PatientID) ?? ''),
      rows.map((s) => clean(a(s).PatientBirthDate)),
      rows.map((s) => clean(a(s).PatientSex)),
      rows.map((s) => clean(a(s).StudyDate)),
      rows.map((s) => clean(a(s).StudyTime)),
      rows.map((s) => clean(a(s).AccessionNumber)),
      rows.map((s) => clean(a(s).ReferringPhysicianName)),
      rows.map((s) => clean(a(s).StudyID)),
      rows.map((s) => clean(a(s).StudyDescription)),
      rows.map((s) => [...s.modalities].sort().join(',')),
      rows.map((s) => s.first),
      rows.map((s) => s.last),
      rows.map((s) => s.retainUntil),
    ],
  );
  return new Map(upserted.map(({ studyInstanceUid, ...study }) => [studyInstanceUid, study]));
}

type SeriesRow = Pick<Selectable<Series>, 'id' | 'studyRef'> & { inserted: boolean; hasThumbnail: boolean };

async function upsertSeries(client: PoolClient, writes: readonly InstanceRecord[], studies: Map<string, StudyRow>): Promise<Map<string, SeriesRow>> {
  const bySeries = new Map<string, InstanceRecord>();
  for (const rec of writes) if (!bySeries.has(rec.seriesInstanceUid)) bySeries.set(rec.seriesInstanceUid, rec);
  const rows = [...bySeries.values()];
  const { rows: upserted } = await client.query<SeriesRow & Pick<Selectable<Series>, 'seriesInstanceUid'>>(
    `INSERT INTO series (study_ref, series_instance_uid, modality, series_number, series_description, series_date, body_part_examined)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[])
     ON CONFLICT (series_instance_uid) DO UPDATE SET modality = COALESCE(series.modality, EXCLUDED.modality)
     RETURNING id, study_ref AS "studyRef", series_instance_uid AS "seriesInstanceUid", (xmax = 0) AS inserted, thumbnail_key IS NOT NULL AS "hasThumbnail"`,
    [
      rows.map((r) => (studies.get(r.studyInstanceUid) as StudyRow).id),
      rows.map((r) => r.seriesInstanceUid),
      rows.map((r) => clean(r.attributes.Modality)),
      rows.map((r) => r.attributes.SeriesNumber),
      rows.map((r) => clean(r.attributes.SeriesDescription)),
      rows.map((r) => clean(r.attributes.SeriesDate)),
      rows.map((r) => clean(r.attributes.BodyPartExamined)),
    ],
  );
  return new Map(upserted.map(({ seriesInstanceUid, ...series }) => [seriesInstanceUid, series]));
}

/** The series and study counters, one statement for the batch (a new version adds no instance). */
async function countNewInstances(
  client: PoolClient,
  added: readonly InstanceRecord[],
  studyOf: (rec: InstanceRecord) => StudyRow,
  seriesOf: (rec: InstanceRecord) => SeriesRow,
): Promise<void> {
  if (added.length === 0) return;
  const perSeries = new Map<string, number>();
  const perStudy = new Map<string, { instances: number; newSeries: Set<string> }>();
  for (const rec of added) {
    const series = seriesOf(rec);
    const study = studyOf(rec);
    perSeries.set(series.id, (perSeries.get(series.id) ?? 0) + 1);
    const counts = perStudy.get(study.id) ?? { instances: 0, newSeries: new Set<string>() };
    counts.instances++;
    if (series.inserted) counts.newSeries.add(series.id);
    perStudy.set(study.id, counts);
  }
  await client.query(
    `WITH counted AS (
       UPDATE series s SET number_of_instances = s.number_of_instances + c.n FROM unnest($1::bigint[], $2::int[]) AS c(id, n) WHERE s.id = c.id)
     UPDATE studies st SET number_of_instances = st.number_of_instances + c.n, number_of_series = st.number_of_series + c.ns
     FROM unnest($3::bigint[], $4::int[], $5::int[]) AS c(id, n, ns) WHERE st.id = c.id`,
    [[...perSeries.keys()], [...perSeries.values()], [...perStudy.keys()], [...perStudy.values()].map((c) => c.instances), [...perStudy.values()].map((c) => c.newSeries.size)],
  );
}
