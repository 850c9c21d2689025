import fs from 'node:fs';
import path from 'node:path';
import { decodeFrame, parseInstance, toRgb8 } from '@yunying/dicom';
import { makeStudy, newUid } from '@yunying/dicom/testing';
import type { BrowserContext, Page } from 'playwright-core';
import { describeUnless, itUnless, sharedDataDir } from '../support/skip';
import { stow } from '../support/system';
import { waitFor } from '../support/wait';
import { nodulePattern } from '../triage/triage.support';
import { DESKTOP, newPage, screenshotPath } from './pages/browser';
import { OhifPage } from './pages/ohif.page';
import { SignInPage } from './pages/sign-in.page';
import { ctSeries, CT_PHANTOM, cineIndex, PALETTE_BANDS, paletteCine, windowed } from './ohif/ohif-studies';
import { jwtClaims, OhifTraffic } from './ohif/ohif-traffic';
import { OHIF_CLIENT_ID, ohifMissing, startOhifWorld, type OhifWorld } from './ohif/ohif-world';

/**
 * OHIF as a hospital runs it (#15): the built viewer of the npm package `@ohif/app` on its own origin,
 * configured with Yunying's one DICOMweb base URL and the embedded OpenID Connect provider, driven in
 * Debian Chromium. Signs in through Yunying's login page (code + PKCE); narrows the study list with its
 * filters (QIDO-RS through CORS); opens a US frame, an RLE PALETTE COLOR cine and a CT series and reads
 * the drawn canvas back (palette colours, frame changes, the CT window), not only the absence of errors;
 * stays signed in past access-token expiry by refreshing; and signing out (of OHIF, or revoking the sign-in
 * in Yunying, or signing out of Yunying's web app in the same browser) ends the tokens, the Yunying
 * session and the provider's session.
 *
 * Access tokens live 30 s here (the shortest ACCESS_TOKEN_TTL_SECONDS allows) so expiry happens within
 * the test; OHIF renews 10 s before expiry (oidc-client-ts accessTokenExpiringNotificationTimeInSeconds;
 * its default, 60 s, is longer than the token and would renew every second). The test waits on conditions
 * (the server refusing the old token), never on durations.
 */
const ACCESS_TOKEN_TTL_SECONDS = 30;

/** A real RLE PALETTE COLOR echo cine (10 frames, 600x430) from ../shared/data, when present. */
function sharedEcho(): Buffer | null {
  const dir = sharedDataDir('dicom');
  const file = dir === null ? null : path.join(dir, 'debian-octave-dicom_0.5.1-1', 'US-PAL-8-10x-echo.dcm');
  return file !== null && fs.existsSync(file) ? fs.readFileSync(file) : null;
}

interface SignedIn {
  page: Page;
  context: BrowserContext;
  ohif: OhifPage;
  traffic: OhifTraffic;
}

