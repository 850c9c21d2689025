import type { Table } from '../lib/report';
import type { IngestRun } from './ingest';
import type { PhysicalResult } from './physical';
import type { QueryRow } from './query';
import type { ScaleResult } from './scale';
import type { TriageResult } from './triage';
import type { ViewerResult } from './viewer';

/** The targets against what this run measured; absent parts are "not measured". */
export interface RunData {
  physical?: PhysicalResult;
  ingest?: IngestRun[];
  query?: { rows: QueryRow[] };
  scale?: ScaleResult;
  triage?: TriageResult;
  viewer?: ViewerResult;
}

type Row = (string | number | null)[];

function verdict(ok: boolean | null): string {
  return ok === null ? 'not measured' : ok ? 'met' : 'MISSED';
}

export function targetsTable(d: RunData): Table {
  const rows: Row[] = [];
  const stow = (system: string, c: number): IngestRun | undefined => d.ingest?.find((r) => r.system === system && r.channel === 'STOW-RS' && r.concurrency === c);
  for (const c of [...new Set((d.ingest ?? []).map((r) => r.concurrency))].sort()) {
    const y = stow('Yunying', c);
    const o = stow('Orthanc', c);
    const ratio = y && o ? y.instancesPerSecond / o.instancesPerSecond : null;
    rows.push([`ingest STOW-RS, ${c} client(s): Yunying / Orthanc >= 1`, ratio, verdict(ratio === null ? null : ratio >= 1)]);
  }
  const bestYunying = Math.max(0, ...(d.ingest ?? []).filter((r) => r.system === 'Yunying' && r.channel === 'STOW-RS').map((r) => r.instancesPerSecond));
  const ofLimit = d.physical && bestYunying > 0 ? bestYunying / d.physical.limitInstancesPerSecond : null;
  rows.push(['ingest: best Yunying STOW-RS / physical limit >= 0.8', ofLimit, verdict(ofLimit === null ? null : ofLimit >= 0.8)]);
  const frame = d.query?.rows.find((r) => r.kind.startsWith('WADO-RS one frame'));
  rows.push(['WADO-RS frame p95 < 20 ms', frame?.yunying.p95 ?? null, verdict(frame ? frame.yunying.p95 < 20 : null)]);
  const qido = d.scale?.rows.filter((r) => r.kind.startsWith('QIDO')) ?? [];
  const queue = d.scale?.rows.filter((r) => r.kind.startsWith('reading queue')) ?? [];
  const worst = (xs: typeof qido): number | null => (xs.length ? Math.max(...xs.map((r) => r.latency.p95)) : null);
  const size = d.scale ? ` at ${d.scale.studies.toLocaleString('en')} studies` : '';
  rows.push([`QIDO p95 < 50 ms${size} (worst kind)`, worst(qido), verdict(qido.length ? (worst(qido) ?? Infinity) < 50 : null)]);
  rows.push([`reading queue p95 < 50 ms${size} (worst kind)`, worst(queue), verdict(queue.length ? (worst(queue) ?? Infinity) < 50 : null)]);
  const stable = d.triage?.available ? d.triage.stableToResultSeconds?.p95 ?? null : null;
  rows.push(['study stable -> AI result p95 < 2 s', stable, d.triage && !d.triage.available ? 'not available' : verdict(stable === null ? null : stable < 2)]);
  const paint = d.viewer?.available ? d.viewer.warm?.p50 ?? null : null;
  rows.push(['first image in the browser < 300 ms (p50 of warm openings)', paint, d.viewer && !d.viewer.available ? 'not available' : verdict(paint === null ? null : paint < 300)]);
  return { title: 'Targets (issue #9), this run', columns: ['target', 'measured', 'verdict'], rows };
}
