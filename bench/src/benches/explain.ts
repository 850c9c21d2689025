import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { Args } from '../lib/args';
import { filesOf, type Corpus } from '../lib/corpus';
import { HttpClient, stowBody } from '../lib/http';
import { sleep, type Lab } from '../lib/lab';
import type { Table } from '../lib/report';

/**
 * Explain ingest: what one Yunying STOW-RS instance costs, to say what bounds the ingest figure. One
 * client stores the corpus into a fresh Yunying (ingest role) while the benchmark counts, for that
 * window only: fsync/fdatasync calls of the launcher process (strace -f -c, when strace is installed),
 * PostgreSQL WAL syncs (pg_stat_wal) and committed transactions (pg_stat_database), and the launcher's
 * CPU time (/proc/<pid>/stat, all threads). CPU per instance well below wall time per instance means
 * the path waits (on durable writes), rather than computes.
 */
export interface ExplainResult {
  instances: number;
  wallSeconds: number;
  launcherCpuSeconds: number;
  fsyncCalls: number | null;
  walSyncs: number;
  commits: number;
}

function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export async function runExplain(lab: Lab, corpus: Corpus, args: Args): Promise<ExplainResult> {
  const y = await lab.startYunying(['ingest']);
  try {
    const pid = y.pids[0] ?? 0;
    const useStrace = !args.flag('no-strace') && fs.existsSync('/usr/bin/strace');
    let straceOut = '';
    const strace = useStrace ? spawn('strace', ['-f', '-c', '-e', 'trace=fsync,fdatasync', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] }) : null;
    strace?.stderr.on('data', (c: Buffer) => {
      straceOut += c.toString();
    });
    if (strace) await sleep(1500);
    const counters = async (): Promise<{ wal: number; commits: number }> => {
      const { rows } = await y.pool.query<{ wal: string; commits: string }>(
        `SELECT (SELECT wal_sync FROM pg_stat_wal)::text AS wal, (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())::text AS commits`,
      );
      return { wal: Number(rows[0]?.wal ?? 0), commits: Number(rows[0]?.commits ?? 0) };
    };
    const before = await counters();
    const cpu0 = cpuSeconds(pid);
    const client = new HttpClient(1);
    const started = Date.now();
    for (const study of corpus.studies) {
      const { body, contentType } = stowBody(filesOf(corpus, study));
      await client.request('POST', `${y.urls.ingest ?? ''}/dicomweb/studies`, { 'content-type': contentType, accept: 'application/dicom+json', authorization: `ApiKey ${y.clinicKeys[study.clinic] ?? ''}` }, body);
    }
    const wallSeconds = (Date.now() - started) / 1000;
    const launcherCpuSeconds = cpuSeconds(pid) - cpu0;
    // pg_stat counters are flushed by backends at transaction end, at most once a second.
    await sleep(1100);
    const after = await counters();
    client.close();
    let fsyncCalls: number | null = null;
    if (strace) {
      strace.kill('SIGINT');
      await new Promise((resolve) => strace.once('exit', resolve));
      fsyncCalls = 0;
      for (const m of straceOut.matchAll(/^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(fsync|fdatasync)\s*$/gm)) fsyncCalls += Number(m[1]);
    }
    return { instances: corpus.instances, wallSeconds, launcherCpuSeconds, fsyncCalls, walSyncs: after.wal - before.wal, commits: after.commits - before.commits };
  } finally {
    await y.stop();
  }
}

export function explainTable(r: ExplainResult): Table {
  const per = (v: number | null): number | null => (v === null ? null : v / r.instances);
  return {
    title: `Explain ingest: Yunying STOW-RS, 1 client, ${r.instances} instances`,
    columns: ['measure', 'total', 'per instance'],
    rows: [
      ['wall time (ms)', r.wallSeconds * 1000, (r.wallSeconds * 1000) / r.instances],
      ['launcher CPU time, all threads (ms)', r.launcherCpuSeconds * 1000, (r.launcherCpuSeconds * 1000) / r.instances],
      ['fsync + fdatasync calls by the launcher', r.fsyncCalls, per(r.fsyncCalls)],
      ['PostgreSQL WAL syncs', r.walSyncs, per(r.walSyncs)],
      ['PostgreSQL committed transactions', r.commits, per(r.commits)],
    ],
  };
}
