import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Args } from '../lib/args';
import { filesOf, pathsOf, type Corpus } from '../lib/corpus';
import { storeWithWindow } from '../lib/dimse-window';
import { HttpClient, prebuildStowBodies, runPool, stowBody, type StowBodies } from '../lib/http';
import { REPO_ROOT, sleep, type Lab, type Yunying } from '../lib/lab';
import type { Table } from '../lib/report';
import { cpuByGroup, readStat, sampleThreads, type ThreadGroup } from '../lib/threads';
import { FILE_SYSCALLS, straceCallCounts } from '../lib/strace';
import { machineCpuDelta, sampleMachineCpu, type MachineCpu } from '../lib/machine-cpu';
import { blockDeviceDelta, blockDeviceStatFile, sampleBlockDevice, type BlockDeviceCounters } from '../lib/block-device';
import { stowFailures } from '../lib/stow-result';

/**
 * Explain ingest: what one Yunying STOW-RS instance costs, to say what bounds the ingest figure. One
 * client stores the corpus into a fresh Yunying (ingest role) while the benchmark counts, for that
 * window only: file system calls of the launcher process, fsyncs among them (strace -f -c, when strace is installed),
 * PostgreSQL WAL syncs (pg_stat_wal) and committed transactions (pg_stat_database), and the launcher's
 * CPU time (/proc/<pid>/stat, all threads; of it the kernel's share and the main thread's, from
 * /proc/<pid>/task/<pid>/stat). CPU per instance well below wall time per instance means the path waits
 * (on durable writes), rather than computes.
 */
/**
 * How the corpus is sent: STOW-RS (one request per study), DIMSE with dcmtk storescu (one association per
 * client, synchronous: one C-STORE outstanding), or DIMSE over one association per client with an
 * asynchronous operations window of 16 (lib/dimse-window.ts). With `--clients N` the studies are dealt
 * round-robin to N clients (STOW-RS requests, storescu processes or associations) that run at once.
 */
export type ExplainChannel = 'stow' | 'dimse' | 'dimse-window';

export const EXPLAIN_CHANNEL_NAMES: Record<ExplainChannel, string> = {
  stow: 'STOW-RS',
  dimse: 'DIMSE storescu',
  'dimse-window': 'DIMSE window 16',
};

/** "STOW-RS, 4 clients", "DIMSE storescu, 1 association". */
export function explainRunName(channel: ExplainChannel, clients: number): string {
  const unit = channel === 'stow' ? 'client' : 'association';
  return `${EXPLAIN_CHANNEL_NAMES[channel]}, ${clients} ${unit}${clients === 1 ? '' : 's'}`;
}

export interface ExplainResult {
  channel: ExplainChannel;
  /** Clients (STOW-RS requests, associations) sending at once. */
  clients: number;
  /** Instances of the warm-up corpus sent before the window (0: none; a cold launcher). */
  warmupInstances: number;
  instances: number;
  /** Instances not stored (answered otherwise or unanswered). */
  failed: number;
  wallSeconds: number;
  launcherCpuSeconds: number;
  /** Of launcherCpuSeconds: time in the kernel (system time), all threads. */
  launcherKernelSeconds: number;
  /** Of launcherCpuSeconds: the main (JavaScript) thread, user + system. */
  mainThreadCpuSeconds: number;
  /** Of launcherCpuSeconds, by thread group (lib/threads.ts); null without the probe's list of startup threads. */
  cpuByThreadGroup: Record<ThreadGroup, number> | null;
  /**
   * Minor page faults of the launcher, all threads: each first touch of a fresh page (a large Buffer is
   * mapped afresh by the allocator and zeroed by the kernel page by page), part of the kernel time above.
   */
  launcherMinorFaults: number;
  fsyncCalls: number | null;
  /** File system calls of the launcher by name (lib/strace.ts FILE_SYSCALLS; those made at least once); null without strace. */
  fileCalls: Record<string, number> | null;
  /** The probe's counts over the run (bench/probe.cjs); null when it wrote none. */
  probe: ProbeTotals | null;
  /** CPU time of the private PostgreSQL server (postmaster, its live children and those it reaped) during the run. */
  postgresCpuSeconds: number | null;
  walSyncs: number;
  commits: number;
  /** SQL statements by every client of the private PostgreSQL during the run; null without pg_stat_statements. */
  statements: number | null;
  /**
   * Transactions that wrote the run's instance rows (distinct xmin of `instances`, less the warm-up's: the Yunying under test is
   * fresh and nothing updates those rows here). Unlike `commits` it counts no read-only or background transaction.
   */
  instanceTransactions: number;
  /** The statements that took the server longest in the run (pg_stat_statements); empty without it. */
  topStatements: StatementCost[];
  /** The whole machine's CPU over the window, all cores (lib/machine-cpu.ts); null without /proc/stat. */
  machine: MachineCpu | null;
  /** The block device under the lab's work directory (the replicas, PostgreSQL) over the window; null on tmpfs or off Linux. */
  device: BlockDeviceCounters | null;
  /** CPU time of the benchmark's own process (the STOW-RS client, the windowed DIMSE client; storescu runs in processes of its own). */
  benchProcessCpuSeconds: number;
}

