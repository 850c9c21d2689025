import { createPool, type Pool } from '@yunying/catalog';
import { testDatabaseUrl } from '@yunying/catalog/testing';
import { backendPid, backendsBlockedBy } from '../support/pg-locks';
import { waitFor } from '../support/wait';

/**
 * The failure-branch tests terminate the backend they made wait; `backendsBlockedBy` must name only that
 * one, even while another session in the same database waits on an advisory lock of the same class
 * (what jest's other worker does when its ingest waits for its own schema's audit lock).
 */
describe('backendsBlockedBy (real PostgreSQL)', () => {
  let pool: Pool;
  beforeAll(() => {
    pool = createPool({ url: testDatabaseUrl(), schema: 'public', poolSize: 6 });
  });
  afterAll(async () => {
    await pool?.end();
  });

  test('names the waiter of its own lock, not a waiter of another lock of the same class', async () => {
    const [mine, other, myWaiter, otherWaiter] = await Promise.all([pool.connect(), pool.connect(), pool.connect(), pool.connect()]);
    try {
      await mine.query('SELECT pg_advisory_lock(7007, 1)');
      await other.query('SELECT pg_advisory_lock(7007, 2)');
      const [minePid, otherPid, myWaiterPid, otherWaiterPid] = await Promise.all([mine, other, myWaiter, otherWaiter].map(backendPid));
      // The other pair's waiter queues first, as a waiter in another schema may.
      const otherWaits = otherWaiter.query('SELECT pg_advisory_xact_lock(7007, 2)');
      await waitFor('the other waiter', async () => (await backendsBlockedBy(pool, otherPid!)).length === 1, 10_000);
      const myWaits = myWaiter.query('SELECT pg_advisory_xact_lock(7007, 1)');
      await waitFor('my waiter', async () => (await backendsBlockedBy(pool, minePid!)).length === 1, 10_000);

      expect(await backendsBlockedBy(pool, minePid!)).toEqual([myWaiterPid]);
      expect(await backendsBlockedBy(pool, otherPid!)).toEqual([otherWaiterPid]);
      expect(await backendsBlockedBy(pool, minePid!, '%INSERT INTO studies%')).toEqual([]);
      await Promise.all([mine.query('SELECT pg_advisory_unlock_all()'), other.query('SELECT pg_advisory_unlock_all()')]);
      await Promise.all([myWaits, otherWaits]);
    } finally {
      await Promise.all([mine, other].map((c) => c.query('SELECT pg_advisory_unlock_all()').catch(() => undefined)));
      for (const client of [mine, other, myWaiter, otherWaiter]) client.release();
    }
  });
});
