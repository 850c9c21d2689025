import { AuthRefusedError, GaveUpError, RequestRefusedError, RequestTooLargeError, TransientError, describe } from '../archive/archive.errors';
import { QidoClient } from '../archive/qido.client';
import { withRetry, type RetryPolicy } from '../archive/retry';
import { StowClient, type FileOutcome } from '../archive/stow.client';
import { ExitCode } from '../exit-codes';
import { Journal, journalPath, type JournalEntry } from './journal';
import { findCandidates, probe, type FileStat, type Probe } from './scan';
import type { RejectedFile, Reporter, Summary } from './upload.events';

/**
 * `yunying upload`: scan -> skip what the journal or the archive already has -> send the rest in
 * batches over STOW-RS, several at a time, with retries -> journal each confirmed batch -> summary.
 */
export interface UploadOptions {
  inputs: string[];
  ingestUrl: string;
  viewerUrl: string | null;
  apiKey: string;
  /** 'qido': ask the archive which UIDs it has before sending; 'none': send all, the archive answers. */
  check: 'qido' | 'none';
  batchFiles: number;
  batchBytes: number;
  concurrency: number;
  retry: RetryPolicy;
  timeoutMs: number;
  stateDir: string;
  /** Ignore (but keep writing) the journal of earlier runs. */
  fresh: boolean;
  reporter: Reporter;
  userAgent: string;
  /** Aborted (SIGINT/SIGTERM): no new batch starts; batches in flight finish; retries stop waiting. */
  signal?: AbortSignal;
}