/** One statement's share of the server's time: planning counts only with pg_stat_statements.track_planning on. */
export interface StatementCost {
  /** The normalised text, whitespace collapsed, cut to a table cell. */
  query: string;
  calls: number;
  planMs: number;
  execMs: number;
}

const TOP_STATEMENTS = 8;

/** Running totals bench/probe.cjs writes at each SIGUSR2 (see there for what each counts). */
export interface ProbeTotals {
  gcMajor: number;
  gcMajorMs: number;
  gcMinor: number;
  gcMinorMs: number;
  sha256Bytes: number;
  copiedBytes: number;
  fileOps: number;
  fileOpMs: number;
  fsyncs: number;
  fsyncMs: number;
  /** Since the probe's previous line, not running totals. */
  loopDelayMeanMs: number;
  loopDelayP99Ms: number;
  /** Also since the previous line: the file operations' times from call to resolution, median, 99th percentile, longest. */
  fileOpP50Ms: number;
  fileOpP99Ms: number;
  fileOpMaxMs: number;
  fsyncP50Ms: number;
  fsyncP99Ms: number;
  fsyncMaxMs: number;
}

/** The fields of a probe line that describe only the time since the line before (the later line covers a window). */
const WINDOW_FIELDS = ['loopDelayMeanMs', 'loopDelayP99Ms', 'fileOpP50Ms', 'fileOpP99Ms', 'fileOpMaxMs', 'fsyncP50Ms', 'fsyncP99Ms', 'fsyncMaxMs'] as const;

/** The probe's line as totals; a missing field counts 0. */
function probeLine(line: string): ProbeTotals {
  const parsed = JSON.parse(line) as Partial<Record<keyof ProbeTotals, unknown>>;
  const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  return {
    gcMajor: n(parsed.gcMajor),
    gcMajorMs: n(parsed.gcMajorMs),
    gcMinor: n(parsed.gcMinor),
    gcMinorMs: n(parsed.gcMinorMs),
    sha256Bytes: n(parsed.sha256Bytes),
    copiedBytes: n(parsed.copiedBytes),
    fileOps: n(parsed.fileOps),
    fileOpMs: n(parsed.fileOpMs),
    fsyncs: n(parsed.fsyncs),
    fsyncMs: n(parsed.fsyncMs),
    loopDelayMeanMs: n(parsed.loopDelayMeanMs),
    loopDelayP99Ms: n(parsed.loopDelayP99Ms),
    fileOpP50Ms: n(parsed.fileOpP50Ms),
    fileOpP99Ms: n(parsed.fileOpP99Ms),
    fileOpMaxMs: n(parsed.fileOpMaxMs),
    fsyncP50Ms: n(parsed.fsyncP50Ms),
    fsyncP99Ms: n(parsed.fsyncP99Ms),
    fsyncMaxMs: n(parsed.fsyncMaxMs),
  };
}

