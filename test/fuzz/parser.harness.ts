import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { REPO_ROOT } from '../support/processes';
import { layoutOf, mutate, Rng, type Layout } from './mutator';
import type { Seed } from './seeds';

/**
 * The parser target of the fuzzer: parseInstance, then decodeFrame on what it accepts, in a worker
 * thread over the built @yunying/dicom (packages/dicom/dist), so a case that hangs or exhausts memory
 * can be killed (terminate) and reported instead of taking the test run down with it.
 *
 * Contract checked per case: parseInstance returns or throws DicomRejection; decodeFrame on an
 * accepted mutant returns or throws PixelDecodeError; no case takes longer than its budget, which grows
 * linearly with the input (`budgetMs`), so super-linear work on a large input fails as 'slow' even when
 * it stays under a fixed limit; the DICOM JSON of an accepted mutant can be stored as PostgreSQL jsonb
 * (no NUL characters).
 */

export type CaseKind = 'accepted' | 'rejected' | 'crash' | 'decode-crash' | 'hang' | 'slow' | 'unstorable';

export interface CaseResult {
  index: number;
  seed: string;
  mutation: string;
  kind: CaseKind;
  /** Rejection reason, decode outcome or error text. */
  detail: string;
  ms: number;
}

export interface FuzzSummary {
  cases: number;
  byKind: Record<string, number>;
  byMutation: Record<string, { cases: number; accepted: number; rejected: number; failed: number }>;
  byReason: Record<string, number>;
  failures: CaseResult[];
  slowestMs: number;
  /** The slowest case relative to its size, in ms per KiB (the figure the budget bounds). */
  slowestMsPerKiB: number;
  seconds: number;
}

