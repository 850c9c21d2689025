import { kyselyOn, sql, type Pool, type PoolClient, type Selectable, type Tables } from '@yunying/catalog';
import type { QueueName } from './catalogue';

/** Catalog access of the transactional outbox (table `outbox`): rows written with the state they announce, published by the relay. */

/** An outbox row not yet published: a job for bull. */
export type OutboxRow = Pick<Selectable<Tables.Outbox>, 'id' | 'jobName' | 'jobId'> & { queue: QueueName; payload: object };

/** On the ingest write path (inside its transaction): SQL text, no query building per instance. */
export async function insertOutboxRow(client: PoolClient, queue: QueueName, jobName: string, jobId: string, payload: object): Promise<void> {
  await client.query('INSERT INTO outbox (queue, job_name, job_id, payload) VALUES ($1, $2, $3, $4)', [queue, jobName, jobId, JSON.stringify(payload)]);
}

/** The oldest unpublished rows of these queues (rows for other queues are another relay's). */
export async function unpublishedRows(pool: Pool, queues: readonly string[], limit: number): Promise<OutboxRow[]> {
  return (
    kyselyOn(pool)
      .selectFrom('outbox')
      .select(['id', 'queue', 'jobName', 'jobId', 'payload'])
      .where('publishedAt', 'is', null)
      // One array parameter, and no IN () to build when a relay serves no queue.
      .where(sql<boolean>`queue = ANY(${[...queues]}::text[])`)
      .orderBy('id')
      .limit(limit)
      // enqueueInTransaction writes queue from QueueName and payload from a job's payload object.
      .$narrowType<{ queue: QueueName; payload: object }>()
      .execute()
  );
}

/** Marks these rows published, in one statement. */
export async function markPublished(pool: Pool, ids: readonly string[]): Promise<void> {
  await kyselyOn(pool)
    .updateTable('outbox')
    .set({ publishedAt: sql<Date>`now()` })
    .where(sql<boolean>`id = ANY(${[...ids]}::bigint[])`)
    .execute();
}
