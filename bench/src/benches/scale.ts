import type { Args } from '../lib/args';
import { CLINICS } from '../lib/corpus';
import { HttpClient } from '../lib/http';
import { signIn, type Lab } from '../lib/lab';
import type { Table } from '../lib/report';
import { latency, prng, type Latency } from '../lib/stats';

/**
 * Scale: QIDO-RS and the reading queue with `--studies` (default 1,000,000) synthetic studies in the
 * catalog of a fresh Yunying, inserted with INSERT ... SELECT generate_series (one patient per three
 * studies, spread over the 20 bench clinics, study dates over ten years, 95 % reported, 5 % waiting in
 * the queue). The radiologist is granted all clinics, the worst case for tenancy filters. Then
 * `--requests` sequential requests per kind over HTTP to the viewer, p50/p95. Only Yunying: loading a
 * million studies into Orthanc means sending a million files, which this machine cannot do in a run.
 * The synthetic studies have no instance rows, so study-level QIDO attributes that come from an
 * instance's JSON are absent; the lookup that would fetch them is still executed.
 */
export interface ScaleRow {
  kind: string;
  latency: Latency;
  errors: number;
  meanResults: number;
}

export interface ScaleResult {
  studies: number;
  insertSeconds: number;
  rows: ScaleRow[];
}

export async function runScale(lab: Lab, args: Args): Promise<ScaleResult> {
  const total = Math.floor(args.number('studies', 1_000_000));
  const requests = args.number('requests', 200);
  const y = await lab.startYunying(['viewer']);
  try {
    const started = Date.now();
    const patients = Math.max(1, Math.ceil(total / 3));
    await y.pool.query(
      `INSERT INTO patients (clinic_id, patient_key, patient_id, patient_name, birth_date, sex)
       SELECT ids[1 + (g % ${CLINICS})], 'SP' || g, 'SP' || g, 'SCALE^PATIENT' || g, '19700101', 'F'
         FROM (SELECT array_agg(id ORDER BY code) AS ids FROM clinics WHERE code LIKE 'bench-c%') c, generate_series(0, $1::int - 1) g`,
      [patients],
    );
    const { rows: minRows } = await y.pool.query<{ min: string }>(`SELECT min(id)::text AS min FROM patients WHERE patient_key LIKE 'SP%'`);
    const firstPatient = Number(minRows[0]?.min ?? 0);
    const batch = 100_000;
    for (let from = 0; from < total; from += batch) {
      const to = Math.min(total, from + batch) - 1;
      await y.pool.query(
        `INSERT INTO studies (clinic_id, patient_ref, study_instance_uid, patient_name, patient_id, study_date, study_time,
                              accession_number, study_description, modalities, number_of_series, number_of_instances,
                              received_at, last_instance_at, retain_until, priority, triage_status, reading_status)
         SELECT p.clinic_id, p.id, '2.25.77' || g, p.patient_name, p.patient_id,
                to_char(date '2015-01-01' + (g % 3650), 'YYYYMMDD'), '101500', 'SA' || g, 'US Thyroid',
                CASE WHEN g % 50 = 0 THEN ARRAY['CT'] ELSE ARRAY['US'] END, 1, 5,
                now() - make_interval(secs => ($3::int - g) * 30), now() - make_interval(secs => ($3::int - g) * 30),
                now() + interval '15 years',
                (ARRAY['urgent','priority','routine','routine','routine'])[1 + (g % 5)],
                CASE WHEN g % 20 = 0 THEN 'pending' ELSE 'triaged' END,
                CASE WHEN g % 20 = 0 THEN 'new' WHEN g % 20 = 1 THEN 'triaged' ELSE 'reported' END
           FROM generate_series($1::int, $2::int) g
           JOIN patients p ON p.id = $4::bigint + (g % $5::int)`,
        [from, to, total, firstPatient, patients],
      );
      lab.log(`scale: ${to + 1}/${total} studies (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    }
    await y.pool.query('ANALYZE patients; ANALYZE studies');
    const insertSeconds = (Date.now() - started) / 1000;
    if (!y.radiologist) throw new Error('no radiologist credentials from the seed');
    const token = await signIn(y.urls.viewer ?? '', y.radiologist);
    const random = prng('scale');
    const viewer = y.urls.viewer ?? '';
    const day = (n: number): string => new Date(Date.UTC(2015, 0, 1 + n)).toISOString().slice(0, 10).replace(/-/g, '');
    const kinds: { kind: string; path: () => string }[] = [
      { kind: 'QIDO studies by PatientID', path: () => `/dicomweb/studies?PatientID=SP${Math.floor(random() * patients)}&limit=50` },
      {
        kind: 'QIDO studies by date range (7 days, limit 50)',
        path: () => {
          const d = Math.floor(random() * 3640);
          return `/dicomweb/studies?StudyDate=${day(d)}-${day(d + 7)}&limit=50`;
        },
      },
      { kind: 'QIDO studies by modality CT (limit 50)', path: () => `/dicomweb/studies?ModalitiesInStudy=CT&limit=50` },
      { kind: 'QIDO studies by PatientName prefix', path: () => `/dicomweb/studies?PatientName=SCALE%5EPATIENT${Math.floor(random() * patients)}*&limit=50` },
      { kind: 'reading queue, first page (50)', path: () => '/api/queue' },
      { kind: 'reading queue, US, status new', path: () => '/api/queue?modality=US&status=new' },
    ];
    const client = new HttpClient(1);
    const rows: ScaleRow[] = [];
    for (const k of kinds) {
      for (let i = 0; i < 3; i += 1) await client.request('GET', viewer + k.path(), { authorization: `Bearer ${token}`, accept: 'application/json' });
      const ms: number[] = [];
      let errors = 0;
      let results = 0;
      for (let i = 0; i < requests; i += 1) {
        const res = await client.request('GET', viewer + k.path(), { authorization: `Bearer ${token}`, accept: 'application/json' });
        if (res.status >= 300) {
          errors += 1;
          if (errors === 1) lab.log(`scale: ${k.kind}: ${res.status} ${res.body.toString().slice(0, 200)}`);
          continue;
        }
        ms.push(res.ms);
        if (res.status === 200) {
          const parsed = JSON.parse(res.body.toString()) as unknown;
          results += Array.isArray(parsed) ? parsed.length : Array.isArray((parsed as { items?: unknown[] }).items) ? ((parsed as { items: unknown[] }).items.length) : 0;
        }
      }
      rows.push({ kind: k.kind, latency: latency(ms), errors, meanResults: results / Math.max(1, ms.length) });
    }
    client.close();
    return { studies: total, insertSeconds, rows };
  } finally {
    await y.stop();
  }
}

export function scaleTable(r: ScaleResult, requests: number): Table {
  return {
    title: `Scale: ${r.studies.toLocaleString('en')} studies in the catalog (inserted in ${r.insertSeconds.toFixed(0)} s); ${requests} sequential requests per kind (ms), Yunying only`,
    columns: ['request', 'p50', 'p95', 'p99', 'mean results', 'errors', 'p95 < 50 ms'],
    rows: r.rows.map((row) => [row.kind, row.latency.p50, row.latency.p95, row.latency.p99, row.meanResults, row.errors, row.latency.p95 < 50 ? 'yes' : 'NO']),
  };
}
