import Queue from 'bull';
import type { Job, JobOptions, Queue as BullQueue } from 'bull';
import { assertNoPatientData, type JobName, type JobPayload, type QueueName } from './catalogue';

/**
 * The retry policy of every job (STYLE 5: transient failures are retried with backoff): five attempts,
 * 2 s doubling. Producers add through TypedQueue.add and the outbox relay; both take it from here, and a
 * job's own options (jobId, delay) go on top.
 */
export const DEFAULT_JOB_OPTIONS = { attempts: 5, backoff: { type: 'exponential', delay: 2000 } } as const satisfies JobOptions;

export interface QueueSettings {
  redisUrl: string;
  prefix: string;
  /**
   * A job's lock (bull's lockDuration, renewed at half of it while the job runs) and how often workers look
   * for jobs whose lock lapsed (stalledInterval): a job whose process died is taken up again within about
   * twice this. Default 30 s, bull's own.
   */
  lockSeconds?: number;
}

/** The queue settings of a process, from its configuration's `redis` section (every role builds its queues from it). */
export function queueSettingsOf(redis: { url: string; queuePrefix: string; lockSeconds: number }): QueueSettings {
  return { redisUrl: redis.url, prefix: redis.queuePrefix, lockSeconds: redis.lockSeconds };
}

/** Typed producer for one queue of the catalogue. */
export class TypedQueue<Q extends QueueName> {
  readonly bull: BullQueue<object>;

  constructor(
    readonly name: Q,
    settings: QueueSettings,
  ) {
    const lockMs = (settings.lockSeconds ?? 30) * 1000;
    this.bull = new Queue<object>(name, settings.redisUrl, {
      prefix: settings.prefix,
      settings: { lockDuration: lockMs, stalledInterval: lockMs },
      defaultJobOptions: { removeOnComplete: 1000, removeOnFail: 5000 },
    });
    // Connection errors surface through readiness and job failures; an unhandled 'error' event would crash.
    this.bull.on('error', () => undefined);
  }

  async add<J extends JobName<Q>>(job: J, payload: JobPayload<Q, J>, options: JobOptions & { jobId: string }): Promise<Job<JobPayload<Q, J>>> {
    assertNoPatientData(payload as object);
    const added = await this.bull.add(job, payload as object, { ...DEFAULT_JOB_OPTIONS, ...options });
    return added as Job<JobPayload<Q, J>>;
  }

  async close(): Promise<void> {
    await this.bull.close();
  }
}

/** Redis answers (used by /readyz). */
export async function pingQueueRedis(queue: TypedQueue<QueueName>): Promise<void> {
  const client = await queue.bull.isReady().then((q) => q.client);
  const pong = await client.ping();
  if (pong !== 'PONG') throw new Error('redis did not answer PING');
}
