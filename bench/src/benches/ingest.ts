import { spawn } from 'node:child_process';
import type { Args } from '../lib/args';
import { filesOf, pathsOf, type Corpus, type CorpusStudy } from '../lib/corpus';
import { HttpClient, runPool, stowBody } from '../lib/http';
import { peakRssMB, type Lab, type Orthanc, type Yunying } from '../lib/lab';
import type { Table } from '../lib/report';
import { ratio } from '../lib/stats';
import { stowFailures } from '../lib/stow-result';
import type { PhysicalResult } from './physical';

/**
 * Ingest: the whole corpus into a fresh Yunying (STOW-RS; three fsync'd, locked copies + catalog) and a
 * fresh Orthanc (STOW-RS and REST POST /instances; one copy + SQLite index), with the same client at
 * the same concurrency: one STOW request per study, one REST request per instance. Then DIMSE C-STORE with
 * dcmtk storescu into both, with and without TCP_NODELAY=1 in storescu's environment, with 1 and N
 * parallel storescu processes (studies dealt round-robin). Every run starts from empty systems, so no
 * re-send is recognised as a duplicate.
 */
export interface IngestRun {
  system: 'Yunying' | 'Orthanc';
  channel: string;
  concurrency: number;
  seconds: number;
  instances: number;
  failed: number;
  instancesPerSecond: number;
  MBps: number;
  stored: number | null;
  /** Peak RSS of the server process(es) during the run (Yunying: the ingest launcher; Orthanc). */
  peakRssMB: number | null;
}

type Sender = (study: CorpusStudy) => Promise<number>;

async function timeHttp(corpus: Corpus, concurrency: number, client: HttpClient, send: Sender): Promise<{ seconds: number; failed: number }> {
  let failed = 0;
  const seconds = await runPool(corpus.studies, concurrency, async (study) => {
    failed += await send(study);
  });
  client.close();
  return { seconds, failed };
}

function result(corpus: Corpus, r: Omit<IngestRun, 'instances' | 'instancesPerSecond' | 'MBps'>): IngestRun {
  return { ...r, instances: corpus.instances, instancesPerSecond: corpus.instances / r.seconds, MBps: corpus.bytes / 1e6 / r.seconds };
}

async function yunyingStow(lab: Lab, corpus: Corpus, concurrency: number): Promise<IngestRun> {
  const y = await lab.startYunying(['ingest']);
  try {
    const client = new HttpClient(concurrency);
    const url = `${y.urls.ingest ?? ''}/dicomweb/studies`;
    const { seconds, failed } = await timeHttp(corpus, concurrency, client, async (study) => {
      const files = filesOf(corpus, study);
      const { body, contentType } = stowBody(files);
      const res = await client.request('POST', url, { 'content-type': contentType, accept: 'application/dicom+json', authorization: `ApiKey ${y.clinicKeys[study.clinic] ?? ''}` }, body);
      return stowFailures(res.status, res.body, files.length);
    });
    return result(corpus, { system: 'Yunying', channel: 'STOW-RS', concurrency, seconds, failed, stored: await yunyingCount(y), peakRssMB: peakRssMB(y.pids[0] ?? 0) });
  } finally {
    await y.stop();
  }
}

async function orthancHttp(lab: Lab, corpus: Corpus, concurrency: number, channel: 'STOW-RS' | 'REST'): Promise<IngestRun> {
  const o = await lab.startOrthanc();
  try {
    const client = new HttpClient(concurrency);
    const { seconds, failed } = await timeHttp(corpus, concurrency, client, async (study) => {
      const files = filesOf(corpus, study);
      if (channel === 'STOW-RS') {
        const { body, contentType } = stowBody(files);
        const res = await client.request('POST', `${o.url}/dicom-web/studies`, { 'content-type': contentType, accept: 'application/dicom+json' }, body);
        // Counted as for Yunying: from the status and the body's Failed / Referenced SOP sequences, not the status alone.
        return stowFailures(res.status, res.body, files.length);
      }
      let bad = 0;
      for (const file of files) {
        const res = await client.request('POST', `${o.url}/instances`, { 'content-type': 'application/dicom' }, file);
        if (res.status !== 200) bad += 1;
      }
      return bad;
    });
    return result(corpus, { system: 'Orthanc', channel, concurrency, seconds, failed, stored: await orthancCount(o), peakRssMB: peakRssMB(o.pid) });
  } finally {
    await o.stop();
  }
}

async function storescu(files: string[], port: number, callingAe: string, nodelay: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    if (nodelay) env.TCP_NODELAY = '1';
    else delete env.TCP_NODELAY;
    // -xy: propose JPEG Baseline next to the uncompressed syntaxes (../shared/docs/INTEROP-NOTES.md).
    const child = spawn('storescu', ['-aet', callingAe, '-aec', 'ARCHIVE', '-xy', '--no-halt', '127.0.0.1', String(port), ...files], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => {
      if (err.length < 4000) err += c.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0 && process.env.BENCH_DEBUG) process.stderr.write(err);
      resolve(code ?? -1);
    });
  });
}

async function timeDimse(corpus: Corpus, concurrency: number, port: number, callingAe: string, nodelay: boolean): Promise<{ seconds: number; failedProcesses: number }> {
  const groups: string[][] = Array.from({ length: concurrency }, () => []);
  corpus.studies.forEach((s, i) => groups[i % concurrency]?.push(...pathsOf(corpus, s)));
  const started = process.hrtime.bigint();
  const codes = await Promise.all(groups.filter((g) => g.length > 0).map((g) => storescu(g, port, callingAe, nodelay)));
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, failedProcesses: codes.filter((c) => c !== 0).length };
}