/** What the probe counted between two readings. */
function probeDelta(from: ProbeTotals, to: ProbeTotals): ProbeTotals {
  return {
    gcMajor: to.gcMajor - from.gcMajor,
    gcMajorMs: to.gcMajorMs - from.gcMajorMs,
    gcMinor: to.gcMinor - from.gcMinor,
    gcMinorMs: to.gcMinorMs - from.gcMinorMs,
    sha256Bytes: to.sha256Bytes - from.sha256Bytes,
    copiedBytes: to.copiedBytes - from.copiedBytes,
    fileOps: to.fileOps - from.fileOps,
    fileOpMs: to.fileOpMs - from.fileOpMs,
    fsyncs: to.fsyncs - from.fsyncs,
    fsyncMs: to.fsyncMs - from.fsyncMs,
    // The later line's delay and tails cover the window (the probe resets its histograms at each line).
    ...(Object.fromEntries(WINDOW_FIELDS.map((field) => [field, to[field]])) as Pick<ProbeTotals, (typeof WINDOW_FIELDS)[number]>),
  };
}

/**
 * The whole machine over the window: busy core time and what of it was neither the launcher, PostgreSQL nor the
 * benchmark's process, and the idle core time left (of it iowait). Little idle left means the cores bound the
 * run; much left means it waited.
 */
function machineRows(r: ExplainResult): Array<[string, number | null, number | null]> {
  const ms = (seconds: number): [number, number] => [seconds * 1000, (seconds * 1000) / r.instances];
  if (r.machine === null) return [['machine CPU (/proc/stat unreadable)', null, null]];
  const other = r.machine.busy - r.launcherCpuSeconds - (r.postgresCpuSeconds ?? 0) - r.benchProcessCpuSeconds;
  return [
    ['benchmark process CPU: its STOW-RS or windowed DIMSE client; storescu runs apart (ms)', ...ms(r.benchProcessCpuSeconds)],
    ['machine CPU busy, all cores, all processes (ms)', ...ms(r.machine.busy)],
    ['  of it not the launcher, PostgreSQL or the benchmark process (ms)', ...ms(Math.max(0, other))],
    ['machine CPU idle, all cores (ms)', ...ms(r.machine.idle + r.machine.iowait)],
    ['  of it waiting on the disk: iowait (ms)', ...ms(r.machine.iowait)],
  ];
}

/**
 * How the file operations waited and what the disk did (session 26): a copy is a chain of ~17 operations, so
 * each one's time from call to resolution (the pool's queue and the event loop's turn included) adds up per
 * instance, while the device's busy share says whether the disk was the bound.
 */
function waitRows(r: ExplainResult): Array<[string, number | null, number | null]> {
  const per = (v: number | null): number | null => (v === null ? null : v / r.instances);
  const mean = (ms: number, n: number): number | null => (n > 0 ? ms / n : null);
  const p = r.probe;
  const d = r.device;
  return [
    ['file operations by the launcher (fs/promises, file handles)', p?.fileOps ?? null, per(p?.fileOps ?? null)],
    ['  their mean time from call to resolution (ms, in the total column)', p === null ? null : mean(p.fileOpMs, p.fileOps), null],
    ['    their median (ms, in the total column)', p?.fileOpP50Ms ?? null, null],
    ['    their 99th percentile (ms, in the total column)', p?.fileOpP99Ms ?? null, null],
    ['    the longest (ms, in the total column)', p?.fileOpMaxMs ?? null, null],
    ['  of them fsync + fdatasync', p?.fsyncs ?? null, per(p?.fsyncs ?? null)],
    ['    their mean time from call to resolution (ms, in the total column)', p === null ? null : mean(p.fsyncMs, p.fsyncs), null],
    ['      their median (ms, in the total column)', p?.fsyncP50Ms ?? null, null],
    ['      their 99th percentile (ms, in the total column)', p?.fsyncP99Ms ?? null, null],
    ['      the longest (ms, in the total column)', p?.fsyncMaxMs ?? null, null],
    ['event-loop delay over the window, mean (ms, in the total column)', p?.loopDelayMeanMs ?? null, null],
    ['  99th percentile (ms, in the total column)', p?.loopDelayP99Ms ?? null, null],
    ['block device of the work directory: write requests', d?.writes ?? null, per(d?.writes ?? null)],
    ['  cache flushes', d?.flushes ?? null, per(d?.flushes ?? null)],
    ['  busy: requests in flight (% of the wall time, in the total column)', d === null ? null : (d.busyMs / (r.wallSeconds * 1000)) * 100, null],
  ];
}

