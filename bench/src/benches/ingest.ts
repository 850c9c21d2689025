import { spawn } from 'node:child_process';
import type { Args } from '../lib/args';
import { filesOf, pathsOf, type Corpus, type CorpusStudy } from '../lib/corpus';
import { HttpClient, prebuildStowBodies, runPool, stowBody, type StowBodies } from '../lib/http';
import { peakRssMB, sleep, type Lab, type Orthanc, type Yunying } from '../lib/lab';
import type { Table } from '../lib/report';
import { ratio } from '../lib/stats';
import { stowFailures } from '../lib/stow-result';
import { machineCpuDelta, sampleMachineCpu, type MachineCpu } from '../lib/machine-cpu';
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
  /**
   * The whole machine's CPU over the timed window (server, its database, the client, the kernel): what one
   * instance costs the machine, and whether cores were left idle (a run that waits) or not (bound by the cores).
   */
  machine: MachineCpu | null;
}

/** Runs `work` and reads the whole machine's CPU around it (lib/machine-cpu.ts). */
async function withMachineCpu<T>(work: () => Promise<T>): Promise<T & { machine: MachineCpu | null }> {
  const before = sampleMachineCpu();
  const value = await work();
  const after = sampleMachineCpu();
  return { ...value, machine: before === null || after === null ? null : machineCpuDelta(before, after) };
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

async function yunyingStow(lab: Lab, corpus: Corpus, concurrency: number, warmup?: Corpus, bodies?: StowBodies): Promise<IngestRun> {
  const y = await lab.startYunying(['ingest']);
  try {
    const url = `${y.urls.ingest ?? ''}/dicomweb/studies`;
    const send = (c: Corpus, client: HttpClient): Sender => async (study) => {
      const { body, contentType } = (c === corpus ? bodies?.get(study.studyInstanceUid) : undefined) ?? stowBody(filesOf(c, study));
      const res = await client.request('POST', url, { 'content-type': contentType, accept: 'application/dicom+json', authorization: `ApiKey ${y.clinicKeys[study.clinic] ?? ''}` }, body);
      return stowFailures(res.status, res.body, study.instances.length);
    };
    if (warmup) await warmHttp(warmup, concurrency, send);
    const before = await yunyingCount(y);
    const client = new HttpClient(concurrency);
    const { seconds, failed, machine } = await withMachineCpu(() => timeHttp(corpus, concurrency, client, send(corpus, client)));
    return result(corpus, { system: 'Yunying', channel: 'STOW-RS', concurrency, seconds, failed, stored: (await yunyingCount(y)) - before, peakRssMB: peakRssMB(y.pids[0] ?? 0), machine });
  } finally {
    await y.stop();
  }
}

/** The warm-up corpus through the same sender and clients, unmeasured; any instance it fails to store stops the benchmark. */
async function warmHttp(warmup: Corpus, concurrency: number, send: (c: Corpus, client: HttpClient) => Sender): Promise<void> {
  const client = new HttpClient(concurrency);
  const { failed } = await timeHttp(warmup, concurrency, client, send(warmup, client));
  if (failed > 0) throw new Error(`warm-up: ${failed} instances not stored`);
  await sleep(1000); // what the warm-up left running (thumbnails, relays) settles before the clock starts
}

async function orthancHttp(lab: Lab, corpus: Corpus, concurrency: number, channel: 'STOW-RS' | 'REST', warmup?: Corpus, bodies?: StowBodies): Promise<IngestRun> {
  const o = await lab.startOrthanc();
  try {
    const send = (c: Corpus, client: HttpClient): Sender => async (study) => {
      if (channel === 'STOW-RS') {
        const { body, contentType } = (c === corpus ? bodies?.get(study.studyInstanceUid) : undefined) ?? stowBody(filesOf(c, study));
        const res = await client.request('POST', `${o.url}/dicom-web/studies`, { 'content-type': contentType, accept: 'application/dicom+json' }, body);
        // Counted as for Yunying: from the status and the body's Failed / Referenced SOP sequences, not the status alone.
        return stowFailures(res.status, res.body, study.instances.length);
      }
      const files = filesOf(c, study);
      let bad = 0;
      for (const file of files) {
        const res = await client.request('POST', `${o.url}/instances`, { 'content-type': 'application/dicom' }, file);
        if (res.status !== 200) bad += 1;
      }
      return bad;
    };
    if (warmup) await warmHttp(warmup, concurrency, send);
    const before = (await orthancCount(o)) ?? 0;
    const client = new HttpClient(concurrency);
    const { seconds, failed, machine } = await withMachineCpu(() => timeHttp(corpus, concurrency, client, send(corpus, client)));
    const after = await orthancCount(o);
    return result(corpus, { system: 'Orthanc', channel, concurrency, seconds, failed, stored: after === null ? null : after - before, peakRssMB: peakRssMB(o.pid), machine });
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

async function dimseRun(lab: Lab, corpus: Corpus, system: 'Yunying' | 'Orthanc', concurrency: number, nodelay: boolean, warmup?: Corpus): Promise<IngestRun> {
  const channel = `DIMSE storescu${nodelay ? ' TCP_NODELAY=1' : ''}`;
  const warm = async (port: number, count: () => Promise<number | null>): Promise<number> => {
    if (warmup) {
      const t = await timeDimse(warmup, concurrency, port, 'BENCH00', nodelay);
      if (t.failedProcesses > 0) throw new Error(`warm-up: ${t.failedProcesses} storescu processes failed`);
      await sleep(1000);
    }
    return (await count()) ?? 0;
  };
  if (system === 'Yunying') {
    const y = await lab.startYunying(['ingest']);
    try {
      const before = await warm(y.dimsePort, () => yunyingCount(y));
      const t = await withMachineCpu(() => timeDimse(corpus, concurrency, y.dimsePort, 'BENCH00', nodelay));
      const stored = (await yunyingCount(y)) - before;
      return result(corpus, { system, channel, concurrency, seconds: t.seconds, failed: corpus.instances - stored, stored, peakRssMB: peakRssMB(y.pids[0] ?? 0), machine: t.machine });
    } finally {
      await y.stop();
    }
  }
  const o = await lab.startOrthanc();
  try {
    const before = await warm(o.dicomPort, () => orthancCount(o));
    const t = await withMachineCpu(() => timeDimse(corpus, concurrency, o.dicomPort, 'BENCH00', nodelay));
    const after = await orthancCount(o);
    const stored = after === null ? null : after - before;
    return result(corpus, { system, channel, concurrency, seconds: t.seconds, failed: corpus.instances - (stored ?? 0), stored, peakRssMB: peakRssMB(o.pid), machine: t.machine });
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

/** Every run starts a fresh system; with `warmup`, that corpus goes in first through the same channel and clients, unmeasured. */
export async function runIngest(lab: Lab, corpus: Corpus, args: Args, warmup?: Corpus): Promise<IngestRun[]> {
  const runs: IngestRun[] = [];
  const record = (r: IngestRun): void => {
    runs.push(r);
    lab.log(`${r.system} ${r.channel} c=${r.concurrency}: ${r.instancesPerSecond.toFixed(1)} inst/s, ${r.MBps.toFixed(1)} MB/s, failed ${r.failed}, stored ${String(r.stored)}`);
  };
  // --prebuilt-bodies: both systems' STOW-RS bodies built once before any clock starts (lib/http.ts).
  const bodies = args.flag('prebuilt-bodies') ? prebuildStowBodies(corpus) : undefined;
  for (const c of args.numbers('concurrency', [1, 4])) {
    record(await orthancHttp(lab, corpus, c, 'STOW-RS', warmup, bodies));
    record(await yunyingStow(lab, corpus, c, warmup, bodies));
    if (!args.flag('no-rest')) record(await orthancHttp(lab, corpus, c, 'REST', warmup));
  }
  if (!args.flag('no-dimse')) {
    for (const c of args.numbers('dimse-concurrency', [1, 4])) {
      for (const nodelay of [false, true]) {
        record(await dimseRun(lab, corpus, 'Orthanc', c, nodelay, warmup));
        record(await dimseRun(lab, corpus, 'Yunying', c, nodelay, warmup));
      }
    }
  }
  return runs;
}

/** Busy core-milliseconds of the whole machine per instance, as a table cell. */
function machineMsPerInstance(r: IngestRun): string {
  return r.machine === null ? '—' : ((r.machine.busy * 1000) / r.instances).toFixed(1);
}

/** Idle (and iowait) share of all core time over the run, in percent, as a table cell. */
function idlePercent(r: IngestRun): string {
  if (r.machine === null) return '—';
  const total = r.machine.busy + r.machine.idle + r.machine.iowait;
  return total > 0 ? (((r.machine.idle + r.machine.iowait) / total) * 100).toFixed(0) : '—';
}

export function ingestTables(corpus: Corpus, runs: IngestRun[], physical: PhysicalResult | null, warmup?: Corpus, prebuiltBodies = false): Table[] {
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
        `${machineMsPerInstance(y)}/${o ? machineMsPerInstance(o) : '—'}`,
        `${idlePercent(y)}/${o ? idlePercent(o) : '—'}`,
      ];
    });
  return [
    {
      title: `Ingest: ${corpus.instances} instances, ${(corpus.bytes / 1e9).toFixed(2)} GB, ${corpus.studies.length} studies (Yunying: 3 fsync'd locked copies + index; Orthanc: 1 copy + index)${warmup ? `, each system warmed with ${warmup.instances} other instances first` : ', cold systems'}${prebuiltBodies ? ', STOW-RS bodies built before the clock' : ''}`,
      columns: ['channel', 'clients', 'Yunying inst/s', 'Yunying MB/s', 'Orthanc inst/s', 'Orthanc MB/s', 'Y/O', 'Orthanc REST inst/s', 'Y/physical', 'failed Y/O', 'peak RSS MB Y/O', 'machine CPU ms/inst Y/O', 'idle cores % Y/O'],
      rows,
      notes: [
        'clients: concurrent HTTP requests (one STOW-RS request per study; REST: one request per instance) or parallel storescu processes',
        'Y/physical: Yunying instances/s over the physical limit measured in the same run (target >= 0.8); Y/O target >= 1',
        'machine CPU ms/inst: busy core time of the whole machine per instance over the run (server, database, client, kernel); idle cores %: the share of core time left idle or waiting on the disk (near 0: the cores bound the run)',
      ],
    },
  ];
}
