import crypto from 'node:crypto';
import type { Browser } from 'playwright-core';
import { freePort } from '../support/processes';
import { describeUnless } from '../support/skip';
import { startSystem, type RunningSystem } from '../support/system';
import { TestAuthenticator } from '../support/totp';
import { AccountPage, scanQrCode } from './pages/account.page';
import { ClinicsPage } from './pages/clinics.page';
import { chromiumMissing, DESKTOP, launchBrowser, newPage, screenshotPath } from './pages/browser';
import { OidcLoginPage } from './pages/oidc-login.page';
import { SignInPage } from './pages/sign-in.page';
import { UsersPage } from './pages/users.page';

/**
 * #17, a second factor for privileged roles through the web app's sign-in page: the whole system with
 * AUTH_SECOND_FACTOR=privileged (the production default; the other e2e tests run in the development default,
 * where it is optional) and Chromium. The demo radiologist's first sign-in sets up the authenticator (the key
 * shown on the page, a wrong code refused, the right one signs in); the next sign-in asks for a code without
 * a key, and a recovery code (shown once at enrolment) stands in for a lost phone, after which the page offers a
 * new set. The clinic user still signs in with the password alone. The embedded OIDC provider's login page does
 * the same for the demo auditor (a browser app's authorization code flow, its CSP and redirect included).
 */
