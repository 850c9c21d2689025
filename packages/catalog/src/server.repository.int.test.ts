import { createPool, type Pool } from './database';
import { connectedRole, pingDatabase, standbyLag } from './server.repository';
import { testDatabaseUrl } from './testing';

// The server-state questions against the real server: the test server is a primary, and tests connect as its owner.
describe('server repository', () => {
  let pool: Pool;
  beforeAll(() => {
    pool = createPool({ url: testDatabaseUrl(), schema: 'public', poolSize: 1, applicationName: 'yunying-test' });
  });
  afterAll(async () => {
    await pool.end();
  });

  it('answers a ping, names the connected role and reads a primary as no standby with no lag', async () => {
    await expect(pingDatabase(pool)).resolves.toBeUndefined();
    const { rows } = await pool.query<{ role: string; superuser: boolean }>('SELECT current_user AS role, usesuper AS superuser FROM pg_user WHERE usename = current_user');
    await expect(connectedRole(pool)).resolves.toEqual(rows[0]);
    await expect(standbyLag(pool)).resolves.toEqual({ standby: false, lag: 0 });
  });
});