async function dimseRun(lab: Lab, corpus: Corpus, system: 'Yunying' | 'Orthanc', concurrency: number, nodelay: boolean): Promise<IngestRun> {
  const channel = `DIMSE storescu${nodelay ? ' TCP_NODELAY=1' : ''}`;
  if (system === 'Yunying') {
    const y = await lab.startYunying(['ingest']);
    try {
      const t = await timeDimse(corpus, concurrency, y.dimsePort, 'BENCH00', nodelay);
      const stored = await yunyingCount(y);
      return result(corpus, { system, channel, concurrency, seconds: t.seconds, failed: corpus.instances - stored, stored, peakRssMB: peakRssMB(y.pids[0] ?? 0) });
    } finally {
      await y.stop();
    }
  }
  const o = await lab.startOrthanc();
  try {
    const t = await timeDimse(corpus, concurrency, o.dicomPort, 'BENCH00', nodelay);
    const stored = await orthancCount(o);
    return result(corpus, { system, channel, concurrency, seconds: t.seconds, failed: corpus.instances - (stored ?? 0), stored, peakRssMB: peakRssMB(o.pid) });
  } finally {
    await o.stop();
  }
}

async function yunyingCount(y: Yunying): Promise<number> {
  const { rows } = await y.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM instances WHERE is_current');
  return Number(rows[0]?.n ?? 0);
}

async function orthancCount(o: Orthanc): Promise<number | null> {
  const client = new HttpClient(1);
  try {
    const stats = await client.json<{ CountInstances: number }>('GET', `${o.url}/statistics`, {});
    return stats.CountInstances;
  } catch {
    return null;
  } finally {
    client.close();
  }
}

export async function runIngest(lab: Lab, corpus: Corpus, args: Args): Promise<IngestRun[]> {
  const runs: IngestRun[] = [];
  const record = (r: IngestRun): void => {
    runs.push(r);
    lab.log(`${r.system} ${r.channel} c=${r.concurrency}: ${r.instancesPerSecond.toFixed(1)} inst/s, ${r.MBps.toFixed(1)} MB/s, failed ${r.failed}, stored ${String(r.stored)}`);
  };
  for (const c of args.numbers('concurrency', [1, 4])) {
    record(await orthancHttp(lab, corpus, c, 'STOW-RS'));
    record(await yunyingStow(lab, corpus, c));
    if (!args.flag('no-rest')) record(await orthancHttp(lab, corpus, c, 'REST'));
  }
  if (!args.flag('no-dimse')) {
    for (const c of args.numbers('dimse-concurrency', [1, 4])) {
      for (const nodelay of [false, true]) {
        record(await dimseRun(lab, corpus, 'Orthanc', c, nodelay));
        record(await dimseRun(lab, corpus, 'Yunying', c, nodelay));
      }
    }
  }
  return runs;
}

export function ingestTables(corpus: Corpus, runs: IngestRun[], physical: PhysicalResult | null): Table[] {
  const keyOf = (r: IngestRun): string => `${r.channel === 'REST' ? 'STOW-RS' : r.channel}|${r.concurrency}`;
  const orthancBy = new Map<string, IngestRun>();
  for (const r of runs) if (r.system === 'Orthanc' && r.channel !== 'REST') orthancBy.set(keyOf(r), r);
  const restBy = new Map<number, IngestRun>();
  for (const r of runs) if (r.system === 'Orthanc' && r.channel === 'REST') restBy.set(r.concurrency, r);
  const rows = runs
    .filter((r) => r.system === 'Yunying')
    .map((y) => {
      const o = orthancBy.get(keyOf(y));
      return [
        y.channel,
        y.concurrency,
        y.instancesPerSecond,
        y.MBps,
        o?.instancesPerSecond ?? null,
        o?.MBps ?? null,
        ratio(y.instancesPerSecond, o?.instancesPerSecond),
        y.channel === 'STOW-RS' ? (restBy.get(y.concurrency)?.instancesPerSecond ?? null) : null,
        physical ? ratio(y.instancesPerSecond, physical.limitInstancesPerSecond) : null,
        `${y.failed}/${o?.failed ?? '—'}`,
        `${y.peakRssMB?.toFixed(0) ?? '—'}/${o?.peakRssMB?.toFixed(0) ?? '—'}`,
      ];
    });
  return [
    {
      title: `Ingest: ${corpus.instances} instances, ${(corpus.bytes / 1e9).toFixed(2)} GB, ${corpus.studies.length} studies (Yunying: 3 fsync'd locked copies + index; Orthanc: 1 copy + index)`,
      columns: ['channel', 'clients', 'Yunying inst/s', 'Yunying MB/s', 'Orthanc inst/s', 'Orthanc MB/s', 'Y/O', 'Orthanc REST inst/s', 'Y/physical', 'failed Y/O', 'peak RSS MB Y/O'],
      rows,
      notes: [
        'clients: concurrent HTTP requests (one STOW-RS request per study; REST: one request per instance) or parallel storescu processes',
        'Y/physical: Yunying instances/s over the physical limit measured in the same run (target >= 0.8); Y/O target >= 1',
      ],
    },
  ];
}
