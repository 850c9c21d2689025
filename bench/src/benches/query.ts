import type { Args } from '../lib/args';
import { filesOf, type Corpus } from '../lib/corpus';
import { HttpClient, runPool, stowBody } from '../lib/http';
import { signIn, sleep, type Lab } from '../lib/lab';
import type { Table } from '../lib/report';
import { latency, pick, prng, ratio, type Latency } from '../lib/stats';

/**
 * Query and retrieve: the corpus is loaded into a fresh Yunying and a fresh Orthanc (STOW-RS, 4
 * clients), then the same request list (drawn from a seeded PRNG) is sent to each, one request at a
 * time over a keep-alive connection, after a short warm-up, each probe to both systems back to back. Latency is client-side, first byte sent to
 * last byte received. Yunying is called with a radiologist's Bearer token granted every bench clinic
 * (so both see the whole corpus); Orthanc without authentication.
 */
export interface QueryRow {
  kind: string;
  yunying: Latency & { errors: number; meanResults: number | null };
  orthanc: Latency & { errors: number; meanResults: number | null };
}

interface Probe {
  kind: string;
  path: string;
  accept: string;
  countResults: boolean;
  /** Paths from the server root instead of the DICOMweb base, per system. */
  rootPaths?: { yunying: string; orthanc: string };
}

const FRAME_ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*';

function probes(corpus: Corpus, n: number): Probe[] {
  const random = prng(`${corpus.seed}/query`);
  const out: Probe[] = [];
  const studies = corpus.studies;
  const dateShift = (d: string, days: number): string => {
    const t = new Date(Date.UTC(Number(d.slice(0, 4)), Number(d.slice(4, 6)) - 1, Number(d.slice(6, 8)) + days));
    return t.toISOString().slice(0, 10).replace(/-/g, '');
  };
  for (let i = 0; i < n; i += 1) {
    // Each server's floor: authenticated, no DICOM, no audit record (Yunying) / no lookup (Orthanc).
    out.push({ kind: 'floor: /api/auth/me (Y), /system (O)', path: '', accept: 'application/json', countResults: false, rootPaths: { yunying: '/api/auth/me', orthanc: '/system' } });
  }
  for (let i = 0; i < n; i += 1) {
    const s = pick(random, studies);
    out.push({ kind: 'QIDO studies by PatientID', path: `/studies?PatientID=${encodeURIComponent(s.patientId)}&limit=50`, accept: 'application/dicom+json', countResults: true });
  }
  for (let i = 0; i < n; i += 1) {
    const s = pick(random, studies);
    out.push({ kind: 'QIDO studies by date range (7 days)', path: `/studies?StudyDate=${s.studyDate}-${dateShift(s.studyDate, 7)}&limit=50`, accept: 'application/dicom+json', countResults: true });
  }
  for (let i = 0; i < n; i += 1) {
    const modality = random() < 0.8 ? 'US' : 'CT';
    out.push({ kind: 'QIDO studies by modality (limit 50)', path: `/studies?ModalitiesInStudy=${modality}&limit=50`, accept: 'application/dicom+json', countResults: true });
  }
  for (let i = 0; i < n; i += 1) {
    const s = pick(random, studies);
    out.push({ kind: 'WADO-RS study metadata', path: `/studies/${s.studyInstanceUid}/metadata`, accept: 'application/dicom+json', countResults: true });
  }
  for (let i = 0; i < n; i += 1) {
    const s = pick(random, studies);
    const inst = pick(random, s.instances);
    const frame = 1 + Math.floor(random() * inst.frames);
    out.push({ kind: 'WADO-RS one frame (as stored)', path: `/studies/${s.studyInstanceUid}/series/${inst.seriesInstanceUid}/instances/${inst.sopInstanceUid}/frames/${frame}`, accept: FRAME_ACCEPT, countResults: false });
  }
  for (let i = 0; i < n; i += 1) {
    const s = pick(random, studies);
    const inst = pick(random, s.instances);
    out.push({ kind: 'WADO-RS rendered frame (JPEG)', path: `/studies/${s.studyInstanceUid}/series/${inst.seriesInstanceUid}/instances/${inst.sopInstanceUid}/frames/1/rendered`, accept: 'image/jpeg', countResults: false });
  }
  return out;
}

