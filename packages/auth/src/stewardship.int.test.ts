import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { AuthService } from './auth.service';
import type { AdminContext } from './auth.types';
import { accountChangesBy, assertIndependentApprover, recordAccountChange } from './stewardship';

const PASSWORD = 'a long enough password';

/**
 * The four-eyes rule over the record of who shaped whose account (user_account_changes), on real PostgreSQL:
 * an admin's creation and later change of an auditor are recorded once each and bar that auditor from
 * approving the admin's requests; one's own changes and an external identity's are not recorded; an
 * untouched auditor is independent.
 */
describe('stewardship: who shaped whose account (four eyes)', () => {
  let catalog: TestCatalog;
  let auth: AuthService;

  beforeAll(async () => {
    catalog = await createTestCatalog('stewardship');
    auth = new AuthService({
      pool: catalog.pool,
      tokenSecret: 'stewardship-secret-stewardship-secret-0001',
      accessTokenTtlSeconds: 60,
      refreshTokenTtlSeconds: 3600,
      audit: { append: () => Promise.resolve() },
    });
  });
  afterAll(async () => {
    await catalog?.drop();
  });

  const as = (userId: string, username: string): AdminContext => ({ actor: { kind: 'user', userId, username, role: 'admin', clinicId: null, clinics: { all: true } } });

  it('records creation and change by another user once each, and refuses that user as approver of their requests', async () => {
    const admin = await auth.createUser({ username: 'ada', role: 'admin', password: PASSWORD });
    const created = await auth.createUser({ username: 'otto', role: 'auditor', password: PASSWORD }, as(admin.id, admin.username));
    const untouched = await auth.createUser({ username: 'uma', role: 'auditor', password: PASSWORD });

    expect(await accountChangesBy(catalog.pool, created.id, admin.id)).toEqual(['created']);
    await recordAccountChange(catalog.pool, created.id, admin.id, 'updated');
    await recordAccountChange(catalog.pool, created.id, admin.id, 'updated');
    expect(await accountChangesBy(catalog.pool, created.id, admin.id)).toEqual(['created', 'updated']);

    await expect(assertIndependentApprover(catalog.pool, created.id, admin.id)).rejects.toMatchObject({ code: 'forbidden', message: expect.stringMatching(/created the approver's account/) });
    await expect(assertIndependentApprover(catalog.pool, admin.id, admin.id)).rejects.toMatchObject({ code: 'forbidden' });
    await expect(assertIndependentApprover(catalog.pool, null, admin.id)).rejects.toMatchObject({ code: 'forbidden' });
    await expect(assertIndependentApprover(catalog.pool, untouched.id, admin.id)).resolves.toEqual({ requestedBy: admin.id, approvedBy: untouched.id, fourEyes: 'independent' });
    // The other way round nothing was recorded: otto shaped nothing of ada's.
    expect(await accountChangesBy(catalog.pool, admin.id, created.id)).toEqual([]);
  });

  it('records neither a change of one’s own account nor one by an identity without a local account', async () => {
    const user = await auth.createUser({ username: 'sam', role: 'auditor', password: PASSWORD });
    await recordAccountChange(catalog.pool, user.id, user.id, 'updated');
    await recordAccountChange(catalog.pool, user.id, 'oidc:external-subject', 'updated');
    await recordAccountChange(catalog.pool, user.id, '00000000-0000-4000-8000-000000000000', 'updated');
    await recordAccountChange(catalog.pool, user.id, null, 'updated');
    const { rows } = await catalog.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM user_account_changes WHERE user_id = $1', [user.id]);
    expect(rows[0]?.n).toBe(0);
  });
});
