import type { Logger } from '@yunying/core';
import { AuthRefusedError, RequestRefusedError, RequestTooLargeError, TransientError, asTransient, describe } from '../archive/archive.errors';
import { backoffDelay, sleep } from '../archive/retry';
import type { FileOutcome, StowClient } from '../archive/stow.client';
import type { GatewayMetrics } from './gateway.metrics';
import type { Spool, SpoolFile } from './spool';

/**
 * Moves the spool to the archive: oldest pending instances first, in STOW-RS batches, `concurrency`
 * batches in flight. A pending file leaves the spool only on the archive's confirmation of that very
 * part (STORED / ALREADY_STORED / NEW_VERSION) or its permanent refusal (to failed/, with the reason).
 * Everything else (unreachable, timeouts, 5xx, 503 Retry-After, a part the archive could not store
 * yet, a refused key) keeps the files pending and waits: exponential backoff with jitter up to
 * `maxBackoffMs`, shared by all workers, never giving up; an outage of days just means a long wait.
 */
export interface ForwarderOptions {
  batchFiles: number;
  batchBytes: number;
  concurrency: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** How often to look for work when nothing woke us (files are also picked up when put() signals). */
  idlePollMs: number;
}

export interface ArchiveState {
  reachable: boolean | null;
  lastError: string | null;
  lastErrorAt: string | null;
  lastSuccessAt: string | null;
  nextAttemptAt: string | null;
  authRefused: boolean;
}

export class Forwarder {
  private readonly inFlight = new Set<string>();
  private stopping = new AbortController();
  private workers: Promise<void>[] = [];
  private wakeUp: (() => void) | null = null;
  private failures = 0;
  private retryAt = 0;
  /** Shrunk after a 413 or a refused request, so a problem part is isolated; grows back after successes. */
  private batchLimit: number;
  readonly state: ArchiveState = { reachable: null, lastError: null, lastErrorAt: null, lastSuccessAt: null, nextAttemptAt: null, authRefused: false };

  constructor(
    private readonly spool: Spool,
    private readonly client: Pick<StowClient, 'send'>,
    private readonly options: ForwarderOptions,
    private readonly metrics: GatewayMetrics,
    private readonly logger: Logger,
    private readonly onStateChange: () => void = () => undefined,
  ) {
    this.batchLimit = options.batchFiles;
    spool.onAdded(() => this.wake());
  }

  start(): void {
    this.workers = Array.from({ length: this.options.concurrency }, () => this.work());
  }

