import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { appendAuditEvents, installAuditKeyring, parseAuditKeyFile, type AuditEventInput } from '@yunying/audit';
import { inTransaction, quoteIdent, recordInstances, type InstanceRecord, type Pool, type PoolClient } from '@yunying/catalog';
import type { Args } from '../lib/args';
import { CLINICS } from '../lib/corpus';
import { HttpClient } from '../lib/http';
import { signIn, type Lab, type Yunying } from '../lib/lab';
import type { Table } from '../lib/report';
import { latency, prng, ratio, type Latency } from '../lib/stats';

/**
 * Catalog at scale (#18): grows one catalog through `--sizes` (default 1 M, 5 M, 20 M instance rows) and, at
 * each size, measures QIDO-RS study search over HTTP (by PatientID, by PatientName prefix, by a 7-day
 * StudyDate range, one clinic's newest studies, one study's instances), the reading queue, and the write
 * path: the catalog transaction of ingest for a new 20-instance study (recordInstances + its audit
 * records, as IngestPipeline commits them; storage writes are not part of it).
 *
 * Rows are generated in the throwaway PostgreSQL of the lab with INSERT ... SELECT generate_series, as an
 * operator's bulk import loads them (see grow()): 20 instances per study in 2 series, one patient per
 * three studies, 20 clinics, study dates over ten years (density grows with size, as a real catalog's
 * does), one object and three copies per instance, and a dicom_json of the whole header as ingest stores
 * it (~3.9 KB as jsonb text, ~1.7 KB stored after compression; the real ultrasound headers in
 * ../shared/data/dicom give 1.4–10.4 KB of compact JSON, median ~2.7 KB). The reading queue is held at
 * the ~2 000 newest studies unread at every size (a queue is bounded by reading, not by the archive). The
 * run stops before a size that would leave less than --min-free-gb (default 10) of disk free.
 */
const INSTANCES_PER_STUDY = 20;
const SERIES_PER_STUDY = 2;
const QUEUE_STUDIES = 2_000;
/** Studies per load transaction (1 M instance rows). */
const CHUNK_STUDIES = 50_000;
const SURNAMES = ['WANG', 'LI', 'ZHANG', 'LIU', 'CHEN', 'YANG', 'HUANG', 'ZHAO', 'WU', 'ZHOU'];

/** Seconds of one growth step: rows, index builds, VACUUM (ANALYZE). */
export interface Growth {
  loadSeconds: number;
  indexSeconds: number;
  vacuumSeconds: number;
}

export interface CatalogSizeResult {
  instances: number;
  studies: number;
  /** Seconds of the growth step to this size (of all steps, for a kept database). */
  growth: Growth;
  /** When it was measured (kept databases, measured one at a time; absent in a growing run). */
  measuredAt?: string;
  storage: TableStorage[];
  /** dicom_json of a sample of instance rows: mean characters as JSON text, mean bytes as stored (jsonb, compressed when TOASTed). */
  header: { textBytes: number; storedBytes: number };
  /** The machine's 1-minute load average when this size's measurement started and ended. */
  load: { start: number; end: number };
  rows: { kind: string; latency: Latency; errors: number; meanResults: number }[];
  plans: Record<string, string>;
}

export interface CatalogScaleResult {
  sizes: CatalogSizeResult[];
  /** Why the run stopped before the last size, if it did (not enough free disk for the next one). */
  stopped: string | null;
}

/** Bytes per instance row assumed before the first size is measured (realistic header, three copies). */
const FIRST_GUESS_BYTES_PER_INSTANCE = 5_000;
/** Room for WAL (max_wal_size 4 GB) and index-build sorts on top of the projected tables. */
const GROWTH_HEADROOM_BYTES = 6e9;

/** A DICOM JSON attribute (PS3.18 F.2) of the generated instances. */
interface JsonAttribute {
  vr: string;
  Value?: JsonValue[];
  BulkDataURI?: string;
}

type JsonValue = string | number | { Alphabetic: string } | Record<string, JsonAttribute>;

const attr = (vr: string, ...values: JsonValue[]): JsonAttribute => ({ vr, Value: values });

/**
 * What a thyroid ultrasound image's header carries besides the per-instance values below, as
 * `buildDicomJson` writes it for ingest (the whole dataset but group 0002, Pixel Data as a BulkDataURI):
 * equipment, institution and operator, acquisition context, the pixel module, lossy compression, the
 * ultrasound region calibration (what measurements need), and a scanner's private block. Values are the
 * same for every generated instance, as they are for one device; their size is what matters here.
 */
const US_DEVICE_ATTRIBUTES: Record<string, JsonAttribute> = {
  '00080005': attr('CS', 'ISO_IR 192'),
  '00080008': attr('CS', 'ORIGINAL', 'PRIMARY', 'SMALL PARTS', '0001'),
  '00080064': attr('CS', 'WSD'),
  '00080070': attr('LO', 'Bench Medical Systems'),
  '00080080': attr('LO', 'Bench Regional Thyroid and Breast Centre'),
  '00080081': attr('ST', '1 Example Road, Example District, Example City 100000'),
  '00081010': attr('SH', 'US-ROOM-3'),
  '00081040': attr('LO', 'Ultrasound'),
  '00081050': attr('PN', { Alphabetic: 'OPERATOR^SONOGRAPHER' }),
  '00081090': attr('LO', 'Bench US 9000'),
  '00082111': attr('ST', 'Lossy compressed by the scanner'),
  '00181000': attr('LO', 'SN-00012345678'),
  '00181020': attr('LO', 'R3.2.1 build 20240101', 'App 3.2.1'),
  '00181030': attr('LO', 'Thyroid'),
  '00185010': attr('LO', 'L12-5', 'LINEAR'),
  '00185020': attr('LO', 'THY'),
  '00186031': attr('CS', 'LINEAR'),
  '00186011': attr('SQ', {
    '00186012': attr('US', 1),
    '00186014': attr('US', 1),
    '00186016': attr('UL', 2),
    '00186018': attr('UL', 64),
    '0018601A': attr('UL', 80),
    '0018601C': attr('UL', 735),
    '0018601E': attr('UL', 560),
    '00186020': attr('SL', 335),
    '00186022': attr('SL', 0),
    '00186024': attr('US', 3),
    '00186026': attr('US', 3),
    '00186028': attr('FD', 0),
    '0018602A': attr('FD', 0),
    '0018602C': attr('FD', 0.0069767441860465),
    '0018602E': attr('FD', 0.0069767441860465),
    '00186030': attr('UL', 10000),
  }),
  '00200020': attr('CS', 'L', 'F'),
  '00280002': attr('US', 3),
  '00280004': attr('CS', 'YBR_FULL_422'),
  '00280006': attr('US', 0),
  '00280100': attr('US', 8),
  '00280101': attr('US', 8),
  '00280102': attr('US', 7),
  '00280103': attr('US', 0),
  '00282110': attr('CS', '01'),
  '00282112': attr('DS', 12.5),
  '00282114': attr('CS', 'ISO_10918_1'),
  '00400254': attr('LO', 'US THYROID'),
  '7FE00010': { vr: 'OB', BulkDataURI: 'bulkdata/7FE00010' },
};

