import { startSystem, type RunningSystem } from '../support/system';
import { waitFor } from '../support/wait';

/**
 * AUTH_DORMANT_DISABLE_DAYS end to end (GB/T 22239-2019 8.1.4.2): the keeper of the real launcher checks at
 * start, not an hour later, so a keeper restarted more often than hourly still disables dormant accounts.
 * The accounts are aged in the database before the launcher starts; the services do the rest.
 */
describe('keeper: dormant accounts are disabled at start when AUTH_DORMANT_DISABLE_DAYS is set', () => {
  let system: RunningSystem;
  beforeAll(async () => {
    system = await startSystem({
      env: { AUTH_DORMANT_DISABLE_DAYS: '30', LOG_LEVEL: 'info' },
      // The radiologist was created 40 days ago and never signed in; everyone else was created today.
      beforeLaunch: async (pool) => {
        const aged = await pool.query("UPDATE users SET created_at = now() - interval '40 days' WHERE username = 'radiologist'");
        expect(aged.rowCount).toBe(1);
      },
    });
  });
  afterAll(async () => {
    await system?.stop();
  });

  const signIn = (username: string): Promise<Response> => {
    const password = system.credentials.users.find((u) => u.username === username)?.password ?? '';
    return fetch(`${system.urls.viewer}/api/auth/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password, client: 'api' }),
    });
  };

  it('disables the unused account, audits it, keeps the others and logs no names', async () => {
    const disabled = async (username: string): Promise<boolean | undefined> =>
      (await system.pool.query<{ disabled: boolean }>('SELECT disabled FROM users WHERE username = $1', [username])).rows[0]?.disabled;
    await waitFor('the dormant radiologist disabled', async () => (await disabled('radiologist')) === true, 30_000);

    const refused = await signIn('radiologist');
    expect(refused.status).toBe(401);
    expect(refused.headers.get('content-type')).toMatch(/application\/problem\+json/);
    const admin = await signIn('admin');
    expect(admin.status).toBe(200);
    expect(await disabled('admin')).toBe(false);
    // The Users page learns the rule from the same API, so an admin knows accounts go without their doing.
    const { accessToken } = (await admin.json()) as { accessToken: string };
    const listed = await fetch(`${system.urls.viewer}/api/admin/users`, { headers: { authorization: `Bearer ${accessToken}` } });
    const body = (await listed.json()) as { dormancy: unknown; users: { username: string; disabled: boolean }[] };
    expect(body.dormancy).toEqual({ flagAfterDays: 90, disableAfterDays: 30 });
    expect(body.users.find((u) => u.username === 'radiologist')?.disabled).toBe(true);

    const { rows } = await system.pool.query<{ details: Record<string, unknown> }>(
      "SELECT details FROM audit_events WHERE details->>'change' = 'user-disabled-dormant'",
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]?.details).toMatchObject({ targetUsername: 'radiologist', afterDays: 30, unusedDays: 40 });

    // Logged after the audit record, so it may follow the update by a moment.
    const logged = (): Promise<string | undefined> => Promise.resolve(system.launcher.output().split('\n').find((l) => l.includes('dormant accounts disabled')));
    const line = await waitFor('the keeper’s log line', logged, 30_000);
    expect(line).toMatch(/"disabled":1/);
    expect(line).not.toContain('radiologist');
  });
});