/** The threads that existed when the probe loaded (its `startupThreads`), from the first line it wrote; null when none. */
function probeStartupThreads(file: string): Set<number> | null {
  const first = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n')[0] : undefined;
  if (!first) return null;
  const listed = (JSON.parse(first) as { startupThreads?: unknown }).startupThreads;
  return Array.isArray(listed) && listed.length > 0 ? new Set(listed.filter((t): t is number => typeof t === 'number')) : null;
}

/** Asks the launcher's probe for its totals and reads the line it appends (null when none comes). */
async function probeTotals(pid: number, file: string): Promise<ProbeTotals | null> {
  const lines = (): string[] => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '') : []);
  const before = lines().length;
  process.kill(pid, 'SIGUSR2');
  for (let waited = 0; waited < 2000; waited += 20) {
    const all = lines();
    const last = all.length > before ? all[all.length - 1] : undefined;
    if (last !== undefined) return probeLine(last);
    await sleep(20);
  }
  return null;
}

interface CpuTimes {
  user: number;
  system: number;
  minorFaults: number;
}

/** The fields of a /proc stat file after "pid (comm) ": index 0 is proc(5)'s field 3 (state). */
function statFields(statFile: string): string[] {
  return readStat(statFile).fields;
}

/** utime, stime and minflt of /proc/<pid>/stat (all threads) or /proc/<pid>/task/<tid>/stat (one thread); times in seconds. */
function cpuTimes(statFile: string): CpuTimes {
  const fields = statFields(statFile);
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100, minorFaults: Number(fields[7]) };
}

/** The process (all threads) and its main thread, whose thread id is the process id. */
function sampleCpu(pid: number): { all: CpuTimes; main: CpuTimes } {
  return { all: cpuTimes(`/proc/${pid}/stat`), main: cpuTimes(`/proc/${pid}/task/${pid}/stat`) };
}

/**
 * CPU time of a PostgreSQL server so far: the postmaster's own and that of the children it reaped (backends
 * that ended; cutime/cstime), plus every live child's. Null when the server's pid cannot be read.
 */
function postgresCpuSeconds(dataDir: string): number | null {
  try {
    const postmaster = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const fields = statFields(`/proc/${postmaster}/stat`);
    // utime, stime, cutime, cstime (proc(5) fields 14-17).
    let ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const f = statFields(`/proc/${entry}/stat`);
        // ppid (field 4), then the child's own utime and stime.
        if (Number(f[1]) === postmaster) ticks += Number(f[11]) + Number(f[12]);
      } catch {
        // A process that ended meanwhile: its time is in the postmaster's cutime now, or was never ours.
      }
    }
    return ticks / 100;
  } catch {
    return null;
  }
}

/** Sends the corpus over one channel with `clients` clients at once; resolves with how many instances were not stored. */
async function sendCorpus(channel: ExplainChannel, corpus: Corpus, y: Pick<Yunying, 'urls' | 'clinicKeys' | 'dimsePort'>, clients: number, bodies?: StowBodies): Promise<number> {
  // Studies dealt round-robin, so each client sends whole studies (as a modality would).
  const shares = Array.from({ length: clients }, (_, c) => corpus.studies.filter((_, i) => i % clients === c)).filter((share) => share.length > 0);
  switch (channel) {
    case 'stow': {
      const client = new HttpClient(clients);
      let failed = 0;
      try {
        await runPool(corpus.studies, clients, async (study) => {
          const { body, contentType } = bodies?.get(study.studyInstanceUid) ?? stowBody(filesOf(corpus, study));
          const res = await client.request('POST', `${y.urls.ingest ?? ''}/dicomweb/studies`, { 'content-type': contentType, accept: 'application/dicom+json', authorization: `ApiKey ${y.clinicKeys[study.clinic] ?? ''}` }, body);
          failed += stowFailures(res.status, res.body, study.instances.length);
        });
      } finally {
        client.close();
      }
      return failed;
    }
    case 'dimse': {
      const failed = await Promise.all(
        shares.map(async (share) => {
          const files = share.flatMap((study) => pathsOf(corpus, study));
          const code = await new Promise<number>((resolve, reject) => {
            const child = spawn('storescu', ['-aet', 'BENCH00', '-aec', 'ARCHIVE', '-xy', '--no-halt', '127.0.0.1', String(y.dimsePort), ...files], { env: { ...process.env, TCP_NODELAY: '1' }, stdio: 'ignore' });
            child.once('error', reject);
            child.once('exit', (c) => resolve(c ?? -1));
          });
          return code === 0 ? 0 : files.length;
        }),
      );
      return failed.reduce((a, b) => a + b, 0);
    }
    case 'dimse-window': {
      const failed = await Promise.all(
        shares.map(async (share) => (await storeWithWindow({ port: y.dimsePort, callingAe: 'BENCH00', calledAe: 'ARCHIVE', files: share.flatMap((study) => pathsOf(corpus, study)), window: 16 })).failed),
      );
      return failed.reduce((a, b) => a + b, 0);
    }
  }
}

