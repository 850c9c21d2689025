import { AuthRefusedError, GaveUpError, RequestRefusedError, RequestTooLargeError, TransientError, describe } from '../archive/archive.errors';
import { withRetry } from '../archive/retry';
import { StowClient, type FileOutcome } from '../archive/stow.client';
import type { Journal, JournalEntry } from './journal';
import type { Reporter } from './upload.events';
import type { DicomFile } from './upload.plan';
import type { UploadOptions } from './upload.options';
import type { UploadTally } from './upload.tally';

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

/** Files and bytes confirmed so far against the plan; `progress` events at most once a second unless forced. */
class Progress {
  doneFiles = 0;
  doneBytes = 0;
  private lastMs = 0;

  constructor(
    private readonly reporter: Reporter,
    private readonly tally: UploadTally,
    readonly totalFiles: number,
    readonly totalBytes: number,
  ) {}

  confirmed(files: readonly DicomFile[]): void {
    this.doneFiles += files.length;
    this.doneBytes += files.reduce((s, f) => s + f.size, 0);
  }

  report(force = false): void {
    const now = Date.now();
    if (!force && now - this.lastMs < 1000) return;
    this.lastMs = now;
    const seconds = Math.max(0.001, (now - this.tally.startedMs) / 1000);
    const rate = this.tally.bytesSent / seconds;
    const left = this.totalBytes - this.doneBytes;
    this.reporter.emit({
      event: 'progress',
      doneFiles: this.doneFiles,
      totalFiles: this.totalFiles,
      doneBytes: this.doneBytes,
      totalBytes: this.totalBytes,
      bytesPerSecond: Math.round(rate),
      etaSeconds: rate > 0 ? Math.round(left / rate) : null,
    });
  }
}

/**
 * Phase 4 of an upload: the planned files in batches over STOW-RS, `concurrency` batches in flight. Each
 * batch is retried until every file in it is stored or refused (a 413 splits it in halves that go next); each
 * answer is journalled before it is counted. A refused key, a batch that gives up, or the abort signal stops
 * new batches from starting; batches in flight finish, and what never went out counts as not sent.
 */
export async function sendPlanned(options: UploadOptions, files: readonly DicomFile[], journal: Journal, tally: UploadTally): Promise<void> {
  const client = new StowClient({ ingestUrl: options.ingestUrl, apiKey: options.apiKey, timeoutMs: options.timeoutMs, userAgent: options.userAgent });
  const queue = makeBatches(files, options.batchFiles, options.batchBytes);
  const progress = new Progress(
    options.reporter,
    tally,
    files.length,
    files.reduce((s, f) => s + f.size, 0),
  );
  const onAbort = (): void => tally.interrupt();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const worker = async (): Promise<void> => {
    for (;;) {
      if (tally.stopped) return;
      const batch = queue.shift();
      if (batch === undefined) return;
      await sendBatch(batch, { options, client, queue, journal, tally, progress });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    client.close();
    tally.notSent += queue.reduce((s, b) => s + b.length, 0);
  }
}

interface SendContext {
  options: UploadOptions;
  client: StowClient;
  /** The batches not yet started; a split batch's halves go back at its front. */
  queue: DicomFile[][];
  journal: Journal;
  tally: UploadTally;
  progress: Progress;
}

/** One batch, retried (options.retry) until each file has an answer; what is left when it stops is not sent. */
async function sendBatch(batch: DicomFile[], ctx: SendContext): Promise<void> {
  const { options, client, tally, progress } = ctx;
  let remaining = batch;
  try {
    await withRetry(
      async () => {
        if (remaining.length === 0) return;
        let outcomes: FileOutcome[];
        tally.requests += 1;
        tally.partsSent += remaining.length;
        try {
          outcomes = await client.send(remaining, (n) => {
            tally.bytesSent += n;
            progress.report();
          });
        } catch (error) {
          if (error instanceof RequestTooLargeError) {
            if (remaining.length > 1) {
              // Split and requeue at the front: the halves go out as the next batches.
              const half = Math.ceil(remaining.length / 2);
              ctx.queue.unshift(remaining.slice(0, half), remaining.slice(half));
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
        remaining = settle(remaining, outcomes, ctx);
        if (remaining.length > 0) throw new TransientError(`${remaining.length} instances could not be stored yet (archive storage unavailable)`);
      },
      options.retry,
      (notice) => options.reporter.emit({ event: 'retry', attempt: notice.attempt, delayMs: notice.delayMs, error: notice.error.message }),
      options.signal,
    );
  } catch (error) {
    tally.notSent += remaining.length;
    if (error instanceof AuthRefusedError) tally.authRefused(error.message);
    else if (error instanceof GaveUpError) tally.gaveUp(options.signal?.aborted ? 'interrupted' : 'gave_up', error.message);
    else tally.gaveUp('gave_up', describe(error));
  }
}

/**
 * Records the archive's answer for each file of a request: stored / already there / refused go to the journal
 * (durable before they are counted or reported), the files it asked to send again are returned.
 */
function settle(files: readonly DicomFile[], outcomes: readonly FileOutcome[], ctx: SendContext): DicomFile[] {
  const { journal, tally, progress } = ctx;
  const entries: Omit<JournalEntry, 'at'>[] = [];
  const again: DicomFile[] = [];
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
        tally.reject({ path: file.path, reason: outcome.reason, message: outcome.message, source: 'archive' });
        break;
      case 'retry':
        again.push(file);
        break;
    }
  });
  // Durable before it is counted or reported: a kill after this line loses nothing of this batch.
  journal.record(entries);
  tally.sent += stored;
  tally.alreadyThere += already;
  const confirmed = files.filter((f) => !again.includes(f));
  progress.confirmed(confirmed);
  ctx.options.reporter.emit({
    event: 'batch',
    files: confirmed.length,
    bytes: confirmed.reduce((s, f) => s + f.size, 0),
    stored,
    alreadyStored: already,
    rejected: refused,
    doneFiles: progress.doneFiles,
    doneBytes: progress.doneBytes,
    totalFiles: progress.totalFiles,
    totalBytes: progress.totalBytes,
  });
  progress.report(true);
  return again;
}
