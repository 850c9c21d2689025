import fs from 'node:fs';
import path from 'node:path';
import { makeInstance } from '@yunying/dicom/testing';
import { createLogger } from '@yunying/core';
import { AnalysisPool } from '@yunying/inference';
import { defaultModelDir, readRgbImage } from '@yunying/nodule-model';
import type { Args } from '../lib/args';
import type { Table } from '../lib/report';
import { latency, ratio, type Latency } from '../lib/stats';

/**
 * The served triage path per image on one core (onnxruntime intra-op threads 1): decode the stored
 * instance, colour check, gate + nodule map, candidates, lexicon heads, combiner — the inference
 * worker's own analysis pool with one thread (its heap settings included), fed one image at a time. Images: whole DDTI frames wrapped as US instances (from
 * YUNYING_SHARED_DATA or ../shared/data), else synthetic frames of the same size. The peer is the
 * issue's budget (50 ms per image), printed as a ratio; no other triage product runs here.
 */
export interface ModelBenchResult {
  images: number;
  source: string;
  perImageMs: Latency;
  /** CPU time (user + system, all threads) per image: what a loaded machine's queueing does not inflate. */
  cpuPerImageMs: Latency;
  budgetMs: number;
  candidatesPerImage: number;
}

function framesDir(): string | null {
  const root = process.env.YUNYING_SHARED_DATA ?? path.resolve(__dirname, '../../../../shared/data');
  const dir = path.join(root, 'thyroid/ddti-frames/images');
  return fs.existsSync(dir) ? dir : null;
}

export async function runModel(args: Args): Promise<ModelBenchResult> {
  const limit = args.number('images', 60);
  const dir = framesDir();
  const files = dir ? fs.readdirSync(dir).sort().slice(0, limit) : [];
  const source = dir ?? 'synthetic 500x315 frames';
  const count = dir ? files.length : limit;
  // Every instance is built before the clock starts: building one (a callback per sample) is the bench's
  // own garbage, and its collections on the main thread would overlap the analysis thread's work on the
  // one core. The analysis runs on the pool's thread, whose heap holds one instance at a time, as in the
  // worker; the main thread only hands each over (transferred, not copied).
  const instance = async (i: number): Promise<Uint8Array> => {
    const file = files[i];
    if (dir === null || file === undefined) return makeInstance({ rows: 315, columns: 500, seed: `bench-${i}` });
    const rgb = await readRgbImage(path.join(dir, file));
    return makeInstance({ rows: rgb.height, columns: rgb.width, photometric: 'RGB', seed: file, pixelPattern: (_f, r, c, s) => rgb.data[(r * rgb.width + c) * 3 + s] ?? 0 });
  };
  const warmUp = count > 0 ? await instance(0) : null;
  const instances: Uint8Array[] = [];
  for (let i = 0; i < count; i++) instances.push(await instance(i));
  const pool = new AnalysisPool({ size: 1, modelDir: defaultModelDir(), logger: createLogger({ level: 'warn', service: 'bench-model' }) });
  await pool.start();
  try {
    // One warm-up: onnxruntime allocates its arenas on the first run.
    if (warmUp !== null) await pool.analyse(warmUp, 1);
    const samples: number[] = [];
    const cpu: number[] = [];
    let candidates = 0;
    // Each instance's buffer is transferred to the thread, so what stays in the list holds no memory.
    for (const bytes of instances) {
      const c = process.cpuUsage();
      const t = performance.now();
      const a = await pool.analyse(bytes, 1);
      samples.push(performance.now() - t);
      const used = process.cpuUsage(c);
      cpu.push((used.user + used.system) / 1000);
      if (a.status === 'analysed') candidates += (a.best?.nodules.length ?? 0) + a.unconfidentCandidates;
    }
    return { images: count, source, perImageMs: latency(samples), cpuPerImageMs: latency(cpu), budgetMs: 50, candidatesPerImage: candidates / Math.max(1, count) };
  } finally {
    await pool.close();
  }
}

export function modelTable(r: ModelBenchResult): Table {
  return {
    title: `Triage served path per image, one core (${r.images} images: ${r.source})`,
    columns: ['p50 ms', 'p95 ms', 'mean ms', 'budget ms', 'p95 / budget', 'CPU p50 ms', 'CPU p95 ms', 'CPU mean ms', 'candidates per image'],
    rows: [[r.perImageMs.p50, r.perImageMs.p95, r.perImageMs.mean, r.budgetMs, ratio(r.perImageMs.p95, r.budgetMs), r.cpuPerImageMs.p50, r.cpuPerImageMs.p95, r.cpuPerImageMs.mean, r.candidatesPerImage]],
    notes: [
      'The inference worker\'s analysis pool with one thread, one frame per image (the instance handed over as the worker does); onnxruntime intra-op threads 1; first image is a warm-up, not counted.',
      'CPU: user + system time of the process (all threads) per image; on a loaded machine the wall times include waiting for the core, the CPU times mostly do not.',
    ],
  };
}