export function isFailure(kind: CaseKind): boolean {
  return kind !== 'accepted' && kind !== 'rejected';
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const dicom = require(workerData.dicomPath);
parentPort.on('message', async (msg) => {
  const bytes = Buffer.from(msg.bytes.buffer, msg.bytes.byteOffset, msg.bytes.byteLength);
  const t0 = performance.now();
  let out;
  let parsed;
  try {
    parsed = dicom.parseInstance(bytes);
  } catch (error) {
    out = error instanceof dicom.DicomRejection
      ? { kind: 'rejected', detail: error.reason }
      : { kind: 'crash', detail: 'parseInstance threw ' + (error && error.name) + ': ' + String(error && error.stack || error).slice(0, 1500) };
  }
  if (parsed) {
    out = { kind: 'accepted', detail: 'frames=' + parsed.frames.length };
    // What the catalog must be able to store: jsonb refuses NUL and lone surrogates (JSON.stringify
    // escapes only those as \\u0000 / \\udXXX); the attribute columns are 32-bit integers.
    const json = JSON.stringify(parsed.dicomJson);
    if (/\\\\u(0000|d[89a-f])/i.test(json)) out = { kind: 'unstorable', detail: 'DICOM JSON holds a NUL or a lone surrogate (PostgreSQL jsonb refuses it)' };
    for (const [name, value] of Object.entries(parsed.attributes)) {
      if (typeof value === 'number' && !(Number.isInteger(value) && value >= -2147483648 && value <= 2147483647)) out = { kind: 'unstorable', detail: name + ' = ' + value + ' does not fit the catalog integer column' };
    }
    const indices = parsed.frames.length === 0 ? [] : Array.from(new Set([0, parsed.frames.length - 1]));
    for (const index of indices) {
      try {
        await dicom.decodeFrame(bytes, parsed, index);
        out.detail += ' decoded';
      } catch (error) {
        if (error instanceof dicom.PixelDecodeError) {
          out.detail += ' decode:' + error.reason;
        } else {
          out = { kind: 'decode-crash', detail: 'decodeFrame(' + index + ') threw ' + (error && error.name) + ': ' + String(error && error.stack || error).slice(0, 1500) };
          break;
        }
      }
    }
  }
  out.ms = performance.now() - t0;
  parentPort.postMessage({ id: msg.id, ...out });
});
`;

interface Reply {
  id: number;
  kind: CaseKind;
  detail: string;
  ms: number;
}

/** One worker at a time; replaced after a hang or a crash of the worker itself. */
class ParserWorker {
  private worker: Worker | null = null;
  private readonly dicomPath = path.join(REPO_ROOT, 'packages/dicom/dist/index.js');

  constructor() {
    if (!fs.existsSync(this.dicomPath)) throw new Error('packages/dicom is not built: run `npx turbo run build`');
  }

  private spawn(): Worker {
    // A memory ceiling: a mutant that makes the parser allocate without bound is a finding, not an OOM of the runner.
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { dicomPath: this.dicomPath }, resourceLimits: { maxOldGenerationSizeMb: 1024 } });
    worker.unref();
    return worker;
  }

  async run(id: number, bytes: Buffer, hangMs: number): Promise<Reply> {
    const worker = (this.worker ??= this.spawn());
    return new Promise<Reply>((resolve) => {
      const done = (reply: Reply, replace: boolean): void => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        if (replace) {
          this.worker = null;
          void worker.terminate();
        }
        resolve(reply);
      };
      const onMessage = (reply: Reply): void => {
        if (reply.id === id) done(reply, false);
      };
      const onError = (error: Error): void => done({ id, kind: 'crash', detail: `worker died: ${error.message}`, ms: 0 }, true);
      const onExit = (code: number): void => done({ id, kind: 'crash', detail: `worker exited (${code})`, ms: 0 }, true);
      const timer = setTimeout(() => done({ id, kind: 'hang', detail: `no answer within ${hangMs} ms`, ms: hangMs }, true), hangMs);
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.postMessage({ id, bytes });
    });
  }

  async close(): Promise<void> {
    await this.worker?.terminate();
    this.worker = null;
  }
}

/** The PRNG of case `index` under run seed `seed`: every case can be replayed on its own. */
export function caseRng(seed: number, index: number, salt = 0): Rng {
  let h = Math.imul((seed ^ 0x9e3779b9) >>> 0, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35) ^ Math.imul(salt + 1, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  return new Rng((h ^ (h >>> 15)) >>> 0);
}

export interface PreparedSeed extends Seed {
  layout: Layout;
}

export function prepare(seeds: Seed[]): PreparedSeed[] {
  return seeds.map((s) => ({ ...s, layout: layoutOf(s.bytes) }));
}

/** The mutant of case `index`: which seed, which mutation, which bytes. */
export function mutantFor(seeds: PreparedSeed[], seed: number, index: number, salt = 0): { seed: PreparedSeed; mutation: string; bytes: Buffer } {
  const rng = caseRng(seed, index, salt);
  const chosen = rng.pick(seeds);
  const mutant = mutate(rng, chosen.bytes, chosen.layout);
  return { seed: chosen, mutation: mutant.description, bytes: mutant.bytes };
}

export function emptySummary(): FuzzSummary {
  return { cases: 0, byKind: {}, byMutation: {}, byReason: {}, failures: [], slowestMs: 0, slowestMsPerKiB: 0, seconds: 0 };
}

export function tally(summary: FuzzSummary, result: CaseResult, reason?: string, bytes?: number): void {
  summary.cases += 1;
  summary.byKind[result.kind] = (summary.byKind[result.kind] ?? 0) + 1;
  const names = result.mutation.split(' | ').map((m) => m.split(':')[0] ?? m);
  for (const name of new Set(names)) {
    const entry = (summary.byMutation[name] ??= { cases: 0, accepted: 0, rejected: 0, failed: 0 });
    entry.cases += 1;
    if (result.kind === 'accepted') entry.accepted += 1;
    else if (result.kind === 'rejected') entry.rejected += 1;
    else entry.failed += 1;
  }
  if (reason !== undefined) summary.byReason[reason] = (summary.byReason[reason] ?? 0) + 1;
  if (result.ms > summary.slowestMs) summary.slowestMs = result.ms;
  if (bytes !== undefined && bytes > 0) summary.slowestMsPerKiB = Math.max(summary.slowestMsPerKiB, Math.round((result.ms / (bytes / 1024)) * 1000) / 1000);
  if (isFailure(result.kind)) summary.failures.push(result);
}

/** Saves a failing input with its description under .data/fuzz-failures/ (gitignored). */
export function saveFailure(target: string, runSeed: number, result: CaseResult, bytes: Buffer): string {
  const dir = path.join(REPO_ROOT, '.data', 'fuzz-failures');
  fs.mkdirSync(dir, { recursive: true });
  const base = path.join(dir, `${target}-seed${runSeed}-case${result.index}-${result.kind}`);
  fs.writeFileSync(`${base}.dcm`, bytes);
  fs.writeFileSync(`${base}.json`, JSON.stringify({ ...result, runSeed, target }, null, 2));
  return `${base}.dcm`;
}

/**
 * The time a case may take: a fixed floor plus a per-byte allowance. Both are generous (normal parsing
 * runs at hundreds of MiB/s, the allowance is 256 KiB/s) so a slow shared machine does not fail a case;
 * what fails is work that grows faster than the input (#17 finding 9: 40 KB of padding took 9 s).
 */
export interface WorkBudget {
  floorMs: number;
  msPerKiB: number;
}

export const DEFAULT_BUDGET: WorkBudget = { floorMs: 1000, msPerKiB: 4 };

export function budgetMs(bytes: number, budget: WorkBudget = DEFAULT_BUDGET): number {
  return budget.floorMs + (bytes / 1024) * budget.msPerKiB;
}

export interface ParserCase {
  name: string;
  bytes: Buffer;
}

/** Runs fixed inputs (not mutants) through the same worker and budget: for known pathological shapes. */
export async function runParserCases(cases: ParserCase[], budget: WorkBudget = DEFAULT_BUDGET): Promise<CaseResult[]> {
  const worker = new ParserWorker();
  const results: CaseResult[] = [];
  try {
    for (const [index, c] of cases.entries()) {
      const limit = budgetMs(c.bytes.length, budget);
      const reply = await worker.run(index, c.bytes, Math.max(10_000, 4 * limit));
      const kind: CaseKind = reply.kind === 'accepted' || reply.kind === 'rejected' ? (reply.ms > limit ? 'slow' : reply.kind) : reply.kind;
      results.push({ index, seed: c.name, mutation: 'none', kind, detail: reply.detail, ms: Math.round(reply.ms * 10) / 10 });
    }
  } finally {
    await worker.close();
  }
  return results;
}

export interface ParserFuzzOptions {
  seeds: PreparedSeed[];
  cases: number;
  seed: number;
  /** A case answering later than budgetMs(its size) fails as 'slow' (default DEFAULT_BUDGET). */
  budget?: WorkBudget;
  /** A case answering later than this (or 4 budgets, whichever is longer) is killed and fails as 'hang' (default 10000 ms). */
  hangMs?: number;
  /** First case index (to run a range, or replay one case). */
  from?: number;
  onProgress?: (done: number, summary: FuzzSummary) => void;
}

export async function runParserFuzz(options: ParserFuzzOptions): Promise<FuzzSummary> {
  const budget = options.budget ?? DEFAULT_BUDGET;
  const hangMs = options.hangMs ?? 10_000;
  const started = Date.now();
  const summary = emptySummary();
  const worker = new ParserWorker();
  try {
    const from = options.from ?? 0;
    for (let index = from; index < from + options.cases; index += 1) {
      const { seed, mutation, bytes } = mutantFor(options.seeds, options.seed, index);
      const limit = budgetMs(bytes.length, budget);
      const reply = await worker.run(index, bytes, Math.max(hangMs, 4 * limit));
      const kind: CaseKind = reply.kind === 'accepted' || reply.kind === 'rejected' ? (reply.ms > limit ? 'slow' : reply.kind) : reply.kind;
      const result: CaseResult = { index, seed: seed.name, mutation, kind, detail: reply.detail, ms: Math.round(reply.ms * 10) / 10 };
      tally(summary, result, reply.kind === 'rejected' ? reply.detail : undefined, bytes.length);
      if (isFailure(kind)) saveFailure('parser', options.seed, result, bytes);
      if ((index - from + 1) % 500 === 0) options.onProgress?.(index - from + 1, summary);
    }
  } finally {
    await worker.close();
  }
  summary.seconds = (Date.now() - started) / 1000;
  return summary;
}