type Samples = Map<string, { ms: number[]; errors: number; results: number[] }>;

interface Target {
  system: 'yunying' | 'orthanc';
  root: string;
  base: string;
  headers: Record<string, string>;
  samples: Samples;
}

function urlOf(target: Target, probe: Probe): string {
  return probe.rootPaths ? target.root + probe.rootPaths[target.system] : target.base + probe.path;
}

async function send(client: HttpClient, target: Target, probe: Probe): Promise<void> {
  const res = await client.request('GET', urlOf(target, probe), { accept: probe.accept, ...target.headers });
  const entry = target.samples.get(probe.kind) ?? { ms: [], errors: 0, results: [] };
  if (res.status < 200 || res.status >= 300) entry.errors += 1;
  else entry.ms.push(res.ms);
  if (probe.countResults && res.status === 200) {
    const parsed = JSON.parse(res.body.toString()) as unknown[];
    entry.results.push(Array.isArray(parsed) ? parsed.length : 0);
  } else if (probe.countResults && res.status === 204) entry.results.push(0);
  target.samples.set(probe.kind, entry);
}

/** One request of each kind, not measured: connections, caches and JIT warm on both sides. */
function warmUp(list: Probe[]): Probe[] {
  const seen = new Set<string>();
  return list.filter((p) => !seen.has(p.kind) && seen.add(p.kind) !== undefined);
}

/**
 * Each probe goes to both systems back to back, the order alternating, so a change in the machine's
 * load during the run (it is shared) falls on both alike. One request in flight at a time.
 */
async function measure(client: HttpClient, a: Target, b: Target, list: Probe[]): Promise<void> {
  for (const probe of warmUp(list)) {
    await client.request('GET', urlOf(a, probe), { accept: probe.accept, ...a.headers });
    await client.request('GET', urlOf(b, probe), { accept: probe.accept, ...b.headers });
  }
  for (const [i, probe] of list.entries()) {
    const [first, second] = i % 2 === 0 ? [a, b] : [b, a];
    await send(client, first, probe);
    await send(client, second, probe);
  }
}

/** PostgreSQL WAL syncs and commits per Yunying request (the access audit is written durably per request). */
export interface Durability {
  walSyncsPerRequest: number;
  commitsPerRequest: number;
}

/** Many readers at once: the same audited reads from `clients` keep-alive connections, one system at a time. */
export interface ReadersRow {
  clients: number;
  requests: number;
  yunying: Latency & { perSecond: number; errors: number };
  orthanc: Latency & { perSecond: number; errors: number };
  /** Yunying's access-audit cost: every read commits its record before its data is sent. */
  durability: Durability;
}

/**
 * The reads a reading room sends all day, each audited by Yunying (its record committed before the data):
 * study searches by patient and study metadata, alternating.
 */
function auditedReads(corpus: Corpus, n: number): Probe[] {
  const random = prng(`${corpus.seed}/readers`);
  return Array.from({ length: n }, (_, i): Probe => {
    const s = pick(random, corpus.studies);
    return i % 2 === 0
      ? { kind: 'reads', path: `/studies?PatientID=${encodeURIComponent(s.patientId)}&limit=50`, accept: 'application/dicom+json', countResults: false }
      : { kind: 'reads', path: `/studies/${s.studyInstanceUid}/metadata`, accept: 'application/dicom+json', countResults: false };
  });
}

async function readersRun(system: Target, list: Probe[], clients: number): Promise<Latency & { perSecond: number; errors: number }> {
  const client = new HttpClient(clients);
  const target: Target = { ...system, samples: new Map() };
  try {
    await runPool(warmUp(list).concat(list.slice(0, clients)), clients, (probe) => client.request('GET', urlOf(target, probe), { accept: probe.accept, ...target.headers }).then(() => undefined));
    const seconds = await runPool(list, clients, (probe) => send(client, target, probe));
    const entry = target.samples.get('reads');
    return { ...latency(entry?.ms ?? []), perSecond: list.length / seconds, errors: entry?.errors ?? 0 };
  } finally {
    client.close();
  }
}

