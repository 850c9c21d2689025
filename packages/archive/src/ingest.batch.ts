import { FailureReason } from '@yunying/dicom';
import type { InstanceOutcome, Sender, StagingPipeline, Staged } from './ingest.types';

/** When a batch's catalog transaction is written: whichever limit is reached first, and at `close`. */
export interface BatchLimits {
  /** Instances per catalog transaction. */
  maxInstances: number;
  /** Bytes of staged instances held for the after-commit hook before the batch is written. */
  maxBytes: number;
  /**
   * Group commit, for a batch with no end in sight (a DIMSE association): an instance is written as soon
   * as no transaction of this batch is running, and those staged while one runs go together in the next
   * one. One instance at a time costs no wait (a batch of one, at once); several in flight share commits.
   */
  commitWhenIdle?: boolean;
}


interface Waiting {
  item: Staged;
  settle: (outcome: InstanceOutcome) => void;
  endTimer: () => void;
}

/**
 * The instances of one request (a STOW-RS body) on their way into the catalog (#14). Each `add` parses
 * and copies an instance at once (its copies durable before `staged` resolves); its catalog rows wait
 * for the batch, written in one transaction when a limit is reached or at `close`. While one batch
 * commits the next parts are copied; at most one more batch waits behind it.
 *
 * The acknowledgement rule holds per instance: its `outcome` resolves to stored only after the
 * transaction holding its rows committed; an instance of a batch whose transaction failed is a retryable
 * refusal (or a permanent one, see IngestPipeline.commit), never stored.
 */
export class IngestBatch {
  private pending: Waiting[] = [];
  private pendingBytes = 0;
  private committing: Promise<void> = Promise.resolve();
  /** Transactions queued or running (commitWhenIdle writes only when none is). */
  private transactions = 0;

  constructor(
    private readonly pipeline: StagingPipeline,
    private readonly sender: Sender,
    private readonly expectedStudyUid: string | undefined,
    private readonly limits: BatchLimits,
  ) {}

  /**
   * Starts one instance. `staged` resolves when its copies are durable (or it was refused before) and
   * rejects on a request-level error (e.g. the sender's clinic is unknown); `outcome` never rejects.
   */
  add(bytes: Uint8Array): { staged: Promise<void>; outcome: Promise<InstanceOutcome> } {
    const endTimer = this.pipeline.startTimer(this.sender);
    let settle: (outcome: InstanceOutcome) => void = () => undefined;
    const outcome = new Promise<InstanceOutcome>((resolve) => {
      settle = (o) => {
        this.pipeline.count(o, this.sender);
        resolve(o);
      };
    });
    const staged = this.pipeline.prepare(bytes, this.sender, this.expectedStudyUid).then(
      async (prepared) => {
        if (prepared.kind === 'done') {
          endTimer();
          settle(prepared.outcome);
          return;
        }
        // One SOP Instance UID once per transaction: a second copy in one request goes into the next batch.
        const repeat = this.pending.some((w) => w.item.parsed.sopInstanceUid === prepared.parsed.sopInstanceUid);
        const before = repeat ? this.flush() : undefined;
        this.pending.push({ item: prepared, settle, endTimer });
        this.pendingBytes += bytes.byteLength;
        const full = this.pending.length >= this.limits.maxInstances || this.pendingBytes >= this.limits.maxBytes;
        const idle = this.limits.commitWhenIdle === true && this.transactions === 0;
        const ahead = full || idle ? this.flush() : undefined;
        // Back-pressure: no more than one written batch waits behind the one committing.
        await before;
        await ahead;
      },
      (error: unknown) => {
        endTimer();
        settle(requestFailed);
        throw error;
      },
    );
    return { staged, outcome };
  }

  /** Writes what is pending and waits until every batch of this request has its outcome. */
  async close(): Promise<void> {
    void this.flush();
    await this.committing;
  }

  /** Queues the pending instances as one transaction; resolves when the transaction before it has ended. */
  private flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    const previous = this.committing;
    if (batch.length === 0) return previous;
    this.transactions += 1;
    this.committing = previous.then(async () => {
      // commit never throws by contract; should it, no instance of the batch may be left unanswered or stored.
      const outcomes = await this.pipeline.commit(batch.map((w) => w.item), this.sender).catch(() => []);
      batch.forEach((w, i) => {
        w.endTimer();
        w.settle(outcomes[i] ?? requestFailed);
      });
      this.transactions -= 1;
      // Group commit: what was staged while this transaction ran goes next.
      if (this.limits.commitWhenIdle === true && this.transactions === 0 && this.pending.length > 0) void this.flush();
    });
    return previous;
  }
}

/** The outcome of an instance whose request failed as a whole (the response is the request's error). */
const requestFailed: InstanceOutcome = { status: 'rejected', failureReason: FailureReason.ProcessingFailure, reason: 'request_failed', message: 'The request failed', retryable: true };
