import type { Pool, PoolClient } from '@yunying/catalog';
import { assertNoPatientData, type JobName, type JobPayload, type QueueName } from './catalogue';
import { insertOutboxRow, markPublished, unpublishedRows } from './outbox.repository';
import { DEFAULT_JOB_OPTIONS, type TypedQueue } from './queues';

/**
 * Transactional outbox. A job that must not be lost is first written to the catalog in the same
 * transaction as the state it announces; the relay then publishes it to bull and marks it published.
 * If Redis loses its contents or the process dies between commit and publish, the relay (or the
 * reconciler) publishes it again; deterministic job ids make the repeat harmless.
 */
export async function enqueueInTransaction<Q extends QueueName, J extends JobName<Q>>(
  client: PoolClient,
  queue: Q,
  job: J,
  jobId: string,
  payload: JobPayload<Q, J>,
): Promise<void> {
  assertNoPatientData(payload as object);
  await insertOutboxRow(client, queue, job, jobId, payload as object);
}

type AnyQueue = { [Q in QueueName]: TypedQueue<Q> };

/** Publishes unpublished outbox rows in id order; returns how many were published. */
export async function relayOutbox(pool: Pool, queues: Partial<AnyQueue>, batchSize = 100, delayFor?: (queue: QueueName, job: string) => number): Promise<number> {
  // Only the queues this relay publishes: rows for other queues are another relay's, never skipped-and-stuck here.
  const rows = await unpublishedRows(pool, Object.keys(queues), batchSize);
  // Rows are marked published in one statement per pass (one commit, not one per row); a publish that
  // fails part-way marks what was published and rethrows, and the rest is retried on the next pass.
  const published: string[] = [];
  try {
    for (const row of rows) {
      const queue = queues[row.queue];
      if (!queue) continue;
      const delay = delayFor?.(row.queue, row.jobName) ?? 0;
      await queue.bull.add(row.jobName, row.payload, { ...DEFAULT_JOB_OPTIONS, jobId: row.jobId, delay });
      published.push(row.id);
    }
  } finally {
    if (published.length > 0) await markPublished(pool, published);
  }
  return published.length;
}

/**
 * Runs `relayOutbox` soon after each `kick()` (after an ingest commit) and on a fixed interval (for rows
 * left behind by a crash or a Redis outage). One relay pass at a time per process.
 */
export class OutboxRelay {
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly pool: Pool,
    private readonly queues: Partial<AnyQueue>,
    private readonly options: {
      intervalMs: number;
      delayFor?: (queue: QueueName, job: string) => number;
      onError: (error: unknown) => void;
      /**
       * Kicks within this many ms share one pass (#14: a STOW request of n instances ran n passes of a
       * SELECT, the bull adds and an UPDATE). Only for jobs published with a delay far longer than this
       * (the stable-study announcement waits for the quiet period); 0, the default, runs at once.
       */
      coalesceMs?: number;
    },
  ) {}

  start(): void {
    this.timer = setInterval(() => this.pass(), this.options.intervalMs);
    this.timer.unref();
    this.pass();
  }

  kick(): void {
    if (this.stopped) return;
    const coalesceMs = this.options.coalesceMs ?? 0;
    if (coalesceMs <= 0) {
      this.pass();
      return;
    }
    if (this.soon) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      this.pass();
    }, coalesceMs);
    // The interval relay publishes anything a stopped timer left behind.
    this.soon.unref();
  }

  private pass(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          while ((await relayOutbox(this.pool, this.queues, 100, this.options.delayFor)) === 100) {
            // a full batch: there may be more
          }
        } catch (error) {
          this.options.onError(error);
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = undefined;
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.soon) clearTimeout(this.soon);
    await this.running;
  }
}