export async function runQuery(lab: Lab, corpus: Corpus, args: Args): Promise<{ rows: QueryRow[]; durability: Durability; readers: ReadersRow[] }> {
  const n = args.number('requests', 100);
  const readerClients = args.numbers('readers', [1, 8, 32]);
  const readerRequests = args.number('reader-requests', 400);
  const y = await lab.startYunying(['ingest', 'viewer']);
  const o = await lab.startOrthanc();
  try {
    lab.log('query: loading the corpus into both (STOW-RS, 4 clients)');
    const loader = new HttpClient(4);
    await runPool(corpus.studies, 4, async (study) => {
      const files = filesOf(corpus, study);
      const a = stowBody(files);
      const ry = await loader.request('POST', `${y.urls.ingest ?? ''}/dicomweb/studies`, { 'content-type': a.contentType, accept: 'application/dicom+json', authorization: `ApiKey ${y.clinicKeys[study.clinic] ?? ''}` }, a.body);
      const ro = await loader.request('POST', `${o.url}/dicom-web/studies`, { 'content-type': a.contentType, accept: 'application/dicom+json' }, a.body);
      if (ry.status !== 200 || ro.status !== 200) lab.log(`load: study ${study.studyInstanceUid}: Yunying ${ry.status}, Orthanc ${ro.status}`);
    });
    loader.close();
    if (!y.radiologist) throw new Error('no radiologist credentials from the seed');
    const token = await signIn(y.urls.viewer ?? '', y.radiologist);
    const list = probes(corpus, n);
    const client = new HttpClient(1);
    lab.log(`query: ${list.length} requests per system`);
    const orthanc: Target = { system: 'orthanc', root: o.url, base: `${o.url}/dicom-web`, headers: {}, samples: new Map() };
    const viewer = y.urls.viewer ?? '';
    const yunying: Target = { system: 'yunying', root: viewer, base: `${viewer}/dicomweb`, headers: { authorization: `Bearer ${token}` }, samples: new Map() };
    const counters = async (): Promise<{ wal: number; commits: number }> => {
      const { rows } = await y.pool.query<{ wal: string; commits: string }>(
        `SELECT (SELECT wal_sync FROM pg_stat_wal)::text AS wal, (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())::text AS commits`,
      );
      return { wal: Number(rows[0]?.wal ?? 0), commits: Number(rows[0]?.commits ?? 0) };
    };
    await sleep(1100);
    const before = await counters();
    await measure(client, yunying, orthanc, list);
    // pg_stat counters reach the shared view at transaction end, at most once a second.
    await sleep(1100);
    const after = await counters();
    // Per DICOMweb request (warm-up included); the floor requests read no patient data and are not counted.
    const dicomRequests = [...list, ...warmUp(list)].filter((p) => !p.rootPaths).length;
    const durability: Durability = { walSyncsPerRequest: (after.wal - before.wal) / dicomRequests, commitsPerRequest: (after.commits - before.commits) / dicomRequests };
    client.close();
    // Concurrent readers: each system alone in turn (the order alternating by client count), Yunying's
    // commits and WAL syncs per request counted around its own turn.
    const readers: ReadersRow[] = [];
    for (const [i, clients] of readerClients.entries()) {
      const reads = auditedReads(corpus, readerRequests);
      lab.log(`query: ${reads.length} audited reads from ${clients} concurrent clients per system`);
      let y1: ReadersRow['yunying'] | undefined;
      let o1: ReadersRow['orthanc'] | undefined;
      let durable: Durability = { walSyncsPerRequest: 0, commitsPerRequest: 0 };
      const runYunying = async (): Promise<void> => {
        await sleep(1100);
        const start = await counters();
        y1 = await readersRun(yunying, reads, clients);
        await sleep(1100);
        const end = await counters();
        durable = { walSyncsPerRequest: (end.wal - start.wal) / reads.length, commitsPerRequest: (end.commits - start.commits) / reads.length };
      };
      const runOrthanc = async (): Promise<void> => {
        o1 = await readersRun(orthanc, reads, clients);
      };
      if (i % 2 === 0) {
        await runYunying();
        await runOrthanc();
      } else {
        await runOrthanc();
        await runYunying();
      }
      if (y1 && o1) readers.push({ clients, requests: reads.length, yunying: y1, orthanc: o1, durability: durable });
    }
    const kinds = [...new Set(list.map((p) => p.kind))];
    const summarise = (e: { ms: number[]; errors: number; results: number[] } | undefined): QueryRow['yunying'] => ({
      ...latency(e?.ms ?? []),
      errors: e?.errors ?? 0,
      meanResults: e && e.results.length > 0 ? e.results.reduce((s, v) => s + v, 0) / e.results.length : null,
    });
    return { rows: kinds.map((kind) => ({ kind, yunying: summarise(yunying.samples.get(kind)), orthanc: summarise(orthanc.samples.get(kind)) })), durability, readers };
  } finally {
    await y.stop();
    await o.stop();
  }
}