/**
 * The instances of one chunk (step_instances): the device's attributes ($1) with each instance's own
 * (UIDs, dates and times, patient, accession, numbers, matrix), merged as one JSON object per row.
 */
function instancesInsert(): string {
  const a = (tag: string, vr: string, value: string): string => `'${tag}', jsonb_build_object('vr', '${vr}', 'Value', jsonb_build_array(${value}))`;
  const own = [
    a('00080012', 'DA', 'study_date'),
    a('00080013', 'TM', "'101500'"),
    a('00080016', 'UI', "'1.2.840.10008.5.1.4.1.1.6.1'"),
    a('00080018', 'UI', 'sop_instance_uid'),
    a('00080020', 'DA', 'study_date'),
    a('00080021', 'DA', 'study_date'),
    a('00080023', 'DA', 'study_date'),
    a('0008002A', 'DT', "study_date || '1015' || lpad(instance_number::text, 2, '0')"),
    a('00080030', 'TM', "'101500'"),
    a('00080031', 'TM', "'101500'"),
    a('00080033', 'TM', "'1015' || lpad(instance_number::text, 2, '0')"),
    a('00080050', 'SH', 'accession_number'),
    a('00080060', 'CS', "'US'"),
    a('00080090', 'PN', "jsonb_build_object('Alphabetic', 'REF^DOCTOR')"),
    a('00081030', 'LO', "'US Thyroid'"),
    a('0008103E', 'LO', "'Thyroid ' || series_number"),
    a('00100010', 'PN', "jsonb_build_object('Alphabetic', patient_name)"),
    a('00100020', 'LO', 'patient_id'),
    a('00100030', 'DA', 'patient_birth_date'),
    a('00100040', 'CS', 'patient_sex'),
    a('00101010', 'AS', "lpad(((85 - (instance_number * 7) % 60))::text, 3, '0') || 'Y'"),
    a('0020000D', 'UI', 'study_instance_uid'),
    a('0020000E', 'UI', 'series_instance_uid'),
    a('00200010', 'SH', 'study_id'),
    a('00200011', 'IS', 'series_number'),
    a('00200013', 'IS', 'instance_number'),
    a('00200062', 'CS', "CASE WHEN series_number = 1 THEN 'R' ELSE 'L' END"),
    a('00280010', 'US', '600'),
    a('00280011', 'US', '800'),
    a('00400244', 'DA', 'study_date'),
    a('00400253', 'SH', 'study_id'),
  ];
  return `INSERT INTO instances (series_ref, study_ref, clinic_id, sop_instance_uid, version, is_current, sop_class_uid, transfer_syntax_uid,
                                instance_number, rows, columns, number_of_frames, photometric, sha256, size_bytes, dicom_json, frames, received_at, dataset_sha256)
         SELECT series_ref, study_ref, clinic_id, sop_instance_uid, 1, true, '1.2.840.10008.5.1.4.1.1.6.1', '1.2.840.10008.1.2.4.50',
                instance_number, 600, 800, 1, 'YBR_FULL_422', sha256, 1048576,
                $1::jsonb || jsonb_build_object(${own.join(', ')}),
                '[{"offset": 1380, "length": 1047196}]'::jsonb, received_at, sha256
           FROM step_instances`;
}

/**
 * An index or a primary-key/unique constraint of a bulk-loaded table, as the migrations created it
 * (pg_get_indexdef / pg_get_constraintdef), so it can be dropped before a load and created again after.
 */
interface IndexDefinition {
  table: string;
  name: string;
  isConstraint: boolean;
  definition: string;
}

/**
 * The indexes an operator's bulk import drops and builds again after loading (pg_restore's order: data,
 * then indexes): every index and key of `instances` and `copies` (partitioned; nothing references them),
 * and `objects`' unique object_key. objects' primary key stays, since the foreign keys of instances and
 * copies reference it; studies, series and patients keep theirs (20x fewer rows, and the generator joins
 * on them).
 */
async function bulkLoadIndexes(pool: PoolClient): Promise<IndexDefinition[]> {
  const { rows } = await pool.query<IndexDefinition>(
    `SELECT t.relname AS "table", i.relname AS name, con.oid IS NOT NULL AS "isConstraint",
            coalesce(pg_get_constraintdef(con.oid), pg_get_indexdef(i.oid)) AS definition
       FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_class t ON t.oid = x.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = current_schema()
       LEFT JOIN pg_constraint con ON con.conindid = i.oid AND con.conrelid = t.oid AND con.contype IN ('p', 'u')
      WHERE t.relname IN ('instances', 'copies') OR (t.relname = 'objects' AND NOT x.indisprimary)
      ORDER BY 1, 2`,
  );
  return rows;
}

