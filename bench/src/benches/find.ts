import { spawn } from 'node:child_process';
import { makeInstance } from '@yunying/dicom/testing';
import { buildFindQuery } from '@yunying/ingest';
import type { Pool } from '@yunying/catalog';
import type { Args } from '../lib/args';
import { HttpClient, runPool } from '../lib/http';
import { sleep, type Lab } from '../lib/lab';
import type { Table } from '../lib/report';
import { latency, prng, ratio, type Latency } from '../lib/stats';

/**
 * C-FIND latency beside Orthanc (issue #16), with dcmtk findscu (Study Root, STUDY level), one process per
 * query, timed spawn to exit: the same process and association cost on both sides (the echoscu row shows
 * how much of each figure that is).
 *
 * Both systems hold the same synthetic studies, numbered g = 0..N-1 (studyAttributes below, mirrored in
 * SQL by seedCatalog): three studies per patient, dates over ten years, one US instance each.
 * - Equal size (`--orthanc-studies`, default 10,000): Orthanc gets one small instance per study over its
 *   REST API (no pixel data; SyncStorageArea off, as only the index is measured); Yunying gets the same
 *   attributes in its catalog rows by INSERT ... SELECT generate_series (C-FIND reads only those rows).
 *   Requests alternate between the systems.
 * - Yunying alone at `--studies` (default 1,000,000): the catalog grows to that size with the same
 *   generator, then the same query kinds run again, and EXPLAIN ANALYZE of each kind's SQL is recorded
 *   (the plan's scans, and whether any is a sequential scan). Loading a million files into Orthanc is not
 *   possible in a run on this machine.
 * Every study belongs to the calling AE's clinic: the tenancy filter excludes nothing (its worst case).
 * Both cap a C-FIND at 1000 matches (Yunying's default, Orthanc's LimitFindResults set to it).
 */
export interface FindRow {
  kind: string;
  yunyingSmall: Latency & { errors: number; matches: number | null };
  orthancSmall: Latency & { errors: number; matches: number | null };
  yunyingLarge: (Latency & { errors: number; matches: number | null }) | null;
  plan: string | null;
  seqScan: boolean | null;
  sqlMs: number | null;
}

export interface FindResult {
  smallStudies: number;
  largeStudies: number;
  orthancLoadSeconds: number;
  seedSeconds: number;
  orthancVersion: string;
  rows: FindRow[];
}

const CALLING_AE = 'BENCH00';
const MAX_RESULTS = 1000;
const DAYS = 3650;
const RETURN_KEYS = ['StudyInstanceUID', 'PatientName', 'PatientID', 'StudyDate', 'AccessionNumber', 'StudyDescription', 'ModalitiesInStudy'];

/** The attributes of synthetic study g; seedCatalog writes the same in SQL. */
export function studyAttributes(g: number): { uid: string; patientId: string; patientName: string; date: string; accession: string } {
  const patient = Math.floor(g / 3);
  return { uid: `2.25.88${g}`, patientId: `FP${patient}`, patientName: `FIND${patient}^PATIENT`, date: day(g % DAYS), accession: `FA${g}` };
}

function day(n: number): string {
  return new Date(Date.UTC(2015, 0, 1 + n)).toISOString().slice(0, 10).replace(/-/g, '');
}

/** Studies g in [from, to) of the generator into the clinic's catalog, 100,000 per statement. */
async function seedCatalog(pool: Pool, clinicId: string, from: number, to: number, log: (line: string) => void): Promise<void> {
  const batch = 100_000;
  for (let start = from; start < to; start += batch) {
    const end = Math.min(to, start + batch);
    // Patients first (three studies each), then their studies; both keyed so a batch boundary inside a patient is harmless.
    await pool.query(
      `INSERT INTO patients (clinic_id, patient_key, patient_id, patient_name, birth_date, sex)
       SELECT $1::uuid, 'FP' || p, 'FP' || p, 'FIND' || p || '^PATIENT', '19700101', 'F'
         FROM generate_series($2::int / 3, ($3::int - 1) / 3) p
       ON CONFLICT (clinic_id, patient_key) DO NOTHING`,
      [clinicId, start, end],
    );
    await pool.query(
      `INSERT INTO studies (clinic_id, patient_ref, study_instance_uid, patient_name, patient_id, patient_birth_date, patient_sex,
                            study_date, study_time, accession_number, study_description, modalities, number_of_series,
                            number_of_instances, retain_until)
       SELECT $1::uuid, p.id, '2.25.88' || g, p.patient_name, p.patient_id, '19700101', 'F',
              to_char(date '2015-01-01' + (g % ${DAYS}), 'YYYYMMDD'), '101500', 'FA' || g, 'US Thyroid', ARRAY['US'], 1, 1,
              now() + interval '15 years'
         FROM generate_series($2::int, $3::int - 1) g
         JOIN patients p ON p.clinic_id = $1::uuid AND p.patient_key = 'FP' || (g / 3)`,
      [clinicId, start, end],
    );
    log(`find: catalog at ${end.toLocaleString('en')} studies`);
  }
  await pool.query('ANALYZE patients; ANALYZE studies');
}