export async function runExplain(lab: Lab, corpus: Corpus, args: Args, channel: ExplainChannel = 'stow', clients = 1, warmup?: Corpus): Promise<ExplainResult> {
  // The probe (bench/probe.cjs) counts collections, SHA-256 bytes and user-space copies in the launcher.
  const probeFile = path.join(lab.work, `probe-${channel}-${clients}-${Date.now()}.jsonl`);
  const nodeOptions = [process.env.BENCH_NODE_OPTIONS ?? '', '--require', path.join(REPO_ROOT, 'bench/probe.cjs')].join(' ').trim();
  const y = await lab.startYunying(['ingest'], { NODE_OPTIONS: nodeOptions, YUNYING_BENCH_PROBE_FILE: probeFile });
  try {
    const pid = y.pids[0] ?? 0;
    // Before anything counts (strace included): a long-running ingest node has long since compiled its hot
    // paths (a fresh launcher compiles ~350 functions with TurboFan in its first 600 instances).
    const warmupFailed = warmup === undefined ? 0 : await sendCorpus(channel, warmup, y, clients);
    if (warmupFailed > 0) throw new Error(`warm-up: ${warmupFailed} instances not stored`);
    if (warmup !== undefined) await sleep(1000); // its thumbnails and outbox relay, before the window opens
    const useStrace = !args.flag('no-strace') && fs.existsSync('/usr/bin/strace');
    let straceOut = '';
    const strace = useStrace ? spawn('strace', ['-f', '-c', '-e', `trace=${FILE_SYSCALLS.join(',')}`, '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] }) : null;
    strace?.stderr.on('data', (c: Buffer) => {
      straceOut += c.toString();
    });
    if (strace) await sleep(1500);
    const rowsBefore = await y.pool.query<{ n: number }>('SELECT count(DISTINCT xmin::text)::int AS n FROM instances');
    const statementsTracked = await y.pool
      .query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
      .then(() => true, () => false);
    const counters = async (): Promise<{ wal: number; commits: number; statements: number }> => {
      const { rows } = await y.pool.query<{ wal: string; commits: string; statements: string | null }>(
        `SELECT (SELECT wal_sync FROM pg_stat_wal)::text AS wal, (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())::text AS commits,
                ${statementsTracked ? '(SELECT sum(calls) FROM pg_stat_statements)::text' : 'NULL::text'} AS statements`,
      );
      return { wal: Number(rows[0]?.wal ?? 0), commits: Number(rows[0]?.commits ?? 0), statements: Number(rows[0]?.statements ?? 0) };
    };
    if (statementsTracked) await y.pool.query('SELECT pg_stat_statements_reset()').catch(() => undefined);
    const before = await counters();
    const pgDataDir = lab.postgresDataDir();
    const pg0 = postgresCpuSeconds(pgDataDir);
    const probe0 = await probeTotals(pid, probeFile);
    const cpu0 = sampleCpu(pid);
    const threads0 = sampleThreads(pid);
    // --prebuilt-bodies: the STOW-RS bodies are built before the clock starts, so the client only sends.
    const bodies = channel === 'stow' && args.flag('prebuilt-bodies') ? prebuildStowBodies(corpus) : undefined;
    const deviceFile = blockDeviceStatFile(lab.work);
    const device0 = sampleBlockDevice(deviceFile);
    const machine0 = sampleMachineCpu();
    const bench0 = process.cpuUsage();
    const started = Date.now();
    const failed = await sendCorpus(channel, corpus, y, clients, bodies);
    const wallSeconds = (Date.now() - started) / 1000;
    const benchUsage = process.cpuUsage(bench0);
    const machine1 = sampleMachineCpu();
    const device1 = sampleBlockDevice(deviceFile);
    const cpu1 = sampleCpu(pid);
    const threads1 = sampleThreads(pid);
    const pg1 = postgresCpuSeconds(pgDataDir);
    const probe1 = await probeTotals(pid, probeFile);
    const probe = probe0 && probe1 ? probeDelta(probe0, probe1) : null;
    const startupThreads = probeStartupThreads(probeFile);
    const cpuByThreadGroup = startupThreads === null ? null : cpuByGroup(pid, threads0, threads1, startupThreads);
    const launcherCpuSeconds = cpu1.all.user + cpu1.all.system - (cpu0.all.user + cpu0.all.system);
    const launcherKernelSeconds = cpu1.all.system - cpu0.all.system;
    const mainThreadCpuSeconds = cpu1.main.user + cpu1.main.system - (cpu0.main.user + cpu0.main.system);
    const launcherMinorFaults = cpu1.all.minorFaults - cpu0.all.minorFaults;
    // pg_stat counters are flushed by backends at transaction end, at most once a second.
    await sleep(1100);
    const after = await counters();
    const written = await y.pool.query<{ n: number }>('SELECT count(DISTINCT xmin::text)::int AS n FROM instances');
    const topStatements = statementsTracked ? await statementCosts(y.pool) : [];
    let fileCalls: Map<string, number> | null = null;
    if (strace) {
      strace.kill('SIGINT');
      await new Promise((resolve) => strace.once('exit', resolve));
      fileCalls = straceCallCounts(straceOut);
    }
    const fsyncCalls = fileCalls === null ? null : (fileCalls.get('fsync') ?? 0) + (fileCalls.get('fdatasync') ?? 0);
    return { channel, clients, warmupInstances: warmup?.instances ?? 0, instances: corpus.instances, failed, wallSeconds, launcherCpuSeconds, launcherKernelSeconds, mainThreadCpuSeconds, cpuByThreadGroup, launcherMinorFaults, fsyncCalls, fileCalls: fileCalls === null ? null : Object.fromEntries(fileCalls), probe, postgresCpuSeconds: pg0 === null || pg1 === null ? null : pg1 - pg0, walSyncs: after.wal - before.wal, commits: after.commits - before.commits, statements: statementsTracked ? after.statements - before.statements : null, instanceTransactions: (written.rows[0]?.n ?? 0) - (rowsBefore.rows[0]?.n ?? 0), topStatements, machine: machine0 === null || machine1 === null ? null : machineCpuDelta(machine0, machine1), device: device0 === null || device1 === null ? null : blockDeviceDelta(device0, device1), benchProcessCpuSeconds: (benchUsage.user + benchUsage.system) / 1e6 };
  } finally {
    await y.stop();
  }
}

/** The statements the server spent most time on (planning + execution) since the reset before the run. */
async function statementCosts(pool: Yunying['pool']): Promise<StatementCost[]> {
  const { rows } = await pool.query<{ query: string; calls: string; plan: number; exec: number }>(
    `SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS query, calls::text, total_plan_time AS plan, total_exec_time AS exec
       FROM pg_stat_statements ORDER BY total_plan_time + total_exec_time DESC LIMIT ${TOP_STATEMENTS}`,
  );
  return rows.map((row) => ({ query: row.query, calls: Number(row.calls), planMs: row.plan, execMs: row.exec }));
}

/** The launcher's file system calls, all of them and then by name, most frequent first (none without strace). */
function fileCallRows(r: ExplainResult): Array<[string, number | null, number | null]> {
  const calls = r.fileCalls;
  if (calls === null) return [['file system calls by the launcher (strace)', null, null]];
  const total = Object.values(calls).reduce((a, b) => a + b, 0);
  const byName = Object.entries(calls)
    .filter(([name]) => name !== 'fsync' && name !== 'fdatasync')
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]): [string, number, number] => [`  of them ${name}`, n, n / r.instances]);
  return [['file system calls by the launcher (strace)', total, total / r.instances], ...byName];
}

