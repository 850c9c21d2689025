import { randomBytes } from 'node:crypto';
import { inTransaction } from '@yunying/catalog';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { waitFor } from '../../../test/support/wait';
import { OutboxRelay, enqueueInTransaction, relayOutbox } from './outbox';
import { DEFAULT_JOB_OPTIONS, TypedQueue } from './queues';

/**
 * The transactional outbox against the real PostgreSQL and Redis: a committed row is published once under
 * its deterministic job id and marked; a rolled-back one never is; a publish repeated after a crash
 * between publish and mark changes nothing in Redis; rows of queues a relay does not serve stay for theirs.
 */
describe('outbox relay (real PostgreSQL and Redis)', () => {
  let catalog: TestCatalog;
  let study: TypedQueue<'study'>;
  let triage: TypedQueue<'triage'>;

  beforeAll(async () => {
    catalog = await createTestCatalog('outbox');
    const settings = { redisUrl: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379', prefix: `outbox-${randomBytes(4).toString('hex')}` };
    study = new TypedQueue('study', settings);
    triage = new TypedQueue('triage', settings);
  });

  afterAll(async () => {
    for (const queue of [study, triage]) {
      await queue?.bull.obliterate({ force: true }).catch(() => undefined);
      await queue?.close();
    }
    await catalog?.drop();
  });

  const unpublished = async (): Promise<string[]> =>
    (await catalog.pool.query<{ job_id: string }>('SELECT job_id FROM outbox WHERE published_at IS NULL ORDER BY id')).rows.map((r) => r.job_id);

  test('a committed row is published once with its job id and payload, then marked; a rolled-back one never exists', async () => {
    await inTransaction(catalog.pool, (client) => enqueueInTransaction(client, 'study', 'study.announced', 'announced:1.2.3:1000', { studyInstanceUid: '1.2.3' }));
    await inTransaction(catalog.pool, async (client) => {
      await enqueueInTransaction(client, 'study', 'study.announced', 'announced:9.9.9:1000', { studyInstanceUid: '9.9.9' });
      throw new Error('the announcing transaction fails');
    }).catch(() => undefined);
    expect(await unpublished()).toEqual(['announced:1.2.3:1000']);

    expect(await relayOutbox(catalog.pool, { study })).toBe(1);
    const job = await study.bull.getJob('announced:1.2.3:1000');
    expect(job?.name).toBe('study.announced');
    expect(job?.data).toEqual({ studyInstanceUid: '1.2.3' });
    expect(job?.opts).toMatchObject({ attempts: 5, backoff: { type: 'exponential', delay: 2000 } });
    expect(job?.opts).toMatchObject(DEFAULT_JOB_OPTIONS);
    expect(await study.bull.getJob('announced:9.9.9:1000')).toBeNull();
    expect(await unpublished()).toEqual([]);
    expect(await relayOutbox(catalog.pool, { study })).toBe(0);
  });

  test('a publish repeated after a crash between publish and mark leaves one job in Redis', async () => {
    await inTransaction(catalog.pool, (client) => enqueueInTransaction(client, 'study', 'study.announced', 'announced:4.5.6:2000', { studyInstanceUid: '4.5.6' }));
    expect(await relayOutbox(catalog.pool, { study })).toBe(1);
    // The crash: the job reached Redis but the mark was never committed.
    await catalog.pool.query("UPDATE outbox SET published_at = NULL WHERE job_id = 'announced:4.5.6:2000'");
    const before = await study.bull.getJobCounts();
    expect(await relayOutbox(catalog.pool, { study })).toBe(1);
    expect(await study.bull.getJobCounts()).toEqual(before);
    expect(await unpublished()).toEqual([]);
  });

  test('rows of a queue this relay does not serve stay unpublished for the relay that does', async () => {
    await inTransaction(catalog.pool, (client) =>
      enqueueInTransaction(client, 'triage', 'triage.run', 'triage:7.7.7:1.0.0:1', { studyInstanceUid: '7.7.7', modelId: 'm', modelVersion: '1.0.0', instanceCount: 1 }),
    );
    expect(await relayOutbox(catalog.pool, { study })).toBe(0);
    expect(await unpublished()).toEqual(['triage:7.7.7:1.0.0:1']);
    expect(await relayOutbox(catalog.pool, { triage })).toBe(1);
    expect((await triage.bull.getJob('triage:7.7.7:1.0.0:1'))?.data).toMatchObject({ studyInstanceUid: '7.7.7' });
  });

  test('kicks within the coalescing window share one relay pass, and every row is published', async () => {
    const relay = new OutboxRelay(catalog.pool, { study }, { intervalMs: 3_600_000, coalesceMs: 300, onError: (error) => { throw error; } });
    const passes = jest.spyOn(catalog.pool, 'query');
    // A pass starts with the one read of unpublished rows (outbox.repository unpublishedRows).
    const relayPasses = (): number => passes.mock.calls.filter(([sql]) => typeof sql === 'string' && /^select .* from "outbox" where "published_at" is null/is.test(sql)).length;
    try {
      for (let i = 0; i < 5; i++) {
        await inTransaction(catalog.pool, (client) => enqueueInTransaction(client, 'study', 'study.announced', `announced:5.5.${i}:3000`, { studyInstanceUid: `5.5.${i}` }));
        relay.kick();
      }
      await waitFor('the coalesced pass to publish the five rows', async () => ((await unpublished()).length === 0 ? true : null), 10_000);
      expect(relayPasses()).toBe(1);
      await inTransaction(catalog.pool, (client) => enqueueInTransaction(client, 'study', 'study.announced', 'announced:5.5.9:3000', { studyInstanceUid: '5.5.9' }));
      relay.kick();
      await waitFor('a later kick to publish the next row', async () => ((await unpublished()).length === 0 ? true : null), 10_000);
      expect(relayPasses()).toBe(2);
    } finally {
      passes.mockRestore();
      await relay.stop();
    }
  });

  test('a payload key that smells of patient data is refused at the producer', async () => {
    await expect(
      inTransaction(catalog.pool, (client) =>
        enqueueInTransaction(client, 'study', 'study.announced', 'announced:x:1', { studyInstanceUid: '1.2', patientName: 'X' } as { studyInstanceUid: string }),
      ),
    ).rejects.toThrow(/patient data/);
    expect(await unpublished()).toEqual([]);
  });
});