interface Kind {
  kind: string;
  /** Matching keys for a query aimed at study g of a catalog of n studies. */
  keys: (g: number, n: number) => Record<string, string>;
}

const KINDS: Kind[] = [
  { kind: 'PatientID exact', keys: (g) => ({ PatientID: studyAttributes(g).patientId }) },
  { kind: 'PatientName wildcard (FIND123^*)', keys: (g) => ({ PatientName: `FIND${Math.floor(g / 3)}^*` }) },
  {
    kind: 'StudyDate range (2 days)',
    keys: (g) => ({ StudyDate: `${day(g % (DAYS - 1))}-${day((g % (DAYS - 1)) + 1)}` }),
  },
  { kind: 'AccessionNumber exact', keys: (g) => ({ AccessionNumber: studyAttributes(g).accession }) },
  { kind: 'StudyInstanceUID exact', keys: (g) => ({ StudyInstanceUID: studyAttributes(g).uid }) },
  {
    kind: 'StudyDate 2 years: result cap (1000)',
    keys: (g) => ({ StudyDate: `${day(g % (DAYS - 731))}-${day((g % (DAYS - 731)) + 730)}` }),
  },
];

function findscuArgs(port: number, keys: Record<string, string>, verbose: boolean): string[] {
  const args = [...(verbose ? ['-v'] : []), '-S', '-aet', CALLING_AE, '-k', 'QueryRetrieveLevel=STUDY'];
  for (const key of RETURN_KEYS) if (keys[key] === undefined) args.push('-k', key);
  for (const [key, value] of Object.entries(keys)) args.push('-k', `${key}=${value}`);
  return [...args, '127.0.0.1', String(port)];
}

function timed(tool: string, args: string[]): Promise<{ ms: number; code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(tool, args, { env: { ...process.env, TCP_NODELAY: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ ms: Number(process.hrtime.bigint() - started) / 1e6, code, output }));
  });
}

/** Matches in a verbose findscu run (its pending responses), or null when the query failed outright. */
function matchesOf(output: string): number | null {
  if (!/Received Final Find Response/.test(output)) return null;
  return [...output.matchAll(/Find Response: \d+ \(Pending\)/g)].length;
}

type Sample = Latency & { errors: number; matches: number | null };

/** `runs` timed queries of one kind on each system, the order alternating; targets from one seeded sequence. */
async function measure(kind: Kind, systems: Record<string, number>, n: number, runs: number, log: (line: string) => void): Promise<Record<string, Sample>> {
  const random = prng(`find-${kind.kind}-${n}`);
  const targets = Array.from({ length: runs }, () => Math.floor(random() * n));
  const names = Object.keys(systems);
  const ms: Record<string, number[]> = Object.fromEntries(names.map((s) => [s, []]));
  const errors: Record<string, number> = Object.fromEntries(names.map((s) => [s, 0]));
  const matches: Record<string, number | null> = {};
  // Warm-up, verbose, on the first target: the match count each system gives (they must agree).
  for (const [system, port] of Object.entries(systems)) {
    const warm = await timed('findscu', findscuArgs(port, kind.keys(targets[0] ?? 0, n), true));
    matches[system] = matchesOf(warm.output);
    if (matches[system] === null) log(`find: ${kind.kind} on ${system}: no final response:\n${warm.output.slice(-1500)}`);
  }
  for (let i = 0; i < targets.length; i += 1) {
    const order = i % 2 === 0 ? names : [...names].reverse();
    for (const system of order) {
      const r = await timed('findscu', findscuArgs(systems[system] ?? 0, kind.keys(targets[i] ?? 0, n), false));
      if (r.code === 0) ms[system]?.push(r.ms);
      else errors[system] = (errors[system] ?? 0) + 1;
    }
  }
  return Object.fromEntries(names.map((s) => [s, { ...latency(ms[s] ?? []), errors: errors[s] ?? 0, matches: matches[s] ?? null }]));
}

