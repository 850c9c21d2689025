import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { AuthService, type AuthAuditEvent } from './auth.service';
import { disableIfDormant } from './repositories/users.repository';

const SECRET = 'test-secret-test-secret-test-secret-0123456789';
const PASSWORD = 'correct horse battery staple';
const DAY = 86_400_000;
const KEEPER = { username: 'system:keeper' };

/**
 * AUTH_DORMANT_DISABLE_DAYS (GB/T 22239-2019 8.1.4.2): what the keeper's hourly loop does, on real PostgreSQL with
 * a clock the test moves. A file of its own: it disables every idle account of its catalog.
 */
describe('disabling dormant accounts', () => {
  let catalog: TestCatalog;
  let auth: AuthService;
  const events: AuthAuditEvent[] = [];
  const t0 = new Date();
  let clock = t0;
  const at = (days: number): Date => new Date(t0.getTime() + days * DAY);

  beforeAll(async () => {
    catalog = await createTestCatalog('dormant');
    auth = new AuthService({
      pool: catalog.pool,
      tokenSecret: SECRET,
      accessTokenTtlSeconds: 60,
      // Long enough that a sign-in from the start is still open when the account turns dormant.
      refreshTokenTtlSeconds: 400 * 86_400,
      audit: { append: (e) => Promise.resolve(events.push(e)) },
      now: () => clock,
    });
  });
  afterAll(async () => {
    await catalog.drop();
  });

  const user = async (username: string) => {
    const found = (await auth.listUsers()).find((u) => u.username === username);
    if (!found) throw new Error(`no user ${username}`);
    return found;
  };
  const disabledEvents = () => events.filter((e) => e.details?.['change'] === 'user-disabled-dormant');

  it('disables accounts unused for the set number of days, ends their sign-ins and audits each, keeps the last admin, and counts from a re-enabling', async () => {
    const clinic = await auth.createClinic({ code: 'clinic-d', name: 'D' });
    const adam = await auth.createUser({ username: 'adam', role: 'admin', password: PASSWORD });
    const ada = await auth.createUser({ username: 'ada', role: 'admin', password: PASSWORD });
    const carl = await auth.createUser({ username: 'carl', role: 'clinic', clinicId: clinic.id, password: PASSWORD });
    await auth.createUser({ username: 'rosa', role: 'radiologist', password: PASSWORD });
    const olga = await auth.createUser({ username: 'olga', role: 'auditor', password: PASSWORD });

    clock = at(1);
    const adamSignIn = await auth.signIn('adam', PASSWORD);
    if (!('refreshToken' in adamSignIn)) throw new Error('adam needs no second step here');
    clock = at(5);
    await auth.signIn('ada', PASSWORD);
    clock = at(100);
    await auth.signIn('rosa', PASSWORD);
    // carl was disabled once and an admin turned the account back on at day 100.
    await auth.updateUser(carl.id, { disabled: true });
    await auth.updateUser(carl.id, { disabled: false });

    clock = at(130);
    await expect(auth.disableDormantAccounts(0, KEEPER)).rejects.toThrow(/positive/);
    const first = await auth.disableDormantAccounts(120, KEEPER);
    // Both admins are idle: the one used last (ada, day 5) stays enabled so that someone can turn the others back on.
    expect(first.map((u) => u.username).sort()).toEqual(['adam', 'olga']);
    expect(await user('adam')).toMatchObject({ disabled: true, dormant: false });
    expect(await user('olga')).toMatchObject({ disabled: true });
    expect(await user('ada')).toMatchObject({ disabled: false, dormant: true });
    expect(await user('carl')).toMatchObject({ disabled: false, dormant: false });
    expect(await user('rosa')).toMatchObject({ disabled: false, dormant: false });
    // adam's sign-in from day 1 was still open: it is ended with the reason, and its refresh token no longer works.
    await expect(auth.refresh(adamSignIn.refreshToken)).rejects.toMatchObject({ status: 401 });
    const { rows } = await catalog.pool.query<{ revoked_reason: string | null }>('SELECT revoked_reason FROM sessions WHERE user_id = $1', [adam.id]);
    expect(rows.map((r) => r.revoked_reason)).toEqual(['dormant']);
    // Audited by the keeper, one record per account, with the account and how long it was unused (no person acted).
    expect(disabledEvents()).toHaveLength(2);
    expect(disabledEvents().find((e) => e.details?.['targetUserId'] === adam.id)).toMatchObject({
      type: 'Security Alert',
      outcome: 0,
      actor: { username: 'system:keeper', userId: null, role: null },
      details: { subtype: 'Security Configuration', targetUsername: 'adam', unusedDays: 129, afterDays: 120 },
    });
    // olga never signed in: unused since her creation, a moment after t0 (the database's clock).
    expect(disabledEvents().find((e) => e.details?.['targetUserId'] === olga.id)?.details).toMatchObject({ unusedDays: 129 });

    // The next hourly run finds nothing more to do.
    events.length = 0;
    clock = new Date(at(130).getTime() + 3_600_000);
    await expect(auth.disableDormantAccounts(120, KEEPER)).resolves.toEqual([]);
    expect(disabledEvents()).toEqual([]);

    // Re-enabled by an admin, adam is not disabled again before he could sign in: dormancy counts from day 131.
    // With adam in use again, ada is no longer the last admin, and she has been idle since day 5.
    clock = at(131);
    await auth.updateUser(adam.id, { disabled: false });
    clock = at(200);
    await expect(auth.disableDormantAccounts(120, KEEPER)).resolves.toEqual([{ id: ada.id, username: 'ada' }]);
    expect(await user('adam')).toMatchObject({ disabled: false, dormant: false });

    // 120 days after the re-enabling every account is idle: adam, the only admin left enabled, stays.
    clock = at(252);
    const later = await auth.disableDormantAccounts(120, KEEPER);
    expect(later.map((u) => u.username).sort()).toEqual(['carl', 'rosa']);
    expect(await user('adam')).toMatchObject({ disabled: false, dormant: true });
  });

  it('keeps an account that signed in after the keeper listed it (the check is in the update itself)', async () => {
    clock = at(0);
    const vera = await auth.createUser({ username: 'vera', role: 'radiologist', password: PASSWORD });
    clock = at(300);
    await auth.signIn('vera', PASSWORD);
    // The keeper's listing was made with a cutoff at day 180; vera signed in at day 300 before its update ran.
    await expect(disableIfDormant(catalog.pool, vera.id, at(180))).resolves.toBe(false);
    expect(await user('vera')).toMatchObject({ disabled: false });
    // Without that sign-in the same update disables it.
    await expect(disableIfDormant(catalog.pool, vera.id, at(301))).resolves.toBe(true);
    expect(await user('vera')).toMatchObject({ disabled: true });
  });
});