describeUnless(chromiumMissing(), 'second factor at the web sign-in page (e2e, chromium)', () => {
  let system: RunningSystem;
  let browser: Browser;
  let viewerUrl = '';
  // A registered browser app (like OHIF) whose callback the test answers itself.
  let clientUrl = '';

  // The demo admin's authenticator, once their first sign-in (the Users test) has set it up.
  let adminApp: TestAuthenticator | null = null;

  const demoUser = (role: string): { username: string; password: string } => {
    const user = system.credentials.users.find((u) => u.role === role);
    if (!user) throw new Error(`no demo ${role}`);
    return user;
  };

  beforeAll(async () => {
    clientUrl = `http://127.0.0.1:${await freePort()}`;
    system = await startSystem({
      env: { AUTH_SECOND_FACTOR: 'privileged', OIDC_CLIENTS: JSON.stringify([{ client_id: 'portal', redirect_uris: [`${clientUrl}/callback`] }]) },
    });
    viewerUrl = system.urls.viewer ?? '';
    browser = await launchBrowser();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  test('a radiologist sets up the one-time code at the first sign-in, then gives a code each time; a clinic user does not', async () => {
    const { context, page, errors } = await newPage(browser, DESKTOP);
    const signIn = new SignInPage(page);
    const radiologist = demoUser('radiologist');

    await signIn.open(viewerUrl);
    await signIn.submitPassword(radiologist.username, radiologist.password);
    const key = await signIn.enrolmentKey();
    expect(key.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(key.uri).toContain(`otpauth://totp/Yunying:${radiologist.username}?secret=${key.secret}`);
    // The QR code beside the key is what a phone scans: read by an independent decoder, it is the same URI.
    expect(await scanQrCode(page)).toBe(key.uri);
    await page.screenshot({ path: screenshotPath('second-factor-enrolment.png') });
    const app = new TestAuthenticator(key.secret);
    await signIn.submitCode(app.staleCode());
    expect(await signIn.errorMessage()).toContain('Invalid one-time code');
    // No session yet: the page still asks for the code, the key still there.
    expect(await signIn.showsEnrolmentKey()).toBe(true);
    await signIn.submitCode(app.nextCode());
    // The recovery codes made with it, shown once before the app.
    const codes = await signIn.recoveryCodes();
    expect(codes).toHaveLength(10);
    for (const code of codes) expect(code).toMatch(/^[0-9a-z]{5}-[0-9a-z]{5}$/);
    await page.screenshot({ path: screenshotPath('second-factor-recovery-codes.png') });
    await signIn.continueAfterRecoveryCodes();
    await signIn.waitSignedIn();
    await page.waitForURL(/\/queue$/);

    await signIn.signOut();
    await signIn.submitPassword(radiologist.username, radiologist.password);
    expect(await signIn.showsEnrolmentKey()).toBe(false);
    await signIn.submitCode(app.nextCode());
    await signIn.waitSignedIn();
    await signIn.signOut();

    // The phone is lost: a recovery code in its place, then a new set from the page that says how many are left.
    await signIn.submitPassword(radiologist.username, radiologist.password);
    await signIn.submitRecoveryCode(codes[0] ?? '');
    expect(await signIn.recoveryCodesLeft()).toContain('9 codes are left');
    await signIn.makeNewRecoveryCodes(radiologist.password);
    const renewed = await signIn.recoveryCodes();
    expect(renewed).toHaveLength(10);
    expect(renewed).not.toContain(codes[1]);
    await signIn.continueAfterRecoveryCodes();
    await signIn.waitSignedIn();
    await signIn.signOut();

    const clinic = demoUser('clinic');
    await signIn.signIn(clinic.username, clinic.password);
    await page.waitForURL(/\/clinic$/);

    const audited = await system.pool.query<{ reason: string | null; n: string }>(
      `SELECT details->>'reason' AS reason, count(*)::text AS n FROM audit_events
        WHERE event_type = 'User Authentication' AND details->>'subtype' = 'Login' AND actor_username = $1 GROUP BY 1 ORDER BY 1`,
      [radiologist.username],
    );
    expect(Object.fromEntries(audited.rows.map((r) => [r.reason ?? 'success', Number(r.n)]))).toMatchObject({ 'totp-enrolment-required': 1, 'bad-totp-enrolment': 1, 'totp-required': 2, success: 3 });
    expect(errors).toEqual([]);
    await context.close();
  });

  test("an auditor signing in to a browser app through the OIDC provider's login page sets up the code there and is sent back with an authorization code", async () => {
    const { context, page } = await newPage(browser, DESKTOP);
    await page.route(`${clientUrl}/**`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>portal</title><p>back at the app</p>' }));
    const state = crypto.randomBytes(8).toString('hex');
    const verifier = crypto.randomBytes(32).toString('base64url');
    const params = new URLSearchParams({
      client_id: 'portal',
      redirect_uri: `${clientUrl}/callback`,
      response_type: 'code',
      scope: 'openid profile',
      state,
      code_challenge: crypto.createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    });
    await page.goto(`${viewerUrl}/oidc/auth?${params.toString()}`);
    const login = new OidcLoginPage(page);
    const auditor = demoUser('auditor');
    await login.submitPassword(auditor.username, auditor.password);
    const oidcKey = await login.enrolmentKey();
    expect(await scanQrCode(page)).toContain(`secret=${oidcKey}`);
    const app = new TestAuthenticator(oidcKey);
    await login.submitCode(app.staleCode());
    expect(await login.alert()).toBe('Invalid one-time code.');
    await login.submitCode(app.nextCode());
    expect(await login.recoveryCodesThenContinue()).toHaveLength(10);
    await page.waitForURL(`${clientUrl}/callback?**`);
    const back = new URL(page.url());
    expect(back.searchParams.get('state')).toBe(state);
    expect(back.searchParams.get('code')).toEqual(expect.any(String));
    await context.close();
  });
  test("a clinic user's account page: ends another sign-in, changes the password, turns on one-time codes by scanning the QR code", async () => {
    const { context, page, errors } = await newPage(browser, DESKTOP);
    const signIn = new SignInPage(page);
    const clinic = demoUser('clinic');
    const apiSignIn = async (password: string): Promise<Response> =>
      fetch(`${viewerUrl}/api/auth/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: clinic.username, password, client: 'api' }) });
    // A second sign-in elsewhere (a tablet at the front desk), to end from the page.
    const elsewhere = ((await (await apiSignIn(clinic.password)).json()) as { accessToken: string }).accessToken;
    const me = (token: string): Promise<number> => fetch(`${viewerUrl}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
    expect(await me(elsewhere)).toBe(200);

    await signIn.open(viewerUrl);
    await signIn.signIn(clinic.username, clinic.password);
    const account = new AccountPage(page);
    await account.open();
    expect(await account.sessions()).toMatchObject({ current: 1 });
    expect((await account.sessions()).others).toBeGreaterThanOrEqual(1);
    // Named by their User-Agent: this headless Chromium, and the API sign-in made by the test's own fetch.
    const devices = await account.devices();
    expect(devices.current).toBe('Chrome on Linux');
    expect(devices.others).toContain('a program');
    await account.endOtherSession();
    expect(await me(elsewhere)).toBe(401);

    expect(await account.changePassword('not the password', 'a brand new front desk passphrase')).toContain('not correct');
    const newPassword = 'a brand new front desk passphrase';
    expect(await account.changePassword(clinic.password, newPassword)).toContain('Password changed');
    expect((await apiSignIn(clinic.password)).status).toBe(401);

    expect(await account.secondFactorState()).toMatch(/^Off/);
    await account.startOneTimeCodes(newPassword);
    const uri = await scanQrCode(page);
    expect(uri).toMatch(new RegExp(`^otpauth://totp/Yunying:${clinic.username}\\?secret=[A-Z2-7]{32}&`));
    const app = new TestAuthenticator(new URL(uri).searchParams.get('secret') ?? '');
    await account.turnOn(app.staleCode());
    await page.getByText('The one-time code is not valid').waitFor();
    await account.turnOn(app.nextCode());
    expect(await signIn.recoveryCodes()).toHaveLength(10);
    await page.screenshot({ path: screenshotPath('account-recovery-codes.png') });
    await signIn.continueAfterRecoveryCodes();
    expect(await account.secondFactorState()).toContain('10 recovery codes left');
    await page.screenshot({ path: screenshotPath('account.png'), fullPage: true });

    // From now on this clinic user's sign-in asks for the code as well.
    await signIn.signOut();
    await signIn.submitPassword(clinic.username, newPassword);
    expect(await signIn.showsEnrolmentKey()).toBe(false);
    await signIn.submitCode(app.nextCode());
    await signIn.waitSignedIn();
    await page.waitForURL(/\/clinic$/);
    expect(errors).toEqual([]);
    await context.close();
  });
  test('an admin manages users on the Users page: create, grant a clinic, disable, end sign-ins, reset a lost authenticator (not their own)', async () => {
    const { context, page, errors } = await newPage(browser, DESKTOP);
    const signIn = new SignInPage(page);
    const admin = demoUser('admin');
    const radiologist = demoUser('radiologist');
    const apiSignIn = async (username: string, password: string): Promise<{ status: number; body: Record<string, unknown> }> => {
      const res = await fetch(`${viewerUrl}/api/auth/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password, client: 'api' }) });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    // The admin's first sign-in sets up the one-time codes (privileged role).
    await signIn.open(viewerUrl);
    await signIn.submitPassword(admin.username, admin.password);
    const app = new TestAuthenticator((await signIn.enrolmentKey()).secret);
    adminApp = app;
    await signIn.submitCode(app.nextCode());
    await signIn.continueAfterRecoveryCodes();
    await signIn.waitSignedIn();

    const users = new UsersPage(page);
    await users.open();
    expect(await users.row(radiologist.username).count()).toBe(1);
    // The password policy's refusal comes through as it is; then the account is made.
    expect(await users.create({ username: 'reader-two', displayName: 'Second Reader', role: 'radiologist', password: 'password123' })).toMatch(/Password refused/);
    expect(await users.create({ username: 'reader-two', displayName: 'Second Reader', role: 'radiologist', password: 'amber lantern over quiet fields' })).toBe('reader-two created.');
    const row = users.row('reader-two');
    await row.waitFor();
    expect(await users.statusAfter(() => row.getByTestId('grant').click())).toMatch(/^reader-two now reads for /);
    await users.row('reader-two').getByTestId('granted').first().waitFor();
    expect(await users.row('reader-two').getByTestId('granted').count()).toBe(1);
    // How each account is used: the new one never signed in; the admin is signed in here.
    expect(await users.row('reader-two').getByTestId('last-sign-in').innerText()).toBe('never');
    expect(Number(await users.row(admin.username).getAttribute('data-open-sessions'))).toBeGreaterThanOrEqual(1);
    expect(await users.row(admin.username).getAttribute('data-dormant')).toBe('false');
    expect(await page.getByTestId('dormancy-note').innerText()).toMatch(/^Accounts unused for 90 days are marked dormant; nothing is disabled automatically/);
    // Where the admin is signed in, listed under the row: this browser.
    await users.row(admin.username).getByTestId('show-sessions').click();
    const adminSessions = page.locator(`[data-testid="user-sessions"][data-username="${admin.username}"] [data-testid="user-session"]`);
    await adminSessions.first().waitFor();
    expect(await adminSessions.locator('td').allInnerTexts()).toEqual(expect.arrayContaining(['Chrome on Linux', '127.0.0.1']));
    await users.row(admin.username).getByTestId('show-sessions').click();
    await adminSessions.first().waitFor({ state: 'detached' });

    // Disabled: the password no longer leads anywhere; enabled again, the first sign-in asks to set up codes.
    expect(await users.statusAfter(() => users.row('reader-two').getByTestId('disable').click())).toBe('reader-two disabled.');
    expect(await users.row('reader-two').getAttribute('data-disabled')).toBe('true');
    const refused = await apiSignIn('reader-two', 'amber lantern over quiet fields');
    expect(refused.status).toBe(401);
    expect(refused.body.totpRequired).toBeUndefined();
    expect(await users.statusAfter(() => users.row('reader-two').getByTestId('enable').click())).toBe('reader-two enabled.');
    const enrolling = await apiSignIn('reader-two', 'amber lantern over quiet fields');
    expect(enrolling.body.totpEnrolmentRequired).toBe(true);

    // A stolen laptop: every sign-in of reader-two ends at once; the account stays enabled.
    const readerApp = new TestAuthenticator(String(enrolling.body.secret));
    const signedIn = await fetch(`${viewerUrl}/api/auth/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ challenge: enrolling.body.challenge, totp: readerApp.nextCode(), client: 'api' }),
    });
    const readerToken = ((await signedIn.json()) as { accessToken: string }).accessToken;
    const meStatus = (token: string): Promise<number> => fetch(`${viewerUrl}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
    expect(await meStatus(readerToken)).toBe(200);
    expect(await users.statusAfter(() => users.row('reader-two').getByTestId('end-sessions').click())).toBe('reader-two: 1 sign-in ended.');
    expect(await meStatus(readerToken)).toBe(401);
    expect(await users.row('reader-two').getAttribute('data-disabled')).toBe('false');
    expect(await users.row('reader-two').getAttribute('data-open-sessions')).toBe('0');
    expect(await users.row('reader-two').getByTestId('last-sign-in').innerText()).not.toBe('never');

    // The demo radiologist (enrolled in the first test) lost the phone: reset, and the next sign-in enrols again.
    expect((await apiSignIn(radiologist.username, radiologist.password)).body.totpEnrolmentRequired).toBeUndefined();
    expect(await users.statusAfter(() => users.row(radiologist.username).getByTestId('reset-second-factor').click())).toMatch(/one-time codes removed/);
    expect((await apiSignIn(radiologist.username, radiologist.password)).body.totpEnrolmentRequired).toBe(true);
    // Four eyes: not for the own account.
    expect(await users.statusAfter(() => users.row(admin.username).getByTestId('reset-second-factor').click())).toMatch(/only be reset by another admin/);
    await page.screenshot({ path: screenshotPath('admin-users.png'), fullPage: true });
    expect(errors.filter((e) => !/40[0-9]/.test(e))).toEqual([]);
    await context.close();
  });
  test('an admin onboards a clinic on the Clinics page: AE titles, and a device key shown once that works until rotated or revoked', async () => {
    if (adminApp === null) throw new Error('the Users test sets up the admin first');
    const { context, page } = await newPage(browser, DESKTOP);
    const signIn = new SignInPage(page);
    const admin = demoUser('admin');
    await signIn.open(viewerUrl);
    await signIn.submitPassword(admin.username, admin.password);
    await signIn.submitCode(adminApp.nextCode());
    await signIn.waitSignedIn();
    const clinics = new ClinicsPage(page);
    await clinics.open();

    await clinics.createClinic({ code: 'lakeside-hz', name: 'Lakeside Imaging Centre', aeTitles: 'LAKE_US1' });
    await clinics.row('lakeside-hz').waitFor();
    expect(await clinics.aeTitles('lakeside-hz')).toEqual(['LAKE_US1']);
    // A replaced machine: the new AE title in, the old one out.
    expect(await clinics.addAeTitle('lakeside-hz', 'LAKE_US2')).toBe('LAKE_US2 registered for lakeside-hz.');
    expect(await clinics.removeAeTitle('lakeside-hz', 'LAKE_US1')).toBe('LAKE_US1 removed from lakeside-hz.');
    expect(await clinics.aeTitles('lakeside-hz')).toEqual(['LAKE_US2']);

    // A gateway's key, shown once, works as the clinic's device; rotated, the old one stops; revoked, the new one too.
    const asDevice = (key: string): Promise<{ status: number; clinicId?: string }> =>
      fetch(`${viewerUrl}/api/auth/me`, { headers: { 'x-api-key': key } }).then(async (r) => ({ status: r.status, ...(r.ok ? { clinicId: ((await r.json()) as { clinicId: string }).clinicId } : {}) }));
    // A loaned gateway: its key ends by itself at the end of a day a year from now, and a rotation keeps that day.
    const inAYear = new Date(Date.now() + 365 * 86_400_000).toISOString().slice(0, 10);
    const key = await clinics.issueKey('lakeside-hz', 'front-desk gateway', inAYear);
    expect(key).toMatch(/^yy_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$/);
    const device = await asDevice(key);
    expect(device.status).toBe(200);
    await clinics.keyRow(key).waitFor();
    expect(await clinics.keyRow(key).getAttribute('data-state')).toBe('active');
    const expires = await clinics.keyRow(key).getByTestId('key-expires').innerText();
    expect(expires).not.toBe('never');
    expect(expires).toContain(inAYear.slice(0, 4));
    const rotated = await clinics.keyShownAfter(() => clinics.keyRow(key).getByTestId('rotate-key').click());
    expect(rotated).not.toBe(key);
    expect((await asDevice(key)).status).toBe(401);
    expect(await asDevice(rotated)).toEqual(device);
    await clinics.keyRow(key).and(page.locator('[data-state="replaced"]')).waitFor();
    expect(await clinics.keyRow(rotated).getByTestId('key-expires').innerText()).toBe(expires);
    expect(await clinics.statusAfter(() => clinics.keyRow(rotated).getByTestId('revoke-key').click())).toBe('Key revoked.');
    expect((await asDevice(rotated)).status).toBe(401);
    // Only the key's prefix is on the page from now on.
    expect(await page.locator('body').innerText()).not.toContain(rotated.slice(12));
    await page.screenshot({ path: screenshotPath('admin-clinics.png'), fullPage: true });
    await context.close();
  });
});
