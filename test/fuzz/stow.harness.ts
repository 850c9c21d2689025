import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { objectKey } from '@yunying/storage';
import { stowBody, type RunningSystem } from '../support/system';
import { emptySummary, mutantFor, saveFailure, tally, type CaseKind, type CaseResult, type FuzzSummary, type PreparedSeed } from './parser.harness';

/**
 * The STOW-RS target of the fuzzer: each mutant is POSTed on its own to the running system.
 * Contract per case: an answer within `timeoutMs`; 200/202 (a valid mutant, stored with three ok
 * copies) or a 4xx whose FailedSOPSequence names a reason; never 5xx; nothing of a rejected mutant in
 * the catalog (no objects/copies/instances row for its SHA-256) nor, when it was refused before
 * storage, in any replica; the process alive and /healthz answering after every batch.
 */

export interface StowFuzzOptions {
  system: RunningSystem;
  apiKey: string;
  seeds: PreparedSeed[];
  cases: number;
  seed: number;
  from?: number;
  concurrency?: number;
  timeoutMs?: number;
  batch?: number;
  onProgress?: (done: number, summary: FuzzSummary) => void;
}

/** Salt so the STOW cases are other mutants than the parser cases of the same run seed. */
const STOW_SALT = 7;

type Json = Record<string, { vr: string; Value?: Record<string, { vr: string; Value?: unknown[] }>[] }>;

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function postOne(ingestUrl: string, apiKey: string, bytes: Buffer, timeoutMs: number): Promise<{ status: number; body: Json } | { error: string }> {
  const { body, contentType } = stowBody([bytes]);
  try {
    const res = await fetch(`${ingestUrl}/dicomweb/studies`, {
      method: 'POST',
      headers: { 'content-type': contentType, authorization: `ApiKey ${apiKey}`, accept: 'application/dicom+json' },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: Json = {};
    try {
      parsed = text ? (JSON.parse(text) as Json) : {};
    } catch {
      parsed = {};
    }
    return { status: res.status, body: parsed };
  } catch (error) {
    return { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}

async function judge(options: StowFuzzOptions, bytes: Buffer, answer: { status: number; body: Json } | { error: string }): Promise<{ kind: CaseKind; detail: string; reason?: string }> {
  const { system } = options;
  if ('error' in answer) return { kind: answer.error.includes('Timeout') ? 'hang' : 'crash', detail: `no answer: ${answer.error}` };
  const { status, body } = answer;
  const digest = sha256(bytes);
  if (status >= 500) return { kind: 'crash', detail: `HTTP ${status}: ${JSON.stringify(body).slice(0, 500)}` };
  if (status === 200 || status === 202) {
    const referenced = body['00081199']?.Value ?? [];
    if (referenced.length !== 1) return { kind: 'crash', detail: `HTTP ${status} without one referenced SOP` };
    const copies = await system.pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM copies c JOIN instances i ON i.sha256 = c.sha256 WHERE (i.sha256 = $1 OR i.dataset_sha256 = $2) AND c.state = 'ok'",
      [digest, datasetDigestOf(bytes)],
    );
    if (Number(copies.rows[0]?.n ?? 0) < 3) return { kind: 'crash', detail: `acknowledged (HTTP ${status}) but fewer than 3 ok copies in the catalog` };
    return { kind: 'accepted', detail: `HTTP ${status} ${text(referenced[0]?.['00991010']?.Value?.[0])}` };
  }
  if (status < 400) return { kind: 'crash', detail: `unexpected HTTP ${status}` };
  const failed = body['00081198']?.Value ?? [];
  const reason = text(failed[0]?.['00991011']?.Value?.[0]);
  if (status === 409 && reason === '') return { kind: 'crash', detail: 'HTTP 409 without a FailedSOPSequence reason' };
  // Nothing of a rejected mutant may be in the catalog...
  const rows = await system.pool.query<{ n: string }>(
    'SELECT (SELECT count(*) FROM objects WHERE sha256 = $1) + (SELECT count(*) FROM copies WHERE sha256 = $1) + (SELECT count(*) FROM instances WHERE sha256 = $1) AS n',
    [digest],
  );
  if (Number(rows.rows[0]?.n ?? 0) > 0) return { kind: 'crash', detail: `rejected (HTTP ${status} ${reason}) but catalog rows exist for its SHA-256` };
  // ...nor in storage when it was refused before anything was written. (A UID conflict is found in the
  // catalog transaction, after the copies: those are orphans for the sweeper, by design.)
  if (reason !== 'uid_conflict' && reason !== 'storage_unavailable') {
    for (const replica of ['replica-a', 'replica-b', 'replica-c']) {
      if (fs.existsSync(path.join(system.dataDir, replica, objectKey(digest)))) {
        return { kind: 'crash', detail: `rejected (${reason}) but a copy exists in ${replica}` };
      }
    }
  }
  return { kind: 'rejected', detail: `HTTP ${status} ${reason}`, reason: reason || `http_${status}` };
}

/** SHA-256 of the dataset after the file meta group, as the pipeline computes it (for ALREADY_STORED by another header). */
function datasetDigestOf(bytes: Buffer): string {
  const groupLength = bytes.length >= 144 && bytes.readUInt16LE(132) === 0x0002 && bytes.readUInt16LE(134) === 0 ? bytes.readUInt32LE(140) : -1;
  const start = groupLength >= 0 && 144 + groupLength <= bytes.length ? 144 + groupLength : 0;
  return sha256(bytes.subarray(start));
}

async function healthy(system: RunningSystem): Promise<string | null> {
  if (system.launcher.child.exitCode !== null || system.launcher.child.signalCode !== null) return 'the launcher process is gone';
  try {
    const res = await fetch(`${system.urls.ingest ?? ''}/healthz`, { signal: AbortSignal.timeout(10_000) });
    return res.status === 200 ? null : `/healthz answered ${res.status}`;
  } catch (error) {
    return `/healthz failed: ${String(error)}`;
  }
}

export async function runStowFuzz(options: StowFuzzOptions): Promise<FuzzSummary> {
  const started = Date.now();
  const summary = emptySummary();
  const concurrency = options.concurrency ?? 2;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const batch = options.batch ?? 25;
  const from = options.from ?? 0;
  const ingestUrl = options.system.urls.ingest ?? '';
  for (let start = from; start < from + options.cases; start += batch) {
    const indices = Array.from({ length: Math.min(batch, from + options.cases - start) }, (_, i) => start + i);
    let next = 0;
    const lane = async (): Promise<void> => {
      for (let i = next++; i < indices.length; i = next++) {
        const index = indices[i] ?? 0;
        const { seed, mutation, bytes } = mutantFor(options.seeds, options.seed, index, STOW_SALT);
        const t0 = performance.now();
        const answer = await postOne(ingestUrl, options.apiKey, bytes, timeoutMs);
        const ms = performance.now() - t0;
        const verdict = await judge(options, bytes, answer);
        const result: CaseResult = { index, seed: seed.name, mutation, kind: verdict.kind, detail: verdict.detail, ms: Math.round(ms) };
        tally(summary, result, verdict.reason);
        if (verdict.kind !== 'accepted' && verdict.kind !== 'rejected') saveFailure('stow', options.seed, result, bytes);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, () => lane()));
    const problem = await healthy(options.system);
    if (problem !== null) {
      const result: CaseResult = { index: start, seed: '-', mutation: `health after cases ${start}..${start + indices.length - 1}`, kind: 'crash', detail: problem, ms: 0 };
      summary.failures.push(result);
      break; // the process is down: later answers would all be connection errors
    }
    options.onProgress?.(start - from + indices.length, summary);
  }
  summary.seconds = (Date.now() - started) / 1000;
  return summary;
}