async function dropIndexes(pool: PoolClient, indexes: IndexDefinition[]): Promise<void> {
  for (const ix of indexes) {
    await pool.query(ix.isConstraint ? `ALTER TABLE ${quoteIdent(ix.table)} DROP CONSTRAINT ${quoteIdent(ix.name)}` : `DROP INDEX ${quoteIdent(ix.name)}`);
  }
}

/** Builds the dropped indexes again and checks that the catalog has exactly the definitions it had before. */
async function buildIndexes(pool: PoolClient, lab: Lab, indexes: IndexDefinition[]): Promise<void> {
  for (const ix of indexes) {
    const started = Date.now();
    // pg_get_indexdef of a partitioned table's index reads "ON ONLY": that would create the parent index
    // alone, invalid and without its partitions' indexes. Built without ONLY, it covers every partition.
    await pool.query(ix.isConstraint ? `ALTER TABLE ${quoteIdent(ix.table)} ADD CONSTRAINT ${quoteIdent(ix.name)} ${ix.definition}` : ix.definition.replace(/ ON ONLY /, ' ON '));
    lab.log(`catalog-scale: built ${ix.name} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  const after = await bulkLoadIndexes(pool);
  const key = (list: IndexDefinition[]): string => JSON.stringify(list.map((ix) => [ix.table, ix.name, ix.isConstraint, ix.definition]));
  if (key(after) !== key(indexes)) throw new Error(`catalog-scale: indexes after the load differ from the product's: ${key(after)} vs ${key(indexes)}`);
  // Every index valid, and each partitioned one attached on every partition of its table.
  const { rows: incomplete } = await pool.query<{ name: string }>(
    `SELECT i.relname AS name
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = current_schema()
      WHERE t.relname IN ('instances', 'copies', 'objects')
        AND (NOT x.indisvalid
             OR (SELECT count(*) FROM pg_partition_tree(i.oid) p WHERE p.isleaf) <> (SELECT count(*) FROM pg_partition_tree(t.oid) p WHERE p.isleaf))`,
  );
  if (incomplete.length > 0) throw new Error(`catalog-scale: indexes not valid on every partition: ${incomplete.map((r) => r.name).join(', ')}`);
}

/**
 * Rows of one growth step: studies [s0, s1) with their series, instances, objects, copies, patients, as
 * an operator's bulk import would load them: the big tables' indexes dropped, server-side
 * INSERT ... SELECT generate_series in transactions of CHUNK_STUDIES studies, the indexes built again
 * (same definitions, checked), then VACUUM (ANALYZE) so plans and the visibility map match a settled
 * catalog. Returns the seconds spent loading rows and building indexes.
 */
export async function grow(pool: PoolClient, lab: Lab, s0: number, s1: number): Promise<Growth> {
  // The previous steps' queue is read now: only the newest studies stay unread.
  await pool.query(`UPDATE studies SET reading_status = 'reported', triage_status = 'triaged' WHERE reading_status <> 'reported' AND study_instance_uid LIKE '2.25.555.%'`);
  const indexes = await bulkLoadIndexes(pool);
  await dropIndexes(pool, indexes);
  const loadStarted = Date.now();
  for (let from = s0; from < s1; from += CHUNK_STUDIES) {
    const to = Math.min(s1, from + CHUNK_STUDIES);
    const started = Date.now();
    const spent: string[] = [];
    await inOneTransaction(pool, async (raw) => {
      const timed = async (label: string, sql: string, params?: unknown[]): Promise<void> => {
        const t = Date.now();
        await raw.query(sql, params);
        spent.push(`${label} ${((Date.now() - t) / 1000).toFixed(1)}`);
      };
      await raw.query('SET LOCAL synchronous_commit = off');
      // Generated rows are consistent by construction: foreign-key triggers off while loading (the lab's
      // PostgreSQL runs as superuser); the measured write path below runs with them, as ingest does.
      await raw.query("SET LOCAL session_replication_role = 'replica'");
      // Patients: one per three studies, number p = s / 3; clinic p % 20.
      await timed(
        'patients',
        `INSERT INTO patients (clinic_id, patient_key, patient_id, patient_name, birth_date, sex)
         SELECT (SELECT array_agg(id ORDER BY code) FROM clinics WHERE code LIKE 'bench-c%')[1 + (p % ${CLINICS})],
                'id:CP' || p, 'CP' || p, ($3::text[])[1 + (p % 10)] || '^P' || p,
                to_char(date '1940-01-01' + (p % 25000), 'YYYYMMDD'), CASE WHEN p % 4 = 0 THEN 'M' ELSE 'F' END
           FROM generate_series(($1::int + 2) / 3, ($2::int - 1) / 3) p
         ON CONFLICT (clinic_id, patient_key) DO NOTHING`,
        [from, to, SURNAMES],
      );
      const { rows: first } = await raw.query<{ id: string }>(`SELECT coalesce(max(id), 0)::text AS id FROM studies`);
      const firstStudyId = Number(first[0]?.id ?? 0);
      await timed(
        'studies',
        `INSERT INTO studies (clinic_id, patient_ref, study_instance_uid, patient_name, patient_id, patient_birth_date, patient_sex,
                              study_date, study_time, accession_number, referring_physician_name, study_id, study_description, modalities,
                              number_of_series, number_of_instances, received_at, last_instance_at, retain_until, priority, triage_status, reading_status)
         SELECT p.clinic_id, p.id, '2.25.555.' || s, p.patient_name, p.patient_id, p.birth_date, p.sex,
                to_char(date '2015-01-01' + (s % 3650), 'YYYYMMDD'), '101500', 'A' || s, 'REF^DOCTOR' || (s % 97), 'S' || s,
                'US Thyroid', ARRAY['US'], ${SERIES_PER_STUDY}, ${INSTANCES_PER_STUDY},
                now() - make_interval(secs => ($3::int - s) * 20), now() - make_interval(secs => ($3::int - s) * 20), now() + interval '15 years',
                (ARRAY['urgent','priority','routine','routine','routine'])[1 + (s % 5)],
                CASE WHEN s >= $3::int - ${QUEUE_STUDIES} THEN 'pending' ELSE 'triaged' END,
                CASE WHEN s >= $3::int - ${QUEUE_STUDIES} THEN 'new' ELSE 'reported' END
           FROM generate_series($1::int, $2::int - 1) s
           JOIN patients p ON p.clinic_id = (SELECT array_agg(id ORDER BY code) FROM clinics WHERE code LIKE 'bench-c%')[1 + ((s / 3) % ${CLINICS})]
                          AND p.patient_key = 'id:CP' || (s / 3)`,
        [from, to, s1],
      );
      await timed(
        'series',
        `INSERT INTO series (study_ref, series_instance_uid, modality, series_number, series_description, series_date, body_part_examined, number_of_instances)
         SELECT st.id, st.study_instance_uid || '.' || k, 'US', k, 'Thyroid ' || k, st.study_date, 'THYROID', ${INSTANCES_PER_STUDY / SERIES_PER_STUDY}
           FROM studies st, generate_series(1, ${SERIES_PER_STUDY}) k WHERE st.id > $1`,
        [firstStudyId],
      );
      // One object (content address), three copies and one instance per (series, k).
      await timed(
        'step',
        `CREATE TEMP TABLE step_instances ON COMMIT DROP AS
         SELECT se.id AS series_ref, st.id AS study_ref, st.clinic_id, se.series_instance_uid || '.' || k AS sop_instance_uid, k AS instance_number,
                encode(sha256(convert_to(se.series_instance_uid || '.' || k, 'UTF8')), 'hex') AS sha256,
                st.received_at + make_interval(secs => k) AS received_at, st.study_instance_uid, se.series_instance_uid, se.series_number,
                st.patient_name, st.patient_id, st.patient_birth_date, st.patient_sex, st.study_date, st.accession_number, st.study_id
           FROM series se JOIN studies st ON st.id = se.study_ref, generate_series(1, ${INSTANCES_PER_STUDY / SERIES_PER_STUDY}) k
          WHERE st.id > $1`,
        [firstStudyId],
      );
      await timed(
        'objects',
        `INSERT INTO objects (sha256, object_key, size_bytes, retain_until, created_at)
         SELECT sha256, 'sha256/' || substr(sha256, 1, 2) || '/' || substr(sha256, 3, 2) || '/' || sha256, 1048576, now() + interval '15 years', received_at
           FROM step_instances`,
      );
      await timed(
        'copies',
        `INSERT INTO copies (sha256, target, object_key, size_bytes, retain_until, lock_mode, state, last_verified_at, created_at)
         SELECT i.sha256, t, 'sha256/' || substr(i.sha256, 1, 2) || '/' || substr(i.sha256, 3, 2) || '/' || i.sha256, 1048576,
                now() + interval '15 years', 'COMPLIANCE', 'ok', now() - make_interval(days => (i.instance_number * 3) % 90), i.received_at
           FROM step_instances i, unnest(ARRAY['site-a', 'site-b', 'site-c']) t`,
      );
      await timed('instances', instancesInsert(), [JSON.stringify(US_DEVICE_ATTRIBUTES)]);
    });
    lab.log(`catalog-scale: studies ${to.toLocaleString('en')} (${(to * INSTANCES_PER_STUDY).toLocaleString('en')} instances), chunk in ${((Date.now() - started) / 1000).toFixed(0)} s (${spent.join(', ')} s)`);
  }
  const loadSeconds = (Date.now() - loadStarted) / 1000;
  const indexStarted = Date.now();
  await buildIndexes(pool, lab, indexes);
  const indexSeconds = (Date.now() - indexStarted) / 1000;
  const vacuumStarted = Date.now();
  await pool.query('VACUUM (ANALYZE) patients, studies, series, objects, copies, instances');
  const vacuumSeconds = (Date.now() - vacuumStarted) / 1000;
  lab.log(`catalog-scale: grown to ${s1.toLocaleString('en')} studies: rows ${loadSeconds.toFixed(0)} s, indexes ${indexSeconds.toFixed(0)} s, VACUUM (ANALYZE) ${vacuumSeconds.toFixed(0)} s`);
  return { loadSeconds, indexSeconds, vacuumSeconds };
}

/** One new study as ingest records it: 20 instances of an existing patient, three copies each. */
function studyRecords(clinicId: string, patient: number, n: number, now: Date): InstanceRecord[] {
  const studyUid = `2.25.777.${n}.${now.getTime()}`;
  const studyDate = now.toISOString().slice(0, 10).replace(/-/g, '');
  const patientName = `${SURNAMES[patient % 10] ?? 'WANG'}^P${patient}`;
  return Array.from({ length: INSTANCES_PER_STUDY }, (_, i) => {
    const series = 1 + (i % SERIES_PER_STUDY);
    const sop = `${studyUid}.${series}.${i}`;
    const sha256 = createHash('sha256').update(sop).digest('hex');
    return {
      clinicId,
      studyInstanceUid: studyUid,
      seriesInstanceUid: `${studyUid}.${series}`,
      sopInstanceUid: sop,
      sopClassUid: '1.2.840.10008.5.1.4.1.1.6.1',
      transferSyntaxUid: '1.2.840.10008.1.2.4.50',
      attributes: {
        PatientName: patientName, PatientID: `CP${patient}`, PatientBirthDate: '19700101', PatientSex: 'F',
        StudyDate: studyDate, StudyTime: '101500', AccessionNumber: `W${n}`, ReferringPhysicianName: 'REF^DOCTOR',
        StudyID: `W${n}`, StudyDescription: 'US Thyroid', Modality: 'US', SeriesNumber: series, SeriesDescription: `Thyroid ${series}`,
        SeriesDate: null, BodyPartExamined: 'THYROID', InstanceNumber: i + 1, Rows: 600, Columns: 800, NumberOfFrames: 1, PhotometricInterpretation: 'YBR_FULL_422',
      },
      // The whole header, as ingest stores it (the JSON's size is part of the write's cost: TOAST compression).
      dicomJson: {
        ...US_DEVICE_ATTRIBUTES,
        '00080016': attr('UI', '1.2.840.10008.5.1.4.1.1.6.1'),
        '00080018': attr('UI', sop),
        '00080020': attr('DA', studyDate),
        '00080050': attr('SH', `W${n}`),
        '00080060': attr('CS', 'US'),
        '00100010': attr('PN', { Alphabetic: patientName }),
        '00100020': attr('LO', `CP${patient}`),
        '0020000D': attr('UI', studyUid),
        '0020000E': attr('UI', `${studyUid}.${series}`),
        '00200013': attr('IS', i + 1),
      },
      frames: [{ offset: 1380, length: 1047196 }],
      sha256,
      datasetSha256: sha256,
      objectKey: `sha256/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`,
      size: 1_048_576,
      retainUntil: new Date(now.getTime() + 15 * 365 * 86_400_000),
      copies: ['site-a', 'site-b', 'site-c'].map((target) => ({
        target, key: `sha256/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`, versionId: null, size: 1_048_576,
        retainUntil: new Date(now.getTime() + 15 * 365 * 86_400_000), lockMode: 'COMPLIANCE' as const,
      })),
      failedCopies: [],
      receivedAt: now,
    };
  });
}

async function measureWrites(pool: Pool, clinicIds: string[], patients: number, writes: number, sizeIndex: number): Promise<Latency> {
  const random = prng(`catalog-writes-${sizeIndex}`);
  const ms: number[] = [];
  for (let n = 0; n < writes + 3; n += 1) {
    const patient = Math.floor(random() * patients);
    const clinicId = clinicIds[patient % CLINICS] ?? '';
    const recs = studyRecords(clinicId, patient, sizeIndex * 100_000 + n, new Date());
    const started = process.hrtime.bigint();
    await inTransaction(pool, async (client) => {
      const recorded = await recordInstances(client, recs);
      if (recorded.kind !== 'recorded') throw new Error('catalog-scale: a generated study conflicted');
      const events: AuditEventInput[] = recs.map((rec) => ({
        type: 'DICOM Instances Transferred', action: 'C', actor: { username: 'bench-device', role: 'clinic', clinicId },
        studyInstanceUid: rec.studyInstanceUid, clinicId, details: { via: 'bench', sopInstanceUid: rec.sopInstanceUid, outcome: 'stored', version: 1 },
      }));
      await appendAuditEvents(client, events);
    });
    if (n >= 3) ms.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return latency(ms);
}

/** EXPLAIN (ANALYZE) of the queries whose plans decide whether the catalog stays flat. */
async function plans(pool: Pool, s1: number): Promise<Record<string, string>> {
  const study = `2.25.555.${Math.floor(s1 / 2)}`;
  const queries: Record<string, string> = {
    'write path: versions of a SOP Instance UID': `SELECT id, version FROM instances WHERE sop_instance_uid = ANY(ARRAY['${study}.1.3', '${study}.2.7']) ORDER BY sop_instance_uid, version DESC`,
    'write path: copy upsert probe': `SELECT id FROM copies WHERE sha256 = encode(sha256(convert_to('${study}.1.3', 'UTF8')), 'hex') AND target = 'site-b'`,
    'QIDO: first current instance of a study': `SELECT ri.dicom_json FROM instances ri JOIN studies s ON s.id = ri.study_ref WHERE s.study_instance_uid = '${study}' AND ri.is_current ORDER BY ri.id LIMIT 1`,
    'keeper: copies due for verification': `SELECT id FROM copies WHERE state = 'ok' ORDER BY last_verified_at NULLS FIRST LIMIT 100`,
  };
  const out: Record<string, string> = {};
  for (const [name, sql] of Object.entries(queries)) {
    const { rows } = await pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) ${sql}`);
    out[name] = rows.map((r) => r['QUERY PLAN']).join('\n');
  }
  return out;
}

/** Bytes of one table (all its partitions): heap, TOAST (with its index), and each index by name. */
export interface TableStorage {
  table: string;
  rows: number;
  heapBytes: number;
  toastBytes: number;
  indexBytes: Record<string, number>;
}

const STORAGE_TABLES = ['instances', 'copies', 'objects', 'series', 'studies', 'patients'];

export async function tableStorage(pool: Pool): Promise<TableStorage[]> {
  const { rows: tables } = await pool.query<{ table: string; rows: number; heap: number; toast: number }>(
    // pg_partition_tree lists a partitioned table's partitions; a plain table is its own only relation.
    `WITH parts AS (
       SELECT t.oid AS root, p.relid FROM pg_class t, pg_partition_tree(t.oid) p WHERE t.relkind = 'p'
       UNION ALL SELECT t.oid, t.oid FROM pg_class t WHERE t.relkind IN ('r', 'i'))
     SELECT t.relname AS "table",
            (SELECT sum(greatest(c.reltuples, 0)) FROM parts p JOIN pg_class c ON c.oid = p.relid WHERE p.root = t.oid AND c.relkind = 'r')::float8 AS rows,
            (SELECT sum(pg_relation_size(p.relid)) FROM parts p WHERE p.root = t.oid)::float8 AS heap,
            (SELECT coalesce(sum(pg_total_relation_size(c.reltoastrelid)), 0) FROM parts p JOIN pg_class c ON c.oid = p.relid WHERE p.root = t.oid AND c.reltoastrelid <> 0)::float8 AS toast
       FROM pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = current_schema()
      WHERE t.relname = ANY($1::text[])`,
    [STORAGE_TABLES],
  );
  const { rows: indexes } = await pool.query<{ table: string; index: string; bytes: number }>(
    `SELECT t.relname AS "table", i.relname AS index,
            (CASE WHEN i.relkind = 'I' THEN (SELECT sum(pg_relation_size(p.relid)) FROM pg_partition_tree(i.oid) p) ELSE pg_relation_size(i.oid) END)::float8 AS bytes
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = current_schema()
      WHERE t.relname = ANY($1::text[]) ORDER BY 1, 2`,
    [STORAGE_TABLES],
  );
  return STORAGE_TABLES.flatMap((name) => {
    const t = tables.find((row) => row.table === name);
    if (!t) return [];
    const indexBytes = Object.fromEntries(indexes.filter((ix) => ix.table === name).map((ix) => [ix.index, ix.bytes]));
    return [{ table: name, rows: t.rows, heapBytes: t.heap, toastBytes: t.toast, indexBytes }];
  });
}

export async function headerSize(pool: Pool): Promise<{ textBytes: number; storedBytes: number }> {
  const { rows } = await pool.query<{ text: number; stored: number }>(
    `SELECT avg(length(dicom_json::text))::float8 AS text, avg(pg_column_size(dicom_json))::float8 AS stored FROM (SELECT dicom_json FROM instances LIMIT 2000) i`,
  );
  return { textBytes: rows[0]?.text ?? 0, storedBytes: rows[0]?.stored ?? 0 };
}

/** The catalog's bytes per instance row: heap, TOAST and indexes of every table, over instance rows. */
export function bytesPerInstance(storage: TableStorage[], instances: number): { heap: number; toast: number; indexes: number; total: number } {
  const sum = (f: (t: TableStorage) => number): number => storage.reduce((s, t) => s + f(t), 0) / Math.max(1, instances);
  const heap = sum((t) => t.heapBytes);
  const toast = sum((t) => t.toastBytes);
  const indexes = sum((t) => Object.values(t.indexBytes).reduce((a, b) => a + b, 0));
  return { heap, toast, indexes, total: heap + toast + indexes };
}

async function oneClinicReader(y: Yunying): Promise<{ username: string; password: string }> {
  if (!y.radiologist) throw new Error('no radiologist credentials from the seed');
  // Same password hash as the seeded radiologist; granted the first bench clinic only. A kept catalog
  // measured again has this user already.
  await y.pool.query(
    `INSERT INTO users (username, display_name, role, password_hash)
     SELECT 'bench-one-clinic', 'Bench one clinic', 'radiologist', password_hash FROM users WHERE username = 'radiologist'
     ON CONFLICT DO NOTHING`,
  );
  await y.pool.query(
    `INSERT INTO radiologist_grants (user_id, clinic_id)
     SELECT u.id, c.id FROM users u, clinics c WHERE u.username = 'bench-one-clinic' AND c.code = (SELECT min(code) FROM clinics WHERE code LIKE 'bench-c%')
     ON CONFLICT DO NOTHING`,
  );
  return { username: 'bench-one-clinic', password: y.radiologist.password };
}

/** What measuring a catalog of any size needs from its Yunying (viewer role running). */
export interface MeasureContext {
  y: Yunying;
  lab: Lab;
  client: HttpClient;
  radiologist: { username: string; password: string };
  oneClinicUser: { username: string; password: string };
  clinicIds: string[];
  requests: number;
  writes: number;
}

export async function prepareMeasurement(y: Yunying, lab: Lab, args: Args): Promise<MeasureContext> {
  if (!y.radiologist) throw new Error('no radiologist credentials from the seed');
  // The write path appends audit records, which are MAC'd with the lab's key, as the ingest process does.
  const algorithm = y.env.AUDIT_MAC_ALGORITHM === 'sha256' ? 'sha256' : 'sm3';
  installAuditKeyring(parseAuditKeyFile(fs.readFileSync(y.env.AUDIT_MAC_KEY_FILE ?? '', 'utf8'), algorithm));
  const oneClinicUser = await oneClinicReader(y);
  const { rows: clinicRows } = await y.pool.query<{ id: string }>(`SELECT id FROM clinics WHERE code LIKE 'bench-c%' ORDER BY code`);
  return { y, lab, client: new HttpClient(1), radiologist: y.radiologist, oneClinicUser, clinicIds: clinicRows.map((r) => r.id), requests: args.number('requests', 200), writes: args.number('writes', 40) };
}

/** Measures the catalog as it is now (`studies` generated studies): every request kind, the write path, bytes, plans. */
export async function measureSize(ctx: MeasureContext, sizeIndex: number, studies: number, growth: Growth): Promise<CatalogSizeResult> {
  const { y, lab, client, requests } = ctx;
  const viewer = y.urls.viewer ?? '';
  const loadAtStart = os.loadavg()[0] ?? 0;
  // Signed in after each growth step: growing outlasts an access token.
  const allClinics = await signIn(viewer, ctx.radiologist);
  const oneClinic = await signIn(viewer, ctx.oneClinicUser);
  const patients = Math.floor(studies / 3);
  const random = prng(`catalog-scale-${sizeIndex}`);
  const day = (n: number): string => new Date(Date.UTC(2015, 0, 1 + n)).toISOString().slice(0, 10).replace(/-/g, '');
  const patientOf = (): number => Math.floor(random() * patients);
  const kinds: { kind: string; token: string; path: () => string }[] = [
    { kind: 'QIDO studies by PatientID', token: allClinics, path: () => `/dicomweb/studies?PatientID=CP${patientOf()}&limit=50` },
    {
      kind: 'QIDO studies by PatientName prefix',
      token: allClinics,
      path: () => {
        const p = patientOf();
        return `/dicomweb/studies?PatientName=${SURNAMES[p % 10] ?? 'WANG'}%5EP${p}*&limit=50`;
      },
    },
    {
      kind: 'QIDO studies by StudyDate (7 days, limit 50)',
      token: allClinics,
      path: () => {
        const d = Math.floor(random() * 3640);
        return `/dicomweb/studies?StudyDate=${day(d)}-${day(d + 7)}&limit=50`;
      },
    },
    { kind: 'QIDO one clinic, newest 50', token: oneClinic, path: () => '/dicomweb/studies?limit=50' },
    {
      kind: 'QIDO one clinic, StudyDate (30 days)',
      token: oneClinic,
      path: () => {
        const d = Math.floor(random() * 3620);
        return `/dicomweb/studies?StudyDate=${day(d)}-${day(d + 30)}&limit=50`;
      },
    },
    { kind: 'QIDO instances of one study', token: allClinics, path: () => `/dicomweb/studies/2.25.555.${Math.floor(random() * studies)}/instances` },
    { kind: 'reading queue, first page', token: allClinics, path: () => '/api/queue' },
    { kind: 'reading queue, US, status new', token: allClinics, path: () => '/api/queue?modality=US&status=new' },
  ];
  const rows: CatalogSizeResult['rows'] = [];
  for (const k of kinds) {
    const headers = { authorization: `Bearer ${k.token}`, accept: 'application/dicom+json, application/json' };
    for (let i = 0; i < 5; i += 1) await client.request('GET', viewer + k.path(), headers);
    const ms: number[] = [];
    let errors = 0;
    let results = 0;
    for (let i = 0; i < requests; i += 1) {
      const res = await client.request('GET', viewer + k.path(), headers);
      if (res.status >= 300) {
        errors += 1;
        if (errors === 1) lab.log(`catalog-scale: ${k.kind}: ${res.status} ${res.body.toString().slice(0, 200)}`);
        continue;
      }
      ms.push(res.ms);
      if (res.status === 200) {
        const parsed = JSON.parse(res.body.toString()) as unknown;
        results += Array.isArray(parsed) ? parsed.length : Array.isArray((parsed as { items?: unknown[] }).items) ? (parsed as { items: unknown[] }).items.length : 0;
      }
    }
    rows.push({ kind: k.kind, latency: latency(ms), errors, meanResults: results / Math.max(1, ms.length) });
  }
  rows.push({ kind: 'write path: catalog transaction of a 20-instance study', latency: await measureWrites(y.pool, ctx.clinicIds, patients, ctx.writes, sizeIndex), errors: 0, meanResults: INSTANCES_PER_STUDY });
  const load = { start: loadAtStart, end: os.loadavg()[0] ?? 0 };
  const result: CatalogSizeResult = { instances: studies * INSTANCES_PER_STUDY, studies, growth, storage: await tableStorage(y.pool), header: await headerSize(y.pool), load, rows, plans: await plans(y.pool, studies) };
  lab.log(`catalog-scale: ${result.instances.toLocaleString('en')} instances (load ${load.start.toFixed(1)} -> ${load.end.toFixed(1)}): ${rows.map((r) => `${r.kind} p50 ${r.latency.p50.toFixed(1)} p95 ${r.latency.p95.toFixed(1)}`).join('; ')}`);
  const perRow = bytesPerInstance(result.storage, result.instances);
  lab.log(`catalog-scale: ${Math.round(perRow.total)} bytes per instance row (dicom_json ${Math.round(result.header.textBytes)} characters, ${Math.round(result.header.storedBytes)} bytes stored; heap ${Math.round(perRow.heap)}, TOAST ${Math.round(perRow.toast)}, indexes ${Math.round(perRow.indexes)}); ${JSON.stringify(result.storage)}`);
  return result;
}

/**
 * Why growing to `toStudies` must not start, or null: the bytes it would add (at `bytesPerInstanceRow`,
 * measured at the previous size or a first guess) plus WAL and sort headroom would leave less than
 * `minFreeBytes` of `freeBytes`.
 */
export function growthRefusal(fromStudies: number, toStudies: number, bytesPerInstanceRow: number | null, freeBytes: number, minFreeBytes: number): string | null {
  const perInstance = bytesPerInstanceRow ?? FIRST_GUESS_BYTES_PER_INSTANCE;
  const needed = Math.max(0, toStudies - fromStudies) * INSTANCES_PER_STUDY * perInstance + GROWTH_HEADROOM_BYTES;
  if (freeBytes - needed >= minFreeBytes) return null;
  const size = toStudies * INSTANCES_PER_STUDY;
  return `${(size / 1e6).toLocaleString('en')} M instance rows not grown: ~${(needed / 1e9).toFixed(0)} GB needed at ${Math.round(perInstance)} bytes per instance row (+${GROWTH_HEADROOM_BYTES / 1e9} GB WAL and sorts), ${(freeBytes / 1e9).toFixed(0)} GB free, ${(minFreeBytes / 1e9).toFixed(0)} GB to be kept free`;
}

/** `--sizes`: instance rows, each at least one study's. */
export function catalogSizes(args: Args, fallback: string): number[] {
  const sizes = args.string('sizes', fallback).split(',').map((s) => Math.floor(Number(s)));
  if (sizes.some((s) => !Number.isFinite(s) || s < INSTANCES_PER_STUDY)) throw new Error('--sizes: comma-separated instance counts');
  return sizes;
}

export const studiesFor = (instances: number): number => Math.floor(instances / INSTANCES_PER_STUDY);

export async function runCatalogScale(lab: Lab, args: Args): Promise<CatalogScaleResult> {
  const sizes = catalogSizes(args, '1000000,5000000,20000000');
  const minFreeBytes = args.number('min-free-gb', 10) * 1e9;
  const y = await lab.startYunying(['viewer']);
  try {
    const ctx = await prepareMeasurement(y, lab, args);
    const results: CatalogSizeResult[] = [];
    let studies = 0;
    let stopped: string | null = null;
    for (const [sizeIndex, size] of sizes.entries()) {
      const target = studiesFor(size);
      // Growing past the disk would fail half-way (and starve everything else on it): project the next
      // size from the bytes per instance row measured at the previous one and stop if it does not fit.
      const previous = results[results.length - 1];
      const disk = fs.statfsSync(lab.work);
      stopped = growthRefusal(studies, target, previous ? bytesPerInstance(previous.storage, previous.instances).total : null, disk.bavail * disk.bsize, minFreeBytes);
      if (stopped) {
        lab.log(`catalog-scale: ${stopped}`);
        break;
      }
      let growth: Growth = { loadSeconds: 0, indexSeconds: 0, vacuumSeconds: 0 };
      if (target > studies) {
        const loader = await loaderConnection(y.pool, lab);
        try {
          growth = await grow(loader, lab, studies, target);
        } finally {
          loader.release();
        }
      }
      studies = target;
      results.push(await measureSize(ctx, sizeIndex, studies, growth));
    }
    ctx.client.close();
    return { sizes: results, stopped };
  } finally {
    await y.stop();
  }
}

/** BEGIN … COMMIT on one client: the loader runs a whole growth step on a single connection. */
async function inOneTransaction(client: PoolClient, fn: (client: PoolClient) => Promise<void>): Promise<void> {
  await client.query('BEGIN');
  try {
    await fn(client);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** Whether a process is in the idle I/O scheduling class (ionice -c3); false where ionice is missing. */
function ioIdle(pid: number): boolean {
  try {
    return execFileSync('ionice', ['-p', String(pid)], { encoding: 'utf8' }).trim() === 'idle';
  } catch {
    return false;
  }
}

/**
 * The one connection a growth step runs on. Its PostgreSQL backend, not this process, generates the rows
 * and builds the indexes, so a loader started with nice / ionice -c3 (a shared machine) passes its priority
 * on to that backend (root may renice the postgres user's process; otherwise it is logged and the load goes
 * on), and turns parallel maintenance workers off (processes of their own, which would not inherit it).
 * maintenance_work_mem is the lab server's (256 MB) whichever server loads.
 */
export async function loaderConnection(pool: Pool, lab: Lab): Promise<PoolClient> {
  const client = await pool.connect();
  client.on('error', () => undefined);
  await client.query(`SET maintenance_work_mem = '256MB'`);
  const niceness = os.getPriority();
  const idle = ioIdle(process.pid);
  if (niceness > 0 || idle) {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const backend = rows[0]?.pid ?? 0;
    try {
      os.setPriority(backend, niceness);
      if (idle) execFileSync('ionice', ['-c3', '-p', String(backend)]);
      lab.log(`catalog-scale: loading backend ${backend} runs at nice ${niceness}${idle ? ', idle I/O class' : ''}`);
    } catch (error) {
      lab.log(`catalog-scale: could not lower the priority of backend ${backend}: ${error instanceof Error ? error.message : String(error)}`);
    }
    await client.query('SET max_parallel_maintenance_workers = 0');
  }
  return client;
}

export function catalogScaleTables(r: CatalogScaleResult, requests: number): Table[] {
  const first = r.sizes[0];
  const last = r.sizes[r.sizes.length - 1];
  const kinds = first?.rows.map((row) => row.kind) ?? [];
  const p95Of = (size: CatalogSizeResult | undefined, kind: string): number | null => size?.rows.find((row) => row.kind === kind)?.latency.p95 ?? null;
  const p50Of = (size: CatalogSizeResult | undefined, kind: string): number | null => size?.rows.find((row) => row.kind === kind)?.latency.p50 ?? null;
  const label = (s: CatalogSizeResult): string => `${(s.instances / 1e6).toLocaleString('en')} M`;
  const table: Table = {
    title: `Catalog at scale: p50 / p95 (ms) per size in instance rows; ${requests} sequential requests per QIDO/queue kind, writes as listed`,
    columns: ['request', ...r.sizes.flatMap((s) => [`p50 ${label(s)}`, `p95 ${label(s)}`]), 'p95 largest / smallest', '≤ 1.5'],
    rows: kinds.map((kind) => {
      // One size alone has nothing to compare with (a kept database measured on its own: --compare).
      const q = r.sizes.length > 1 ? ratio(p95Of(last, kind), p95Of(first, kind)) : null;
      return [kind, ...r.sizes.flatMap((s) => [p50Of(s, kind), p95Of(s, kind)]), q, q === null ? '—' : q <= 1.5 ? 'yes' : 'NO'];
    }),
    notes: [...(r.stopped ? [`stopped: ${r.stopped}`] : []), ...r.sizes.map(
      (s) =>
        `${label(s)}: ${s.studies.toLocaleString('en')} studies${s.measuredAt ? `, measured ${s.measuredAt.slice(0, 16).replace('T', ' ')} UTC` : ''}; grown in ${s.growth.loadSeconds.toFixed(0)} s rows + ${s.growth.indexSeconds.toFixed(0)} s indexes + ${s.growth.vacuumSeconds.toFixed(0)} s VACUUM (ANALYZE); load average ${s.load.start.toFixed(1)} -> ${s.load.end.toFixed(1)} while measured`,
    )],
  };
  const mb = (bytes: number): number => Math.round(bytes / 1e6);
  const storage: Table = {
    title: 'Catalog at scale: MB per table (all partitions) and bytes per instance row, at each size',
    columns: ['size', 'table', 'rows (estimate)', 'heap MB', 'TOAST MB', 'indexes MB', 'total MB', 'bytes / instance row'],
    rows: r.sizes.flatMap((s) => [
      ...s.storage.map((t) => {
        const indexes = Object.values(t.indexBytes).reduce((a, b) => a + b, 0);
        const total = t.heapBytes + t.toastBytes + indexes;
        return [label(s), t.table, Math.round(t.rows), mb(t.heapBytes), mb(t.toastBytes), mb(indexes), mb(total), Math.round(total / s.instances)];
      }),
      (() => {
        const per = bytesPerInstance(s.storage, s.instances);
        return [label(s), 'all', null, mb(per.heap * s.instances), mb(per.toast * s.instances), mb(per.indexes * s.instances), mb(per.total * s.instances), Math.round(per.total)];
      })(),
    ]),
    notes: [],
  };
  return [table, storage];
}