  /** Stops taking batches; a batch in flight finishes (its request is bounded by the client timeout). */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.wake();
    await Promise.all(this.workers);
  }

  wake(): void {
    const wake = this.wakeUp;
    this.wakeUp = null;
    wake?.();
  }

  private waitForWork(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const previous = this.wakeUp;
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      // Several idle workers: one wake resolves them all.
      this.wakeUp = () => {
        previous?.();
        done();
      };
    });
  }

  private claim(): SpoolFile[] {
    const batch: SpoolFile[] = [];
    let bytes = 0;
    for (const file of this.spool.pendingFiles()) {
      if (this.inFlight.has(file.sha256)) continue;
      if (batch.length > 0 && (batch.length >= this.batchLimit || bytes + file.size > this.options.batchBytes)) break;
      batch.push(file);
      bytes += file.size;
    }
    for (const f of batch) this.inFlight.add(f.sha256);
    return batch;
  }

  private async work(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      const wait = this.retryAt - Date.now();
      if (wait > 0) {
        await sleep(wait, signal);
        continue;
      }
      const batch = this.claim();
      if (batch.length === 0) {
        await this.waitForWork(this.options.idlePollMs);
        continue;
      }
      try {
        await this.forward(batch);
      } finally {
        for (const f of batch) this.inFlight.delete(f.sha256);
      }
    }
  }

  private async forward(batch: SpoolFile[]): Promise<void> {
    let outcomes: FileOutcome[];
    try {
      outcomes = await this.client.send(batch.map((f) => ({ path: f.path, size: f.size })));
    } catch (raw) {
      const error = asTransient(raw);
      if ((error instanceof RequestTooLargeError || error instanceof RequestRefusedError) && batch.length > 1) {
        this.batchLimit = Math.max(1, Math.floor(batch.length / 2));
        this.logger.warn({ err: describe(error), batchLimit: this.batchLimit }, 'archive refused a batch: sending smaller batches');
        return;
      }
      if (error instanceof RequestTooLargeError || error instanceof RequestRefusedError) {
        const [file] = batch;
        if (file !== undefined) this.failed(file, error instanceof RequestTooLargeError ? 'too_large' : `http_${error.httpStatus}`, error.message, null);
        return;
      }
      const gone = this.spool.forgetMissing(batch);
      if (gone > 0) {
        this.logger.error({ gone }, 'pending instances were removed from the spool by hand: not sent');
        return;
      }
      this.backOff(error);
      return;
    }
    let again = 0;
    batch.forEach((file, i) => {
      const outcome = outcomes[i];
      switch (outcome?.kind) {
        case 'stored':
          this.spool.confirm(file, { sopInstanceUid: outcome.sopInstanceUid, status: outcome.status });
          this.metrics.forwarded.inc({ outcome: outcome.status.toLowerCase() });
          break;
        case 'rejected':
          this.failed(file, outcome.reason, outcome.message, outcome.sopInstanceUid ?? null);
          break;
        case 'retry':
        case undefined:
          again += 1;
          break;
      }
    });
    this.failures = 0;
    this.state.reachable = true;
    this.state.authRefused = false;
    this.state.lastSuccessAt = new Date().toISOString();
    this.batchLimit = Math.min(this.options.batchFiles, this.batchLimit * 2);
    if (again > 0) this.backOff(new TransientError(`${again} instances could not be stored yet by the archive`));
    else {
      this.state.nextAttemptAt = null;
      this.onStateChange();
    }
    this.metrics.refresh();
  }

  private failed(file: SpoolFile, reason: string, message: string, sopInstanceUid: string | null): void {
    this.logger.error({ sha256: file.sha256, reason, message }, 'archive refused an instance for good: moved to failed/');
    this.spool.fail(file, { sopInstanceUid, reason, message });
    this.metrics.forwarded.inc({ outcome: 'rejected' });
    this.metrics.refresh();
  }

  private backOff(error: unknown): void {
    this.failures += 1;
    const auth = error instanceof AuthRefusedError;
    const retryAfter = error instanceof TransientError ? error.retryAfterMs : undefined;
    // A refused key will not fix itself quickly: wait the longest, but keep trying (an admin may re-enable it).
    const delay = auth ? this.options.maxBackoffMs : Math.min(this.options.maxBackoffMs, backoffDelay({ baseMs: this.options.baseBackoffMs, maxMs: this.options.maxBackoffMs }, this.failures - 1, retryAfter));
    this.retryAt = Math.max(this.retryAt, Date.now() + delay);
    this.state.reachable = auth ? true : error instanceof TransientError ? false : this.state.reachable;
    this.state.authRefused = auth;
    this.state.lastError = describe(error);
    this.state.lastErrorAt = new Date().toISOString();
    this.state.nextAttemptAt = new Date(this.retryAt).toISOString();
    this.metrics.forwardErrors.inc({ kind: auth ? 'auth_refused' : error instanceof TransientError ? 'transient' : 'other' });
    (auth ? this.logger.error.bind(this.logger) : this.logger.warn.bind(this.logger))({ err: describe(error), retryInMs: delay }, auth ? 'ALARM: the archive refused the API key; instances stay queued' : 'archive not reachable; instances stay queued');
    this.onStateChange();
    this.metrics.refresh();
  }
}
