import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { DEFAULT_JOB_OPTIONS, TypedQueue } from './queues';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The hash tag Redis Cluster hashes a key by: the first `{...}` with something inside (cluster spec). */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
}

describe('queue prefix is Redis-Cluster safe (real Redis, bull)', () => {
  it('every key bull writes for a queue under a {hash tag} prefix hashes by that one tag', async () => {
    const tag = `t${randomBytes(5).toString('hex')}`;
    const queue = new TypedQueue('study', { redisUrl, prefix: `{${tag}}` });
    const redis = new Redis(redisUrl);
    try {
      // A waiting job, a delayed job and the queue's id counter: the keys bull's Lua scripts touch together.
      await queue.add('study.announced', { studyInstanceUid: '1.2.3', requestId: 'r1' }, { jobId: `a-${tag}` });
      await queue.add('study.announced', { studyInstanceUid: '1.2.4', requestId: 'r2' }, { jobId: `b-${tag}`, delay: 60_000 });
      const keys = await redis.keys(`{${tag}}:*`);
      expect(keys.length).toBeGreaterThanOrEqual(3);
      // One slot for all of them: a multi-key script on a cluster would otherwise fail with CROSSSLOT.
      expect(new Set(keys.map(hashTag))).toEqual(new Set([tag]));
    } finally {
      await queue.bull.obliterate({ force: true });
      await queue.close();
      redis.disconnect();
    }
  });
});

describe('job options (real Redis, bull)', () => {
  it('a job added without retry options carries the default policy; its own options go on top', async () => {
    const tag = `t${randomBytes(5).toString('hex')}`;
    const queue = new TypedQueue('triage', { redisUrl, prefix: `{${tag}}` });
    try {
      await queue.add('triage.run', { studyInstanceUid: '1.2.3', modelId: 'm', modelVersion: '1', instanceCount: 1 }, { jobId: `a-${tag}`, delay: 60_000 });
      await queue.add('triage.run', { studyInstanceUid: '1.2.4', modelId: 'm', modelVersion: '1', instanceCount: 1 }, { jobId: `b-${tag}`, attempts: 1 });
      // Read back from Redis, not from the object add() returned.
      const plain = await queue.bull.getJob(`a-${tag}`);
      expect(plain?.opts).toMatchObject({ attempts: 5, backoff: { type: 'exponential', delay: 2000 }, delay: 60_000 });
      expect(plain?.opts).toMatchObject(DEFAULT_JOB_OPTIONS);
      expect((await queue.bull.getJob(`b-${tag}`))?.opts.attempts).toBe(1);
    } finally {
      await queue.bull.obliterate({ force: true });
      await queue.close();
    }
  });
});