/** The launcher's CPU by thread group (lib/threads.ts), after the main thread's own row. */
function threadGroupRows(r: ExplainResult): Array<[string, number | null, number | null]> {
  const groups = r.cpuByThreadGroup;
  const row = (label: string, seconds: number | null): [string, number | null, number | null] => [label, seconds === null ? null : seconds * 1000, seconds === null ? null : (seconds * 1000) / r.instances];
  if (groups === null) return [row('  of it on the other threads (ms)', r.launcherCpuSeconds - r.mainThreadCpuSeconds)];
  const grouped = groups.main + groups.platform + groups.named + groups.later;
  return [
    row("  of it on Node's platform threads: V8's collector and compilers (ms)", groups.platform),
    row('  of it on threads started later: libuv pool (files, crypto), workers (ms)', groups.later),
    row('  of it on threads that name themselves (libvips) (ms)', groups.named),
    row('  of it on threads that ended in the window (ms)', Math.max(0, r.launcherCpuSeconds - grouped)),
  ];
}

/** Where the catalog's server time went, per statement (empty when pg_stat_statements is not loaded). */
export function statementTable(r: ExplainResult): Table | null {
  if (r.topStatements.length === 0) return null;
  return {
    title: `PostgreSQL statements by server time: ${explainRunName(r.channel, r.clients)} (planning needs BENCH_PG_OPTIONS="-c pg_stat_statements.track_planning=on")`,
    columns: ['statement', 'calls', 'per instance', 'planning (ms)', 'execution (ms)', 'per instance (ms)'],
    rows: r.topStatements.map((s) => [s.query, s.calls, s.calls / r.instances, s.planMs, s.execMs, (s.planMs + s.execMs) / r.instances]),
  };
}

