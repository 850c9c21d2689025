import type { Args } from '../lib/args';
import { filesOf, type Corpus } from '../lib/corpus';
import { HttpClient, stowBody } from '../lib/http';
import { sleep, type Lab } from '../lib/lab';
import type { Table } from '../lib/report';
import { latency, type Latency } from '../lib/stats';

/**
 * Triage: Yunying with ingest, inference and viewer roles (TRIAGE_QUIET_SECONDS=1). US studies of the
 * corpus are stored one at a time (STOW-RS); for each, the benchmark waits for its ai_results row and
 * reads the timings the triage service records: stable -> result (result written minus (last arrival +
 * quiet period)) and the model's inference time, divided by the images it scored. Also the client-side
 * time from the STOW response to the row being visible, which includes the quiet period.
 */
export interface TriageResult {
  available: boolean;
  reason: string | null;
  studies: number;
  stableToResultSeconds: Latency | null;
  inferenceMsPerImage: Latency | null;
  storedToVisibleSeconds: Latency | null;
  statuses: Record<string, number>;
}

interface ResultRow {
  status: string;
  timings: { stableToResultSeconds?: number; inferenceMs?: number } | null;
  images: number;
}

export async function runTriage(lab: Lab, corpus: Corpus, args: Args): Promise<TriageResult> {
  const count = args.number('triage-studies', 5);
  const timeoutMs = args.number('triage-timeout', 60) * 1000;
  const quiet = 1;
  const empty = (reason: string): TriageResult => ({ available: false, reason, studies: 0, stableToResultSeconds: null, inferenceMsPerImage: null, storedToVisibleSeconds: null, statuses: {} });
  let y;
  try {
    y = await lab.startYunying(['ingest', 'inference', 'viewer'], { TRIAGE_QUIET_SECONDS: String(quiet) });
  } catch (error) {
    return empty(`inference did not start: ${error instanceof Error ? error.message.split('\n')[0] ?? '' : String(error)}`);
  }
  try {
    const client = new HttpClient(1);
    // The first study warms the model (session creation, first run); it is not counted.
    const studies = corpus.studies.filter((s) => s.modality === 'US').slice(0, count + 1);
    const stable: number[] = [];
    const perImage: number[] = [];
    const visible: number[] = [];
    const statuses: Record<string, number> = {};
    for (const study of studies) {
      const { body, contentType } = stowBody(filesOf(corpus, study));
      const res = await client.request('POST', `${y.urls.ingest ?? ''}/dicomweb/studies`, { 'content-type': contentType, accept: 'application/dicom+json', authorization: `ApiKey ${y.clinicKeys[study.clinic] ?? ''}` }, body);
      if (res.status !== 200) return empty(`STOW-RS answered ${res.status}`);
      const stored = Date.now();
      let row: ResultRow | undefined;
      while (Date.now() - stored < timeoutMs) {
        const { rows } = await y.pool.query<ResultRow>(
          `SELECT a.status, a.timings, jsonb_array_length(a.images) AS images FROM ai_results a JOIN studies s ON s.id = a.study_ref
            WHERE s.study_instance_uid = $1 ORDER BY a.created_at DESC LIMIT 1`,
          [study.studyInstanceUid],
        );
        row = rows[0];
        if (row) break;
        await sleep(50);
      }
      if (!row) return empty(`no AI result within ${timeoutMs / 1000} s of storing a study (is the inference service producing results?)`);
      if (study === studies[0]) continue;
      visible.push((Date.now() - stored) / 1000);
      statuses[row.status] = (statuses[row.status] ?? 0) + 1;
      if (typeof row.timings?.stableToResultSeconds === 'number') stable.push(row.timings.stableToResultSeconds);
      if (typeof row.timings?.inferenceMs === 'number' && row.images > 0) perImage.push(row.timings.inferenceMs / row.images);
    }
    client.close();
    return {
      available: true,
      reason: null,
      studies: studies.length - 1,
      stableToResultSeconds: stable.length ? latency(stable) : null,
      inferenceMsPerImage: perImage.length ? latency(perImage) : null,
      storedToVisibleSeconds: latency(visible),
      statuses,
    };
  } finally {
    await y.stop();
  }
}

export function triageTable(r: TriageResult): Table {
  if (!r.available) return { title: 'Triage', columns: ['measure', 'result'], rows: [['study-stable -> AI result', `not available: ${r.reason ?? ''}`]] };
  const row = (name: string, l: Latency | null, unit: string): (string | number | null)[] => [name, l?.p50 ?? null, l?.p95 ?? null, l?.n ?? 0, unit];
  return {
    title: `Triage: ${r.studies} US studies stored one at a time after one warm-up study (statuses: ${Object.entries(r.statuses).map(([k, v]) => `${k} ${v}`).join(', ')})`,
    columns: ['measure', 'p50', 'p95', 'n', 'unit'],
    rows: [
      row('study-stable -> AI result (target < 2 s)', r.stableToResultSeconds, 's'),
      row('inference time per image', r.inferenceMsPerImage, 'ms'),
      row('STOW-RS response -> result visible (incl. 1 s quiet period)', r.storedToVisibleSeconds, 's'),
    ],
  };
}