describeUnless(ohifMissing(), 'OHIF against Yunying (own origin, OIDC)', () => {
  let world: OhifWorld;
  let viewerUrl: string;
  const usStudy = newUid();
  const cine = paletteCine({ patientName: 'Palette^Cine', patientId: 'OHIF-PAL', studyDate: '20230315', description: 'Echo cine' });
  const ct = ctSeries({ patientName: 'Phantom^Neck', patientId: 'OHIF-CT', studyDate: '20220610', description: 'Neck CT' });
  const contexts: BrowserContext[] = [];
  /** The expiry test's browser, signed in before the other tests run, so that its first access token ages
   * while they do: that test then waits for what is left of ACCESS_TOKEN_TTL_SECONDS, not the whole of it. */
  let aging: SignedIn;

  beforeAll(async () => {
    world = await startOhifWorld({
      // The shortest token life, and little clock skew allowed on it (one machine's clock): the expiry test
      // waits for a token to be refused, ACCESS_TOKEN_TTL_SECONDS + OIDC_CLOCK_TOLERANCE_SECONDS after sign-in.
      env: { ACCESS_TOKEN_TTL_SECONDS: String(ACCESS_TOKEN_TTL_SECONDS), OIDC_CLOCK_TOLERANCE_SECONDS: '2' },
      oidc: { accessTokenExpiringNotificationTimeInSeconds: 10 },
    });
    viewerUrl = world.viewerUrl;
    const apiKey = world.system.credentials.apiKey?.key ?? '';
    const us = makeStudy(1, { studyInstanceUid: usStudy, rows: 120, columns: 160, studyDescription: 'Thyroid US', patientName: 'Ohif^Test', patientId: 'OHIF-1', studyDate: '20240102', modality: 'US', pixelPattern: nodulePattern(60, 80, 22, 16) });
    for (const study of [{ studyInstanceUid: usStudy, files: us.files }, cine, ct]) {
      const stored = await stow(world.system.urls.ingest ?? '', apiKey, study.files, study.studyInstanceUid);
      expect(stored.status).toBe(200);
    }
    aging = await signedIn();
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await world?.stop();
  });

  /** A fresh browser profile with OHIF signed in as the demo radiologist, and its traffic recorded. */
  async function signedIn(): Promise<SignedIn> {
    const { context, page } = await newPage(world.browser, DESKTOP);
    contexts.push(context);
    const traffic = new OhifTraffic(page, new URL(viewerUrl).origin);
    const ohif = new OhifPage(page, world.ohifUrl);
    const radiologist = world.user('radiologist');
    await ohif.signIn(radiologist.username, radiologist.password);
    await ohif.expectListedExactly(['Thyroid US', 'Echo cine', 'Neck CT']);
    return { page, context, ohif, traffic };
  }

  /** The four tests that only read share one signed-in browser: each starts from OHIF's study list, opened
   * again in the same tab (OHIF keeps its sign-in there, renewing it as it goes), not from a new sign-in (~5 s). */
  let reader: SignedIn | undefined;
  async function onStudyList(): Promise<SignedIn> {
    if (reader === undefined) {
      reader = await signedIn();
      return reader;
    }
    await reader.page.goto(`${world.ohifUrl}/`);
    await reader.ohif.expectListedExactly(['Thyroid US', 'Echo cine', 'Neck CT']);
    return reader;
  }

  const bearer = (token: string): RequestInit => ({ headers: { authorization: `Bearer ${token}`, accept: 'application/dicom+json' } });

  it('signs in through the embedded OIDC provider, lists the studies, opens the US study and draws its pixels', async () => {
    const { page, ohif } = await onStudyList();
    await ohif.openStudy(usStudy);
    const stats = await ohif.viewportPixels();
    await page.screenshot({ path: screenshotPath('ohif-us.png') });
    // A drawn ultrasound frame: many grey levels, not a blank, black or uniform canvas, no error screen.
    expect(stats.distinct).toBeGreaterThan(16);
    expect(stats.max - stats.min).toBeGreaterThan(64);
    await ohif.expectNoErrorScreen();
  });

  it('narrows the study list by patient name, study date, modality and description (QIDO-RS through CORS)', async () => {
    const { page, ohif } = await onStudyList();
    const cases: { apply: () => Promise<void>; query: Record<string, string>; found: string[]; listed: string[] }[] = [
      { apply: () => ohif.filterPatientName('Phantom'), query: { PatientName: '*Phantom*' }, found: [ct.studyInstanceUid], listed: ['Neck CT'] },
      { apply: () => ohif.filterStudyDates('2023-01-01', '2023-12-31'), query: { StudyDate: '20230101-20231231' }, found: [cine.studyInstanceUid], listed: ['Echo cine'] },
      { apply: () => ohif.filterModality('CT'), query: { ModalitiesInStudy: 'CT' }, found: [ct.studyInstanceUid], listed: ['Neck CT'] },
      { apply: () => ohif.filterDescription('Thyroid'), query: { StudyDescription: '*Thyroid*' }, found: [usStudy], listed: ['Thyroid US'] },
    ];
    for (const filter of cases) {
      const search = page.waitForResponse((r) => {
        const url = new URL(r.url());
        return url.pathname === '/dicomweb/studies' && r.request().method() === 'GET' && Object.entries(filter.query).every(([k, v]) => url.searchParams.get(k) === v);
      });
      await filter.apply();
      // Yunying answered the filter's QIDO-RS query (cross-origin: OHIF could read it through CORS) with
      // exactly the matching studies, and the list shows them.
      const response = await search;
      expect(response.status()).toBe(200);
      const studies = (await response.json()) as Record<string, { Value?: unknown[] }>[];
      expect(studies.map((study) => study['0020000D']?.Value?.[0])).toEqual(filter.found);
      expect(await ohif.expectListedExactly(filter.listed)).toEqual(filter.listed);
      await ohif.resetFilters();
      await ohif.expectListedExactly(['Thyroid US', 'Echo cine', 'Neck CT']);
    }
  });

  it('draws the RLE PALETTE COLOR cine in its palette colours, and its next frame shifted', async () => {
    const { page, ohif } = await onStudyList();
    await ohif.openListedStudy('Echo cine');
    // Every band colour of the palette (LUT entries 0..7) is drawn: neither greys nor the indexes as grey.
    const counts = await ohif.expectViewportColours(PALETTE_BANDS);
    expect(counts.every((n) => n >= 200)).toBe(true);
    expect(await ohif.leftEdgeColour()).toEqual(PALETTE_BANDS[cineIndex(0, 0)]);
    await page.screenshot({ path: screenshotPath('ohif-palette-cine.png') });
    // The next frame of the multi-frame instance: its bands are shifted by one.
    expect(await ohif.nextImage()).toBe(1);
    const next = PALETTE_BANDS[cineIndex(1, 0)];
    await waitFor('the left edge in the next frame\'s colour', async () => JSON.stringify(await ohif.leftEdgeColour()) === JSON.stringify(next), 30_000, 500);
    expect(await ohif.leftEdgeColour()).toEqual(next);
    await ohif.expectNoErrorScreen();
  });

  it('draws the CT series through its rescale and stored window (air black, soft tissue mid-grey, bone white)', async () => {
    const { page, ohif } = await onStudyList();
    await ohif.openListedStudy('Neck CT');
    const grey = (level: number): readonly [number, number, number] => [level, level, level];
    // Soft tissue at 40 HU is mid-grey only through RescaleIntercept -1024 and the C40/W400 window.
    const levels = [windowed(CT_PHANTOM.air), windowed(CT_PHANTOM.tissue), windowed(CT_PHANTOM.bone)];
    expect(levels).toEqual([0, 128, 255]);
    const counts = await ohif.expectViewportColours(levels.map(grey), { tolerance: 1 });
    // The disc of tissue is the larger part of the body; bone the smaller.
    expect(counts[1] ?? 0).toBeGreaterThan(counts[2] ?? 0);
    await page.screenshot({ path: screenshotPath('ohif-ct.png') });
    expect(await ohif.nextImage()).toBe(1);
    await ohif.expectNoErrorScreen();
  });

  it('stays signed in past access-token expiry: it refreshes, and a request after expiry succeeds with the new token', async () => {
    // Waits for the first access token of the browser signed in before the tests above to expire.
    const { page, ohif, traffic } = aging;
    const first = traffic.studySearches().find((e) => e.status === 200)?.token ?? '';
    expect(first).not.toBe('');
    // Wait until Yunying itself refuses the first access token: it has expired.
    await waitFor(
      'the first access token to be refused',
      async () => (await fetch(`${viewerUrl}/dicomweb/studies?limit=1`, bearer(first))).status === 401,
      (ACCESS_TOKEN_TTL_SECONDS + 60) * 1000,
      500,
    );

    const mark = traffic.mark();
    const searched = page.waitForResponse((r) => new URL(r.url()).searchParams.get('StudyDescription') === '*Neck*');
    await ohif.filterDescription('Neck');
    const search = await searched;
    expect(search.status()).toBe(200);
    const renewed = (search.request().headers().authorization ?? '').replace(/^Bearer /, '');
    expect(renewed).not.toBe(first);
    expect(jwtClaims(renewed).yunying_sid).toBe(jwtClaims(first).yunying_sid);
    await ohif.expectListedExactly(['Neck CT']);
    await ohif.openListedStudy('Neck CT');
    await ohif.expectViewportColours([[128, 128, 128]], { tolerance: 1 });

    const after = traffic.dicomweb(mark);
    // Every request after expiry went with a renewed token and was answered; none was refused.
    expect(after.filter((e) => e.status !== 200 || e.token === first || e.token === '').map((e) => `${e.status} ${e.url.pathname}`)).toEqual([]);
    // Renewed by the refresh_token grant, not by signing in again (one authorization request: the sign-in).
    const grants = traffic.exchanges.filter((e) => e.url.pathname === '/oidc/token');
    expect(grants.filter((e) => e.grantType === 'refresh_token').map((e) => e.status)).toContain(200);
    expect(grants.filter((e) => e.grantType === 'authorization_code')).toHaveLength(1);
    expect(grants.every((e) => e.status === 200)).toBe(true);
  }, 180_000);

  it('signing out of OHIF revokes the access and refresh tokens, the Yunying session and the provider session', async () => {
    const { page, context, ohif, traffic } = await signedIn();
    await ohif.openListedStudy('Thyroid US');
    await ohif.viewportPixels();
    const tokens = await ohif.tokens(world.issuer, OHIF_CLIENT_ID);
    const sessionId = String(jwtClaims(tokens.accessToken).yunying_sid);
    const providerCookies = (await context.cookies(viewerUrl)).filter((c) => c.name.startsWith('_session'));
    expect(providerCookies.length).toBeGreaterThan(0);
    expect((await fetch(`${viewerUrl}/dicomweb/studies?limit=1`, bearer(tokens.accessToken))).status).toBe(200);

    const mark = traffic.mark();
    await ohif.signOut();
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    // Back in OHIF with nobody signed in: it sends the browser to Yunying's login page.
    await ohif.expectSignInPage();
    const revocations = traffic.since(mark).filter((e) => e.url.pathname === '/oidc/token/revocation');
    // Its access token, then its refresh token (OHIF may start its sign-out twice: each answered 200).
    expect(revocations.length).toBeGreaterThanOrEqual(2);
    expect(revocations.filter((e) => e.status !== 200)).toEqual([]);

    expect((await fetch(`${viewerUrl}/dicomweb/studies?limit=1`, bearer(tokens.accessToken))).status).toBe(401);
    expect((await fetch(`${viewerUrl}/api/auth/me`, bearer(tokens.accessToken))).status).toBe(401);
    const refreshed = await fetch(`${world.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refreshToken, client_id: OHIF_CLIENT_ID }).toString(),
    });
    expect(refreshed.status).toBe(400);
    expect(((await refreshed.json()) as { error?: string }).error).toBe('invalid_grant');
    const session = await world.system.pool.query<{ revoked: boolean }>('SELECT revoked_at IS NOT NULL AS revoked FROM sessions WHERE id = $1', [sessionId]);
    expect(session.rows).toEqual([{ revoked: true }]);

    // The provider's old session cookie signs nobody in: a browser holding it is asked to sign in.
    const { context: replay, page: replayPage } = await newPage(world.browser, DESKTOP);
    contexts.push(replay);
    await replay.addCookies(providerCookies);
    await replayPage.goto(`${world.ohifUrl}/`);
    await new OhifPage(replayPage, world.ohifUrl).expectSignInPage();
  }, 120_000);

  it("revoking OHIF's sign-in in Yunying (the user's sessions, from the web app) ends it in OHIF too", async () => {
    const { page, ohif, traffic } = await signedIn();
    const tokens = await ohif.tokens(world.issuer, OHIF_CLIENT_ID);
    const sessionId = String(jwtClaims(tokens.accessToken).yunying_sid);

    // The same user in Yunying's own web app, in another browser: sign in, revoke the OHIF session, sign out.
    const radiologist = world.user('radiologist');
    const { context: webContext, page: web } = await newPage(world.browser, DESKTOP);
    contexts.push(webContext);
    const signIn = await web.request.post(`${viewerUrl}/api/auth/sign-in`, { data: { username: radiologist.username, password: radiologist.password, client: 'browser' } });
    expect(signIn.status()).toBe(200);
    await web.goto(`${viewerUrl}/`);
    const revoked = await web.evaluate<number>(`fetch('/api/auth/sessions/${sessionId}', { method: 'DELETE' }).then((r) => r.status)`);
    expect(revoked).toBe(204);

    // OHIF's next query goes with the revoked token and is refused; its refresh token is dead too.
    const mark = traffic.mark();
    await ohif.filterPatientName('Palette');
    await waitFor('OHIF\'s next study search to be refused', () => Promise.resolve(traffic.studySearches(mark).some((e) => e.url.searchParams.get('PatientName') === '*Palette*' && e.status === 401)), 30_000, 500);
    const refreshed = await fetch(`${world.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refreshToken, client_id: OHIF_CLIENT_ID }).toString(),
    });
    expect(refreshed.status).toBe(400);
    // OHIF (3.13) does not act on a refused query; opened again, it finds no sign-in and asks for one.
    await page.reload();
    await ohif.expectSignInPage();

    // Signing out of the web app ends its own session: its old cookies are refused.
    const cookieHeader = (await webContext.cookies(viewerUrl)).map((c) => `${c.name}=${c.value}`).join('; ');
    expect((await fetch(`${viewerUrl}/api/auth/me`, { headers: { cookie: cookieHeader } })).status).toBe(200);
    const signedOut = await web.evaluate<number>(`fetch('/api/auth/sign-out', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }).then((r) => r.status)`);
    expect(signedOut).toBe(204);
    expect((await fetch(`${viewerUrl}/api/auth/me`, { headers: { cookie: cookieHeader } })).status).toBe(401);
  }, 120_000);

  it("signing out of Yunying's web app signs OHIF out in the same browser (one sign-out for both)", async () => {
    const { context, page, ohif, traffic } = await signedIn();
    const tokens = await ohif.tokens(world.issuer, OHIF_CLIENT_ID);

    // The same user in Yunying's web app, in another tab of the same browser: sign in, then sign out there.
    const radiologist = world.user('radiologist');
    const web = await context.newPage();
    const webApp = new SignInPage(web);
    await webApp.open(viewerUrl);
    await webApp.signIn(radiologist.username, radiologist.password);
    await webApp.signOut();

    // OHIF's next query goes with its old token and is refused; its refresh token is dead too.
    const mark = traffic.mark();
    await ohif.filterPatientName('Palette');
    await waitFor('OHIF\'s next study search to be refused', () => Promise.resolve(traffic.studySearches(mark).some((e) => e.url.searchParams.get('PatientName') === '*Palette*' && e.status === 401)), 30_000, 500);
    const refreshed = await fetch(`${world.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refreshToken, client_id: OHIF_CLIENT_ID }).toString(),
    });
    expect(refreshed.status).toBe(400);
    expect(((await refreshed.json()) as { error?: string }).error).toBe('invalid_grant');
    // Opened again, OHIF finds the provider's session of this browser gone and asks for a sign-in.
    await page.reload();
    await ohif.expectSignInPage();
  }, 120_000);

  // Last: it adds a fourth study to the list the tests above expect to hold three.
  const echo = sharedEcho();
  itUnless(echo === null ? 'shared data file US-PAL-8-10x-echo.dcm absent' : null)('draws a real RLE PALETTE COLOR echo cine (US-PAL-8-10x-echo.dcm) in the colours of its palette', async () => {
    const file = echo ?? Buffer.alloc(0);
    const parsed = parseInstance(file);
    const studyUid = String(parsed.studyInstanceUid);
    expect((await stow(world.system.urls.ingest ?? '', world.system.credentials.apiKey?.key ?? '', [file], studyUid)).status).toBe(200);
    // The two colours covering most of frame 1 (black aside: the canvas has black around the image), as
    // Yunying's own decoder looks them up in the file's palette.
    const rgb = toRgb8(await decodeFrame(file, parsed, 0));
    const histogram = new Map<string, number>();
    for (let i = 0; i < rgb.data.length; i += 3) {
      const key = `${rgb.data[i]},${rgb.data[i + 1]},${rgb.data[i + 2]}`;
      histogram.set(key, (histogram.get(key) ?? 0) + 1);
    }
    const dominant = [...histogram.entries()]
      .filter(([key]) => key !== '0,0,0')
      .sort((a, b) => b[1] - a[1])
      .slice(0, 2).map(([key]) => key.split(',').map(Number) as [number, number, number]);

    const { context, page } = await newPage(world.browser, DESKTOP);
    contexts.push(context);
    const ohif = new OhifPage(page, world.ohifUrl);
    const radiologist = world.user('radiologist');
    await ohif.signIn(radiologist.username, radiologist.password);
    await ohif.expectStudyListed('Echocardiogram');
    await ohif.openStudy(studyUid);
    await ohif.expectViewportColours(dominant);
    await page.screenshot({ path: screenshotPath('ohif-echo-palette.png') });
    await ohif.expectNoErrorScreen();
  }, 120_000);
});