export function explainTable(r: ExplainResult): Table {
  const per = (v: number | null): number | null => (v === null ? null : v / r.instances);
  return {
    title: `Explain ingest: Yunying ${explainRunName(r.channel, r.clients)}, ${r.instances} instances${r.failed > 0 ? ` (${r.failed} not stored)` : ''}${r.warmupInstances > 0 ? `, after ${r.warmupInstances} warm-up instances` : ', cold launcher'}`,
    columns: ['measure', 'total', 'per instance'],
    rows: [
      ['wall time (ms)', r.wallSeconds * 1000, (r.wallSeconds * 1000) / r.instances],
      ['launcher CPU time, all threads (ms)', r.launcherCpuSeconds * 1000, (r.launcherCpuSeconds * 1000) / r.instances],
      ['  of it in the kernel (ms)', r.launcherKernelSeconds * 1000, (r.launcherKernelSeconds * 1000) / r.instances],
      ['  of it on the main thread (ms)', r.mainThreadCpuSeconds * 1000, (r.mainThreadCpuSeconds * 1000) / r.instances],
      ...threadGroupRows(r),
      ['minor page faults of the launcher, all threads', r.launcherMinorFaults, per(r.launcherMinorFaults)],
      ['garbage collection pauses, full (ms)', r.probe?.gcMajorMs ?? null, per(r.probe?.gcMajorMs ?? null)],
      ['  full collections', r.probe?.gcMajor ?? null, per(r.probe?.gcMajor ?? null)],
      ['garbage collection pauses, young (ms)', r.probe?.gcMinorMs ?? null, per(r.probe?.gcMinorMs ?? null)],
      ['bytes hashed with SHA-256 (MB)', r.probe === null ? null : r.probe.sha256Bytes / 1e6, r.probe === null ? null : r.probe.sha256Bytes / 1e6 / r.instances],
      ['bytes copied in user space, JavaScript-visible (MB)', r.probe === null ? null : r.probe.copiedBytes / 1e6, r.probe === null ? null : r.probe.copiedBytes / 1e6 / r.instances],
      ...fileCallRows(r),
      ...waitRows(r),
      ['fsync + fdatasync calls by the launcher', r.fsyncCalls, per(r.fsyncCalls)],
      ['PostgreSQL server CPU time (ms)', r.postgresCpuSeconds === null ? null : r.postgresCpuSeconds * 1000, r.postgresCpuSeconds === null ? null : (r.postgresCpuSeconds * 1000) / r.instances],
      ['PostgreSQL WAL syncs', r.walSyncs, per(r.walSyncs)],
      ['PostgreSQL committed transactions', r.commits, per(r.commits)],
      ['  of them writing instance rows (distinct xmin)', r.instanceTransactions, per(r.instanceTransactions)],
      ['PostgreSQL statements (pg_stat_statements, all clients)', r.statements ?? null, per(r.statements ?? null)],
      ...machineRows(r),
    ],
  };
}