async function echoLatency(systems: Record<string, number>, runs: number): Promise<Record<string, Sample>> {
  const out: Record<string, Sample> = {};
  for (const [system, port] of Object.entries(systems)) {
    const ms: number[] = [];
    let errors = 0;
    for (let i = 0; i < runs; i += 1) {
      const r = await timed('echoscu', ['-aet', CALLING_AE, '127.0.0.1', String(port)]);
      if (r.code === 0) ms.push(r.ms);
      else errors += 1;
    }
    out[system] = { ...latency(ms), errors, matches: null };
  }
  return out;
}

interface PlanNode {
  'Node Type'?: string;
  'Index Name'?: string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

/** The scans of a plan, e.g. "Index Scan studies_patient_id", and whether any reads a whole table. */
function scansOf(node: PlanNode, out: string[] = []): string[] {
  const type = node['Node Type'] ?? '';
  if (/Scan/.test(type)) out.push(`${type}${node['Index Name'] !== undefined ? ` ${node['Index Name']}` : node['Relation Name'] !== undefined ? ` ${node['Relation Name']}` : ''}`);
  for (const child of node.Plans ?? []) scansOf(child, out);
  return out;
}

/** EXPLAIN ANALYZE of the SQL the C-FIND handler runs for this kind (the same builder). */
async function explainKind(pool: Pool, clinicId: string, kind: Kind, n: number): Promise<{ plan: string; seqScan: boolean; sqlMs: number }> {
  const target = Math.floor(prng(`explain-${kind.kind}`)() * n);
  const identifier: Record<string, unknown> = { QueryRetrieveLevel: 'STUDY', ...Object.fromEntries(RETURN_KEYS.map((k) => [k, ''])), ...kind.keys(target, n) };
  const query = buildFindQuery('study_root', identifier, clinicId, MAX_RESULTS + 1);
  const { rows } = await pool.query<{ 'QUERY PLAN': [{ Plan: PlanNode; 'Execution Time': number }] }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${query.sql}`, query.params);
  const explained = rows[0]?.['QUERY PLAN'][0];
  if (explained === undefined) throw new Error('EXPLAIN returned nothing');
  const scans = scansOf(explained.Plan);
  return { plan: scans.join(' + '), seqScan: scans.some((s) => s.startsWith('Seq Scan')), sqlMs: explained['Execution Time'] };
}

export async function runFind(lab: Lab, args: Args): Promise<FindResult> {
  const small = Math.floor(args.number('orthanc-studies', 10_000));
  const large = Math.max(small, Math.floor(args.number('studies', 1_000_000)));
  const runs = args.number('requests', 50);
  const y = await lab.startYunying(['ingest']);
  // DicomAlwaysAllowFind: Orthanc answers C-FIND from any AE, as Yunying answers any registered clinic AE.
  const o = await lab.startOrthanc({ LimitFindResults: MAX_RESULTS, SyncStorageArea: false, DicomAlwaysAllowFind: true });
  try {
    const clinic = await y.pool.query<{ clinic_id: string }>('SELECT clinic_id FROM clinic_ae_titles WHERE ae_title = $1', [CALLING_AE]);
    const clinicId = clinic.rows[0]?.clinic_id;
    if (clinicId === undefined) throw new Error(`no clinic for ${CALLING_AE}`);

    lab.log(`find: loading ${small.toLocaleString('en')} studies into Orthanc (REST, one instance each)`);
    const client = new HttpClient(4);
    const orthancLoadSeconds = await runPool(
      Array.from({ length: small }, (_, g) => g),
      4,
      async (g) => {
        const a = studyAttributes(g);
        const file = makeInstance({
          studyInstanceUid: a.uid, seriesInstanceUid: `2.25.89${g}`, sopInstanceUid: `2.25.90${g}`, patientId: a.patientId, patientName: a.patientName,
          birthDate: '19700101', studyDate: a.date, studyTime: '101500', accessionNumber: a.accession, studyDescription: 'US Thyroid', modality: 'US', noPixelData: true, rows: 8, columns: 8,
        });
        const r = await client.request('POST', `${o.url}/instances`, { 'content-type': 'application/dicom' }, file);
        if (r.status !== 200) throw new Error(`Orthanc refused study ${g}: ${r.status} ${r.body.toString().slice(0, 200)}`);
        if (g > 0 && g % 2000 === 0) lab.log(`find: Orthanc at ${g.toLocaleString('en')} studies`);
      },
    );
    client.close();
    let seeded = Date.now();
    await seedCatalog(y.pool, clinicId, 0, small, (line) => lab.log(line));
    let seedSeconds = (Date.now() - seeded) / 1000;
    await sleep(200);

    const both = { yunying: y.dimsePort, orthanc: o.dicomPort };
    const rows: FindRow[] = [];
    lab.log(`find: ${small.toLocaleString('en')} studies in each, ${runs} queries per kind per system`);
    const echo = await echoLatency(both, runs);
    const echoRow: FindRow = { kind: 'C-ECHO (echoscu): process + association only', yunyingSmall: echo.yunying as Sample, orthancSmall: echo.orthanc as Sample, yunyingLarge: null, plan: null, seqScan: null, sqlMs: null };
    rows.push(echoRow);
    for (const kind of KINDS) {
      const r = await measure(kind, both, small, runs, (line) => lab.log(line));
      rows.push({ kind: kind.kind, yunyingSmall: r.yunying as Sample, orthancSmall: r.orthanc as Sample, yunyingLarge: null, plan: null, seqScan: null, sqlMs: null });
    }
    await o.stop();

    if (large > small) {
      seeded = Date.now();
      await seedCatalog(y.pool, clinicId, small, large, (line) => lab.log(line));
      seedSeconds += (Date.now() - seeded) / 1000;
    }
    lab.log(`find: Yunying alone at ${large.toLocaleString('en')} studies`);
    echoRow.yunyingLarge = (await echoLatency({ yunying: y.dimsePort }, runs)).yunying ?? null;
    for (const [i, kind] of KINDS.entries()) {
      const row = rows[i + 1];
      if (row === undefined) continue;
      row.yunyingLarge = (await measure(kind, { yunying: y.dimsePort }, large, runs, (line) => lab.log(line))).yunying ?? null;
      Object.assign(row, await explainKind(y.pool, clinicId, kind, large));
    }
    return { smallStudies: small, largeStudies: large, orthancLoadSeconds, seedSeconds, orthancVersion: o.version, rows };
  } finally {
    await y.stop();
    await o.stop();
  }
}

export function findTable(r: FindResult): Table {
  const s = r.smallStudies.toLocaleString('en');
  const l = r.largeStudies.toLocaleString('en');
  return {
    title: `DIMSE C-FIND, Study Root, STUDY level, findscu wall time per query (ms): Yunying and Orthanc at ${s} studies, Yunying alone at ${l}`,
    columns: ['query', `Y p50 @${s}`, `Y p95 @${s}`, `O p50 @${s}`, `O p95 @${s}`, 'Y/O p50', 'Y/O p95', `matches Y/O @${s}`, `Y p50 @${l}`, `Y p95 @${l}`, `matches @${l}`, `SQL ms @${l}`, `plan @${l}`, 'errors'],
    rows: r.rows.map((row) => [
      row.kind,
      row.yunyingSmall.p50,
      row.yunyingSmall.p95,
      row.orthancSmall.p50,
      row.orthancSmall.p95,
      ratio(row.yunyingSmall.p50, row.orthancSmall.p50),
      ratio(row.yunyingSmall.p95, row.orthancSmall.p95),
      row.yunyingSmall.matches === null ? null : `${row.yunyingSmall.matches}/${String(row.orthancSmall.matches)}`,
      row.yunyingLarge?.p50 ?? null,
      row.yunyingLarge?.p95 ?? null,
      row.yunyingLarge?.matches ?? null,
      row.sqlMs,
      row.plan === null ? null : `${row.seqScan === true ? 'SEQ SCAN: ' : ''}${row.plan}`,
      `${row.yunyingSmall.errors}/${row.orthancSmall.errors}/${row.yunyingLarge?.errors ?? 0}`,
    ]),
    notes: [
      `Orthanc loaded with ${s} one-instance studies over REST in ${r.orthancLoadSeconds.toFixed(0)} s; Yunying's catalog seeded by SQL in ${r.seedSeconds.toFixed(0)} s in all (${r.orthancVersion})`,
      'Y/O < 1: Yunying faster. Matches are those of the first (warm-up) query of each kind; both stop at 1000 matches',
      'Every study belongs to the calling AE\'s clinic, so the tenancy filter excludes nothing; Yunying also writes a Query audit record per C-FIND',
      'errors: non-zero findscu exits, Yunying small / Orthanc / Yunying large',
    ],
  };
}
