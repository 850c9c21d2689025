import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Queue from 'bull';
import { makeStudy } from '@yunying/dicom/testing';
import { freePort } from '../support/processes';
import { redisServerBinary, startRedis, stopRedis, type PrivateRedis } from '../support/redis';
import { describeUnless } from '../support/skip';
import { startSystem, stow, stowItems, type RunningSystem } from '../support/system';
import { waitFor } from '../support/wait';

/**
 * #8 "queues survive Redis loss": the catalog is the source of truth and the outbox relay publishes
 * what Redis never got. A private redis-server (no persistence) is flushed mid-run, then killed while
 * a study is uploaded, and started again empty on the same port: STOW keeps acknowledging (the outbox
 * is in PostgreSQL), the announcements committed while Redis was gone stay unpublished, and once Redis
 * is back the relay publishes them (published_at set after the loss, each job present in the new
 * Redis). Re-queuing jobs that Redis lost after they were published is the triage reconciler's work
 * (test/triage/recovery.test.ts), not repeated here.
 *
 * #18 "Redis with AOF": the second block runs Redis as production does (appendonly yes, appendfsync
 * everysec) and kills it with -9 while a published job waits: restarted on the same directory, the job is
 * there again with its data, and the outbox did not publish it a second time (the AOF kept it, not the
 * relay). What AOF guarantees: a killed Redis process loses nothing it acknowledged (the AOF is written
 * before replies are sent); a lost host loses up to the last second (everysec), and a lost disk all of it.
 * Neither loses an announcement: the first block shows the outbox covers what Redis never got.
 */
const redisServer = redisServerBinary();

describeUnless(redisServer ? null : 'redis-server not installed', 'Redis loss: the outbox relay re-publishes from the catalog (system)', () => {
  let system: RunningSystem;
  let redis: PrivateRedis;

  beforeAll(async () => {
    redis = await startRedis(await freePort());
    system = await startSystem({ env: { ROLE: 'ingest', REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    await system?.stop();
    if (redis) await stopRedis(redis);
  });

  const unpublished = async (studyUid: string): Promise<number> => {
    const r = await system.pool.query<{ n: string }>("SELECT count(*) AS n FROM outbox WHERE payload->>'studyInstanceUid' = $1 AND published_at IS NULL", [studyUid]);
    return Number(r.rows[0]?.n);
  };

  it('acknowledges while Redis is gone and publishes every announcement once an empty Redis is back', async () => {
    const apiKey = system.credentials.apiKey?.key ?? '';
    const queue = new Queue('study', redis.url, { prefix: system.env.QUEUE_PREFIX });
    queue.on('error', () => undefined);
    try {
      // 1. Normal operation: announcements reach Redis.
      const first = makeStudy(5, { seed: 'redis-loss-1', rows: 8, columns: 8 });
      expect((await stow(system.urls.ingest ?? '', apiKey, first.files)).status).toBe(200);
      await waitFor('study 1 announcements published', async () => ((await unpublished(first.studyInstanceUid)) === 0 ? true : null));

      // 2. FLUSHALL mid-run: Redis forgets the published jobs; the catalog still has every announcement.
      await queue.client.flushall();
      const kept = await system.pool.query<{ n: string }>("SELECT count(*) AS n FROM outbox WHERE payload->>'studyInstanceUid' = $1", [first.studyInstanceUid]);
      // One announcement per request (its one catalog transaction, #14), not one per instance.
      expect(Number(kept.rows[0]?.n)).toBe(1);

      // 3. Redis dies; a study is uploaded meanwhile: acknowledged, its announcements wait in the outbox.
      await stopRedis(redis);
      const lostAt = (await system.pool.query<{ now: Date }>('SELECT now() AS now')).rows[0]?.now;
      const second = makeStudy(6, { seed: 'redis-loss-2', rows: 8, columns: 8 });
      const during = await stow(system.urls.ingest ?? '', apiKey, second.files);
      expect(during.status).toBe(200);
      expect(stowItems(during, '00081199')).toHaveLength(6);
      expect(await unpublished(second.studyInstanceUid)).toBe(1);

      // 4. Redis comes back empty on the same port: the relay publishes what it could not before.
      redis = await startRedis(redis.port);
      await waitFor('study 2 announcements published after the loss', async () => ((await unpublished(second.studyInstanceUid)) === 0 ? true : null));
      const after = await system.pool.query<{ job_id: string }>(
        "SELECT job_id FROM outbox WHERE payload->>'studyInstanceUid' = $1 AND published_at > $2",
        [second.studyInstanceUid, lostAt],
      );
      expect(after.rows).toHaveLength(1);
      for (const { job_id } of after.rows) expect(await queue.getJob(job_id)).not.toBeNull();
      // Nothing in the catalog was lost with Redis.
      const instances = await system.pool.query<{ n: string }>('SELECT count(*) AS n FROM instances');
      expect(Number(instances.rows[0]?.n)).toBe(11);
    } finally {
      await queue.close().catch(() => undefined);
    }
  }, 120_000);
});

describeUnless(redisServer ? null : 'redis-server not installed', 'Redis with AOF: queued jobs survive kill -9 (system)', () => {
  let system: RunningSystem;
  let redis: PrivateRedis;
  const aofDir = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-redis-aof-'));

  beforeAll(async () => {
    redis = await startRedis(await freePort(), aofDir);
    // ROLE=ingest: nothing consumes the study queue, so the job waits in Redis.
    system = await startSystem({ env: { ROLE: 'ingest', REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    await system?.stop();
    if (redis) await stopRedis(redis);
    fs.rmSync(aofDir, { recursive: true, force: true });
  });

  it('finds the waiting job again after Redis is killed -9 and restarted on its append-only file', async () => {
    const apiKey = system.credentials.apiKey?.key ?? '';
    const study = makeStudy(4, { seed: 'redis-aof', rows: 8, columns: 8 });
    expect((await stow(system.urls.ingest ?? '', apiKey, study.files)).status).toBe(200);
    const published = await waitFor('the announcement published', async () => {
      const r = await system.pool.query<{ job_id: string; published_at: Date | null }>("SELECT job_id, published_at FROM outbox WHERE payload->>'studyInstanceUid' = $1", [study.studyInstanceUid]);
      return r.rows.length === 1 && r.rows[0]?.published_at !== null ? r.rows[0] : null;
    });
    const before = new Queue('study', redis.url, { prefix: system.env.QUEUE_PREFIX });
    before.on('error', () => undefined);
    const job = await before.getJob(published.job_id);
    const data: unknown = job?.data;
    expect(await job?.getState()).toMatch(/^(waiting|delayed)$/);
    await before.close();

    await stopRedis(redis); // SIGKILL: no shutdown save
    redis = await startRedis(redis.port, aofDir);
    const after = new Queue('study', redis.url, { prefix: system.env.QUEUE_PREFIX });
    after.on('error', () => undefined);
    try {
      const again = await after.getJob(published.job_id);
      expect(again?.data).toEqual(data);
      expect(await again?.getState()).toMatch(/^(waiting|delayed)$/);
      // Kept by the AOF, not re-sent by the relay: still one announcement, published once, before the kill.
      const rows = await system.pool.query<{ published_at: Date }>("SELECT published_at FROM outbox WHERE payload->>'studyInstanceUid' = $1", [study.studyInstanceUid]);
      expect(rows.rows.map((r) => r.published_at.getTime())).toEqual([published.published_at?.getTime()]);
      const counts = await after.getJobCounts();
      expect(counts.waiting + counts.delayed).toBe(1);
    } finally {
      await after.close().catch(() => undefined);
    }
  }, 120_000);
});
