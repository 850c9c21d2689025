import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { appendAuditEvents, installAuditKeyring, parseAuditKeyFile, type AuditEventInput } from '@yunying/audit';
import { inTransaction, recordInstances, type InstanceRecord, type Pool } from '@yunying/catalog';
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
 * Rows are generated in the throwaway PostgreSQL of the lab with INSERT ... SELECT generate_series: 20
 * instances per study in 2 series, one patient per three studies, 20 clinics, study dates over ten years
 * (density grows with size, as a real catalog's does), one object and three copies per instance, a
 * dicom_json of the study/series/instance attributes QIDO returns (~0.9 KB). The reading queue is held at
 * the ~2 000 newest studies unread at every size (a queue is bounded by reading, not by the archive).
 */
const INSTANCES_PER_STUDY = 20;
const SERIES_PER_STUDY = 2;
const QUEUE_STUDIES = 2_000;
const SURNAMES = ['WANG', 'LI', 'ZHANG', 'LIU', 'CHEN', 'YANG', 'HUANG', 'ZHAO', 'WU', 'ZHOU'];

export interface CatalogSizeResult {
  instances: number;
  studies: number;
  loadSeconds: number;
  tableSizes: Record<string, string>;
  rows: { kind: string; latency: Latency; errors: number; meanResults: number }[];
  plans: Record<string, string>;
}

export interface CatalogScaleResult {
  sizes: CatalogSizeResult[];
}

/** Rows of one growth step: studies [s0, s1) with their series, instances, objects, copies, patients. */
async function grow(pool: Pool, lab: Lab, s0: number, s1: number): Promise<void> {
  const chunk = 25_000;
  // The previous steps' queue is read now: only the newest studies stay unread.
  await pool.query(`UPDATE studies SET reading_status = 'reported', triage_status = 'triaged' WHERE reading_status <> 'reported' AND study_instance_uid LIKE '2.25.555.%'`);
  for (let from = s0; from < s1; from += chunk) {
    const to = Math.min(s1, from + chunk);
    const started = Date.now();
    const spent: string[] = [];
    await inTransaction(pool, async (raw) => {
      const db = {
        query: async (sql: string, params?: unknown[]): Promise<unknown> => {
          const t = Date.now();
          const r = await raw.query(sql, params);
          spent.push(`${((Date.now() - t) / 1000).toFixed(1)}`);
          return r;
        },
      };
      await db.query('SET LOCAL synchronous_commit = off');
      // Generated rows are consistent by construction: foreign-key triggers off while loading (the lab's
      // PostgreSQL runs as superuser); the measured write path below runs with them, as ingest does.
      await db.query("SET LOCAL session_replication_role = 'replica'");
      // Patients: one per three studies, number p = s / 3; clinic p % 20.
      await db.query(
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
      await db.query(
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
      await db.query(
        `INSERT INTO series (study_ref, series_instance_uid, modality, series_number, series_description, series_date, body_part_examined, number_of_instances)
         SELECT st.id, st.study_instance_uid || '.' || k, 'US', k, 'Thyroid ' || k, st.study_date, 'THYROID', ${INSTANCES_PER_STUDY / SERIES_PER_STUDY}
           FROM studies st, generate_series(1, ${SERIES_PER_STUDY}) k WHERE st.id > $1`,
        [firstStudyId],
      );
      // One object (content address), three copies and one instance per (series, k).
      await db.query(
        `CREATE TEMP TABLE step_instances ON COMMIT DROP AS
         SELECT se.id AS series_ref, st.id AS study_ref, st.clinic_id, se.series_instance_uid || '.' || k AS sop_instance_uid, k AS instance_number,
                encode(sha256(convert_to(se.series_instance_uid || '.' || k, 'UTF8')), 'hex') AS sha256,
                st.received_at + make_interval(secs => k) AS received_at, st.study_instance_uid, se.series_instance_uid, se.series_number,
                st.patient_name, st.patient_id, st.patient_birth_date, st.patient_sex, st.study_date, st.accession_number, st.study_id
           FROM series se JOIN studies st ON st.id = se.study_ref, generate_series(1, ${INSTANCES_PER_STUDY / SERIES_PER_STUDY}) k
          WHERE st.id > $1`,
        [firstStudyId],
      );
      await db.query(
        `INSERT INTO objects (sha256, object_key, size_bytes, retain_until, created_at)
         SELECT sha256, 'sha256/' || substr(sha256, 1, 2) || '/' || substr(sha256, 3, 2) || '/' || sha256, 1048576, now() + interval '15 years', received_at
           FROM step_instances`,
      );
      await db.query(
        `INSERT INTO copies (sha256, target, object_key, size_bytes, retain_until, lock_mode, state, last_verified_at, created_at)
         SELECT i.sha256, t, 'sha256/' || substr(i.sha256, 1, 2) || '/' || substr(i.sha256, 3, 2) || '/' || i.sha256, 1048576,
                now() + interval '15 years', 'COMPLIANCE', 'ok', now() - make_interval(days => (i.instance_number * 3) % 90), i.received_at
           FROM step_instances i, unnest(ARRAY['site-a', 'site-b', 'site-c']) t`,
      );
      await db.query(
        `INSERT INTO instances (series_ref, study_ref, clinic_id, sop_instance_uid, version, is_current, sop_class_uid, transfer_syntax_uid,
                                instance_number, rows, columns, number_of_frames, photometric, sha256, size_bytes, dicom_json, frames, received_at, dataset_sha256)
         SELECT series_ref, study_ref, clinic_id, sop_instance_uid, 1, true, '1.2.840.10008.5.1.4.1.1.6.1', '1.2.840.10008.1.2.4.50',
                instance_number, 600, 800, 1, 'YBR_FULL_422', sha256, 1048576,
                jsonb_build_object(
                  '00080016', jsonb_build_object('vr', 'UI', 'Value', jsonb_build_array('1.2.840.10008.5.1.4.1.1.6.1')),
                  '00080018', jsonb_build_object('vr', 'UI', 'Value', jsonb_build_array(sop_instance_uid)),
                  '00080020', jsonb_build_object('vr', 'DA', 'Value', jsonb_build_array(study_date)),
                  '00080030', jsonb_build_object('vr', 'TM', 'Value', jsonb_build_array('101500')),
                  '00080050', jsonb_build_object('vr', 'SH', 'Value', jsonb_build_array(accession_number)),
                  '00080060', jsonb_build_object('vr', 'CS', 'Value', jsonb_build_array('US')),
                  '00080070', jsonb_build_object('vr', 'LO', 'Value', jsonb_build_array('Bench Medical')),
                  '00081030', jsonb_build_object('vr', 'LO', 'Value', jsonb_build_array('US Thyroid')),
                  '0008103E', jsonb_build_object('vr', 'LO', 'Value', jsonb_build_array('Thyroid ' || series_number)),
                  '00100010', jsonb_build_object('vr', 'PN', 'Value', jsonb_build_array(jsonb_build_object('Alphabetic', patient_name))),
                  '00100020', jsonb_build_object('vr', 'LO', 'Value', jsonb_build_array(patient_id)),
                  '00100030', jsonb_build_object('vr', 'DA', 'Value', jsonb_build_array(patient_birth_date)),
                  '00100040', jsonb_build_object('vr', 'CS', 'Value', jsonb_build_array(patient_sex)),
                  '0020000D', jsonb_build_object('vr', 'UI', 'Value', jsonb_build_array(study_instance_uid)),
                  '0020000E', jsonb_build_object('vr', 'UI', 'Value', jsonb_build_array(series_instance_uid)),
                  '00200010', jsonb_build_object('vr', 'SH', 'Value', jsonb_build_array(study_id)),
                  '00200011', jsonb_build_object('vr', 'IS', 'Value', jsonb_build_array(series_number)),
                  '00200013', jsonb_build_object('vr', 'IS', 'Value', jsonb_build_array(instance_number)),
                  '00280010', jsonb_build_object('vr', 'US', 'Value', jsonb_build_array(600)),
                  '00280011', jsonb_build_object('vr', 'US', 'Value', jsonb_build_array(800))),
                '[{"offset": 1380, "length": 1047196}]'::jsonb, received_at, sha256
           FROM step_instances`,
      );
    });
    lab.log(`catalog-scale: studies ${to.toLocaleString('en')} (${(to * INSTANCES_PER_STUDY).toLocaleString('en')} instances), chunk in ${((Date.now() - started) / 1000).toFixed(0)} s (statements: ${spent.join(' ')} s)`);
  }
  await pool.query('ANALYZE patients; ANALYZE studies; ANALYZE series; ANALYZE objects; ANALYZE copies; ANALYZE instances');
}

/** One new study as ingest records it: 20 instances of an existing patient, three copies each. */
function studyRecords(clinicId: string, patient: number, n: number, now: Date): InstanceRecord[] {
  const studyUid = `2.25.777.${n}.${now.getTime()}`;
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
        PatientName: `${SURNAMES[patient % 10] ?? 'WANG'}^P${patient}`, PatientID: `CP${patient}`, PatientBirthDate: '19700101', PatientSex: 'F',
        StudyDate: now.toISOString().slice(0, 10).replace(/-/g, ''), StudyTime: '101500', AccessionNumber: `W${n}`, ReferringPhysicianName: 'REF^DOCTOR',
        StudyID: `W${n}`, StudyDescription: 'US Thyroid', Modality: 'US', SeriesNumber: series, SeriesDescription: `Thyroid ${series}`,
        SeriesDate: null, BodyPartExamined: 'THYROID', InstanceNumber: i + 1, Rows: 600, Columns: 800, NumberOfFrames: 1, PhotometricInterpretation: 'YBR_FULL_422',
      },
      dicomJson: { '00080018': { vr: 'UI', Value: [sop] } },
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

async function tableSizes(pool: Pool): Promise<Record<string, string>> {
  const { rows } = await pool.query<{ name: string; size: string }>(
    `SELECT t AS name, pg_size_pretty(sum(pg_total_relation_size(c.oid))) AS size
       FROM unnest(ARRAY['instances', 'copies', 'objects', 'studies', 'series']) t
       JOIN pg_class c ON c.relname = t OR c.relname LIKE t || '\\_h__'
       JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
      GROUP BY t`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.size]));
}

async function oneClinicReader(y: Yunying): Promise<{ username: string; password: string }> {
  if (!y.radiologist) throw new Error('no radiologist credentials from the seed');
  // Same password hash as the seeded radiologist; granted the first bench clinic only.
  await y.pool.query(
    `INSERT INTO users (username, display_name, role, password_hash)
     SELECT 'bench-one-clinic', 'Bench one clinic', 'radiologist', password_hash FROM users WHERE username = 'radiologist'`,
  );
  await y.pool.query(
    `INSERT INTO radiologist_grants (user_id, clinic_id)
     SELECT u.id, c.id FROM users u, clinics c WHERE u.username = 'bench-one-clinic' AND c.code = (SELECT min(code) FROM clinics WHERE code LIKE 'bench-c%')`,
  );
  return { username: 'bench-one-clinic', password: y.radiologist.password };
}

export async function runCatalogScale(lab: Lab, args: Args): Promise<CatalogScaleResult> {
  const sizes = args.string('sizes', '1000000,5000000,20000000').split(',').map((s) => Math.floor(Number(s)));
  if (sizes.some((s) => !Number.isFinite(s) || s < INSTANCES_PER_STUDY)) throw new Error('--sizes: comma-separated instance counts');
  const requests = args.number('requests', 200);
  const writes = args.number('writes', 40);
  const y = await lab.startYunying(['viewer']);
  try {
    if (!y.radiologist) throw new Error('no radiologist credentials from the seed');
    // The write path appends audit records, which are MAC'd with the lab's key, as the ingest process does.
    const algorithm = y.env.AUDIT_MAC_ALGORITHM === 'sha256' ? 'sha256' : 'sm3';
    installAuditKeyring(parseAuditKeyFile(fs.readFileSync(y.env.AUDIT_MAC_KEY_FILE ?? '', 'utf8'), algorithm));
    const viewer = y.urls.viewer ?? '';
    const allClinics = await signIn(viewer, y.radiologist);
    const oneClinic = await signIn(viewer, await oneClinicReader(y));
    const { rows: clinicRows } = await y.pool.query<{ id: string }>(`SELECT id FROM clinics WHERE code LIKE 'bench-c%' ORDER BY code`);
    const clinicIds = clinicRows.map((r) => r.id);
    const client = new HttpClient(1);
    const results: CatalogSizeResult[] = [];
    let studies = 0;
    for (const [sizeIndex, size] of sizes.entries()) {
      const target = Math.floor(size / INSTANCES_PER_STUDY);
      const started = Date.now();
      if (target > studies) await grow(y.pool, lab, studies, target);
      const loadSeconds = (Date.now() - started) / 1000;
      studies = target;
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
      rows.push({ kind: 'write path: catalog transaction of a 20-instance study', latency: await measureWrites(y.pool, clinicIds, patients, writes, sizeIndex), errors: 0, meanResults: INSTANCES_PER_STUDY });
      const result: CatalogSizeResult = { instances: studies * INSTANCES_PER_STUDY, studies, loadSeconds, tableSizes: await tableSizes(y.pool), rows, plans: await plans(y.pool, studies) };
      results.push(result);
      lab.log(`catalog-scale: ${result.instances.toLocaleString('en')} instances: ${rows.map((r) => `${r.kind} p95 ${r.latency.p95.toFixed(1)}`).join('; ')}`);
    }
    client.close();
    return { sizes: results };
  } finally {
    await y.stop();
  }
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
      const q = ratio(p95Of(last, kind), p95Of(first, kind));
      return [kind, ...r.sizes.flatMap((s) => [p50Of(s, kind), p95Of(s, kind)]), q, q === null ? '—' : q <= 1.5 ? 'yes' : 'NO'];
    }),
    notes: r.sizes.map((s) => `${label(s)}: ${s.studies.toLocaleString('en')} studies, grown in ${s.loadSeconds.toFixed(0)} s; ${Object.entries(s.tableSizes).map(([t, v]) => `${t} ${v}`).join(', ')}`),
  };
  return [table];
}