export function queryTable(corpus: Corpus, rows: QueryRow[], requests: number, durability: Durability): Table {
  return {
    title: `Query and retrieve: ${corpus.studies.length} studies / ${corpus.instances} instances loaded; ${requests} sequential requests per kind per system (ms)`,
    columns: ['request', 'Y p50', 'Y p95', 'Y p99', 'O p50', 'O p95', 'O p99', 'Y/O p50', 'Y/O p95', 'results Y/O', 'errors Y/O'],
    rows: rows.map((r) => [
      r.kind,
      r.yunying.p50,
      r.yunying.p95,
      r.yunying.p99,
      r.orthanc.p50,
      r.orthanc.p95,
      r.orthanc.p99,
      ratio(r.yunying.p50, r.orthanc.p50),
      ratio(r.yunying.p95, r.orthanc.p95),
      r.yunying.meanResults === null ? '' : `${r.yunying.meanResults.toFixed(1)}/${r.orthanc.meanResults?.toFixed(1) ?? '—'}`,
      `${r.yunying.errors}/${r.orthanc.errors}`,
    ]),
    notes: [
      'Y/O < 1: Yunying faster. Targets: WADO-RS frame p95 < 20 ms. "results": mean matches (QIDO) or instances (metadata) returned',
      `Yunying: ${durability.walSyncsPerRequest.toFixed(2)} PostgreSQL WAL syncs and ${durability.commitsPerRequest.toFixed(2)} commits per request (the access audit is written before data is sent)`,
    ],
  };
}

export function readersTable(corpus: Corpus, rows: ReadersRow[]): Table {
  return {
    title: `Concurrent readers: audited reads (QIDO by PatientID and study metadata, alternating) from N keep-alive clients, ${corpus.studies.length} studies loaded, each system alone in turn`,
    columns: ['clients', 'requests', 'Y req/s', 'O req/s', 'Y/O req/s', 'Y p50', 'Y p95', 'O p50', 'O p95', 'Y commits/req', 'Y WAL syncs/req', 'errors Y/O'],
    rows: rows.map((r) => [
      r.clients,
      r.requests,
      r.yunying.perSecond,
      r.orthanc.perSecond,
      ratio(r.yunying.perSecond, r.orthanc.perSecond),
      r.yunying.p50,
      r.yunying.p95,
      r.orthanc.p50,
      r.orthanc.p95,
      r.durability.commitsPerRequest,
      r.durability.walSyncsPerRequest,
      `${r.yunying.errors}/${r.orthanc.errors}`,
    ]),
    notes: [
      'Y/O req/s > 1: Yunying serves more reads per second. Yunying commits each read\'s audit record before sending its data; concurrent records share a commit (group commit), so commits/req falls below 1 as clients grow',
      '--readers 1,8,32 (client counts), --reader-requests 400 (per count and system)',
    ],
  };
}
