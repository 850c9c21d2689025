import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { TypedQueue } from './queues';

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
