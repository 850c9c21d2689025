import type { Job } from 'bull';
import { describeError, type Logger } from '@yunying/core';
import { JOB_NAMES, QUEUE_NAMES, type JobName, type JobPayload, type QueueName } from './catalogue';
import type { TypedQueue } from './queues';

export type { Job } from 'bull';

/** One handler per job of a queue, typed from the catalogue. */
export type Handlers<Q extends QueueName> = { [J in JobName<Q>]: (job: Job<JobPayload<Q, J>>) => Promise<unknown> };

export interface QueueWorker<Q extends QueueName> {
  queue: TypedQueue<Q>;
  concurrency: number;
  handlers: Handlers<Q>;
}

/** A worker for every queue of the catalogue: a queue added to JobCatalogue without one is a compile error here. */
export type CatalogueWorkers = { [Q in QueueName]: QueueWorker<Q> };

/**
 * The "queue/job" pairs of the catalogue that have no handler. The types already demand every one; this
 * also holds for workers assembled where the types were widened (a cast, a spread of a partial object).
 */
export function missingHandlers(handlersByQueue: Partial<Record<QueueName, Partial<Record<string, unknown>>>>): string[] {
  return QUEUE_NAMES.flatMap((queue) =>
    JOB_NAMES[queue].filter((job) => typeof handlersByQueue[queue]?.[job] !== 'function').map((job) => `${queue}/${job}`),
  );
}

/**
 * Starts the workers of the whole catalogue, or none of them: a queue or a job without a handler would
 * leave its jobs waiting in Redis for ever, so start-up fails instead, before any worker takes a job.
 */
export function startCatalogueWorkers(workers: CatalogueWorkers, logger: Logger): void {
  const missing = missingHandlers(Object.fromEntries(QUEUE_NAMES.map((queue) => [queue, workers[queue]?.handlers])));
  if (missing.length > 0) throw new Error(`job catalogue: no handler for ${missing.join(', ')}`);
  for (const queue of QUEUE_NAMES) startQueueWorker(workers[queue] as QueueWorker<QueueName>, logger);
}

function startQueueWorker<Q extends QueueName>({ queue, concurrency, handlers }: QueueWorker<Q>, logger: Logger): void {
  for (const name of JOB_NAMES[queue.name]) {
    const handler = handlers[name] as (job: Job<object>) => Promise<unknown>;
    // bull's process() promise settles only when the worker loop stops; a rejection (Redis gone at
    // start) is logged, and readiness reports Redis.
    queue.bull.process(name, concurrency, (job: Job<object>) => handler(job)).catch((error: unknown) => {
      logger.error({ queue: queue.name, job: name, err: describeError(error) }, 'queue worker stopped');
    });
  }
}