type Dicom = Extract<Probe, { kind: 'dicom' }>;

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      out[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/** Groups files into batches of at most `maxFiles` files and about `maxBytes` bytes (a bigger file goes alone). */
export function makeBatches<T extends { size: number }>(files: readonly T[], maxFiles: number, maxBytes: number): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const file of files) {
    if (current.length > 0 && (current.length >= maxFiles || bytes + file.size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(file);
    bytes += file.size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

export async function runUpload(options: UploadOptions): Promise<Summary> {
  const started = Date.now();
  const { reporter } = options;
  const rejected: RejectedFile[] = [];
  const reject = (file: RejectedFile): void => {
    rejected.push(file);
    reporter.emit({ event: 'rejected', ...file });
  };
  let sent = 0;
  let alreadyThere = 0;
  let notSent = 0;
  let partsSent = 0;
  let requests = 0;
  let bytesSent = 0;
  let stop: 'auth' | 'gave_up' | 'interrupted' | null = null;
  let stopError: string | undefined;

  // 1. What is there.
  const candidates = await findCandidates(options.inputs);
  const skipped = [...candidates.skipped];
  for (const s of candidates.skipped) reporter.emit({ event: 'skipped', ...s });
  const journal = Journal.open(journalPath(options.stateDir, options.ingestUrl, options.inputs));

  // 2. What is already known: the journal of earlier runs, then reading each remaining file once.
  const unknown: FileStat[] = [];
  for (const file of candidates.files) {
    const entry = options.fresh ? undefined : journal.lookup(file);
    if (entry === undefined) unknown.push(file);
    else if (entry.outcome === 'rejected') reject({ path: file.path, reason: entry.reason ?? 'rejected', message: entry.message ?? '', source: 'archive' });
    else alreadyThere += 1;
  }
  const probes = await mapLimit(unknown, 2, probe);
  let toSend: Dicom[] = [];
  const localRejections: Omit<JournalEntry, 'at'>[] = [];
  for (const p of probes) {
    switch (p.kind) {
      case 'skipped':
        skipped.push({ path: p.path, note: p.note });
        reporter.emit({ event: 'skipped', path: p.path, note: p.note });
        break;
      case 'invalid':
        reject({ path: p.path, reason: p.reason, message: p.message, source: 'local' });
        localRejections.push({ path: p.path, size: p.size, mtimeMs: p.mtimeMs, sha256: p.sha256, sopInstanceUid: null, outcome: 'rejected', reason: p.reason, message: p.message });
        break;
      case 'dicom':
        toSend.push(p);
        break;
    }
  }
  journal.record(localRejections);
  const dicomCount = toSend.length + alreadyThere;
  reporter.emit({ event: 'scanned', files: candidates.files.length, dicom: dicomCount, bytes: candidates.files.reduce((s, f) => s + f.size, 0), skipped: skipped.length });

  // 3. Ask the archive which of the rest it already holds.
  let checkedWith: 'journal' | 'journal+qido' = 'journal';
  if (options.check === 'qido' && options.viewerUrl !== null && toSend.length > 0) {
    try {
      const qido = new QidoClient({ viewerUrl: options.viewerUrl, apiKey: options.apiKey, timeoutMs: options.timeoutMs, userAgent: options.userAgent });
      const present = await qido.existing([...new Set(toSend.map((f) => f.sopInstanceUid))]);
      const known = toSend.filter((f) => present.has(f.sopInstanceUid));
      journal.record(known.map((f) => ({ path: f.path, size: f.size, mtimeMs: f.mtimeMs, sha256: f.sha256, sopInstanceUid: f.sopInstanceUid, outcome: 'already_stored' as const })));
      alreadyThere += known.length;
      toSend = toSend.filter((f) => !present.has(f.sopInstanceUid));
      checkedWith = 'journal+qido';
    } catch (error) {
      reporter.emit({ event: 'notice', message: `could not ask the archive what it has (${describe(error)}); sending everything, the archive answers ALREADY_STORED` });
    }
  }
  const totalFiles = toSend.length;
  const totalBytes = toSend.reduce((s, f) => s + f.size, 0);
  reporter.emit({ event: 'plan', toSend: totalFiles, bytes: totalBytes, alreadyThere, checkedWith });

  // 4. Send, K batches in flight.
  const client = new StowClient({ ingestUrl: options.ingestUrl, apiKey: options.apiKey, timeoutMs: options.timeoutMs, userAgent: options.userAgent });
  const queue = makeBatches(toSend, options.batchFiles, options.batchBytes);
  let doneFiles = 0;
  let doneBytes = 0;
  let lastProgress = 0;
  const progress = (force = false): void => {
    const now = Date.now();
    if (!force && now - lastProgress < 1000) return;
    lastProgress = now;
    const seconds = Math.max(0.001, (now - started) / 1000);
    const rate = bytesSent / seconds;
    const left = totalBytes - doneBytes;
    reporter.emit({ event: 'progress', doneFiles, totalFiles, doneBytes, totalBytes, bytesPerSecond: Math.round(rate), etaSeconds: rate > 0 ? Math.round(left / rate) : null });
  };
  const onAbort = (): void => {
    stop ??= 'interrupted';
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const settle = (files: readonly Dicom[], outcomes: readonly FileOutcome[]): Dicom[] => {
    const entries: Omit<JournalEntry, 'at'>[] = [];
    const again: Dicom[] = [];
    let stored = 0;
    let already = 0;
    let refused = 0;
    files.forEach((file, i) => {
      const outcome = outcomes[i] ?? { kind: 'retry', message: 'no answer' };
      const base = { path: file.path, size: file.size, mtimeMs: file.mtimeMs, sha256: file.sha256, sopInstanceUid: file.sopInstanceUid };
      switch (outcome.kind) {
        case 'stored':
          if (outcome.status === 'ALREADY_STORED') already += 1;
          else stored += 1;
          entries.push({ ...base, outcome: outcome.status === 'ALREADY_STORED' ? 'already_stored' : outcome.status === 'NEW_VERSION' ? 'new_version' : 'stored' });
          break;
        case 'rejected':
          refused += 1;
          entries.push({ ...base, outcome: 'rejected', reason: outcome.reason, message: outcome.message });
          reject({ path: file.path, reason: outcome.reason, message: outcome.message, source: 'archive' });
          break;
        case 'retry':
          again.push(file);
          break;
      }
    });
    // Durable before it is counted or reported: a kill after this line loses nothing of this batch.
    journal.record(entries);
    sent += stored;
    alreadyThere += already;
    const confirmed = files.filter((f) => !again.includes(f));
    doneFiles += confirmed.length;
    doneBytes += confirmed.reduce((s, f) => s + f.size, 0);
    reporter.emit({
      event: 'batch',
      files: confirmed.length,
      bytes: confirmed.reduce((s, f) => s + f.size, 0),
      stored,
      alreadyStored: already,
      rejected: refused,
      doneFiles,
      doneBytes,
      totalFiles,
      totalBytes,
    });
    progress(true);
    return again;
  };

  const sendBatch = async (batch: Dicom[]): Promise<void> => {
    let remaining = batch;
    try {
      await withRetry(
        async () => {
          if (remaining.length === 0) return;
          let outcomes: FileOutcome[];
          requests += 1;
          partsSent += remaining.length;
          try {
            outcomes = await client.send(remaining, (n) => {
              bytesSent += n;
              progress();
            });
          } catch (error) {
            if (error instanceof RequestTooLargeError) {
              if (remaining.length > 1) {
                // Split and requeue at the front: the halves go out as the next batches.
                const half = Math.ceil(remaining.length / 2);
                queue.unshift(remaining.slice(0, half), remaining.slice(half));
                remaining = [];
                return;
              }
              outcomes = [{ kind: 'rejected', reason: 'too_large', failureReason: null, message: error.message }];
            } else if (error instanceof RequestRefusedError) {
              outcomes = remaining.map(() => ({ kind: 'rejected' as const, reason: `http_${error.httpStatus}`, failureReason: null, message: error.message }));
            } else {
              throw error;
            }
          }
          remaining = settle(remaining, outcomes);
          if (remaining.length > 0) throw new TransientError(`${remaining.length} instances could not be stored yet (archive storage unavailable)`);
        },
        options.retry,
        (notice) => reporter.emit({ event: 'retry', attempt: notice.attempt, delayMs: notice.delayMs, error: notice.error.message }),
        options.signal,
      );
    } catch (error) {
      notSent += remaining.length;
      if (error instanceof AuthRefusedError) {
        stop = 'auth';
        stopError = error.message;
      } else if (error instanceof GaveUpError) {
        stop ??= options.signal?.aborted ? 'interrupted' : 'gave_up';
        stopError ??= error.message;
      } else {
        stop ??= 'gave_up';
        stopError ??= describe(error);
      }
    }
  };

  const worker = async (): Promise<void> => {
    for (;;) {
      if (stop !== null) return;
      const batch = queue.shift();
      if (batch === undefined) return;
      await sendBatch(batch);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    client.close();
    notSent += queue.reduce((s, b) => s + b.length, 0);
    journal.compact();
  }

  const exitCode = stop === 'auth' ? ExitCode.AuthRefused : notSent > 0 ? ExitCode.Unreachable : rejected.length > 0 ? ExitCode.Rejected : ExitCode.Ok;
  const summary: Summary = {
    sent,
    alreadyThere,
    rejected,
    skipped,
    notSent,
    partsSent,
    requests,
    bytesSent,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    exitCode,
    ...(stopError === undefined ? {} : { error: stop === 'interrupted' ? `interrupted: ${stopError}` : stopError }),
  };
  reporter.emit({ event: 'summary', ...summary });
  return summary;
}
