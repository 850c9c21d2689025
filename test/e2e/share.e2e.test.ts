import { makeInstance, newUid } from '@yunying/dicom/testing';
import type { Browser } from 'playwright-core';
import { call, demoPassword, signIn as signInApi } from '../reading/reading.support';
import { describeUnless } from '../support/skip';
import { startSystem, stow, type RunningSystem } from '../support/system';
import { nodulePattern } from '../triage/triage.support';
import { chromiumMissing, DESKTOP, launchBrowser, newPage, PHONE, screenshotPath } from './pages/browser';
import { ClinicStudiesPage } from './pages/clinic.page';
import { SharePage } from './pages/share.page';
import { SignInPage } from './pages/sign-in.page';
import { ViewerPage } from './pages/viewer.page';

/** A three-frame cine whose frames differ in brightness (dark, bright, mid grey): which frame is drawn shows in the mean. */
const FRAME_LEVELS = [30, 210, 120];
const LEVELLED = (frame: number, row: number, column: number): number => (FRAME_LEVELS[frame] ?? 0) + ((row * 7 + column * 3) % 24);

const IMPRESSION = 'Solid nodule in the right lobe, TR5: fine-needle aspiration recommended. 甲状腺右叶结节';

interface CreatedShare {
  id: string;
  token: string;
  path: string;
  code: string | null;
}

/**
 * Issue #20, share links end to end: the real system (launcher, PostgreSQL, fs replicas) and Chromium on
 * a phone viewport. A clinic user shares a study; the page draws the key image (measured in the page: it
 * holds an image, not a blank) and the signed report; an access-coded link asks for its code; a revoked
 * link shows the refusal, and the token opens no DICOMweb.
 */
describeUnless(chromiumMissing(), 'share links on a phone (e2e, chromium)', () => {
  let system: RunningSystem;
  let browser: Browser;
  let viewerUrl = '';
  let clinicToken = '';
  let studyUid = '';

  const share = async (body: object): Promise<CreatedShare> => {
    const res = await fetch(`${viewerUrl}/api/studies/${studyUid}/shares`, {
      method: 'POST',
      headers: { authorization: `Bearer ${clinicToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as CreatedShare;
  };

  beforeAll(async () => {
    system = await startSystem();
    viewerUrl = system.urls.viewer ?? '';
    studyUid = newUid();
    const file = makeInstance({
      studyInstanceUid: studyUid,
      rows: 120,
      columns: 160,
      modality: 'US',
      pixelPattern: nodulePattern(80, 65, 24, 16),
      patientName: 'Zhao^Lei',
      patientId: 'HC-SHARE-1',
    });
    expect((await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', [file], studyUid)).status).toBe(200);
    // The signed report the share shows, written as a radiologist writes it: claim, draft, sign with the
    // password (the reading room's pages have their own e2e; here only the result matters).
    const reader = await signInApi(viewerUrl, 'radiologist', demoPassword(system, 'radiologist'));
    expect((await call(viewerUrl, 'POST', `/api/queue/${studyUid}/claim`, reader)).status).toBe(200);
    const draft = { findings: 'Right lobe 16 mm solid nodule.', impression: IMPRESSION, tiradsCategory: 'TR5' };
    expect((await call(viewerUrl, 'PUT', `/api/studies/${studyUid}/report/draft`, reader, draft)).status).toBe(200);
    expect((await call(viewerUrl, 'POST', `/api/studies/${studyUid}/report/sign`, reader, { password: demoPassword(system, 'radiologist') })).status).toBe(200);
    const clinic = system.credentials.users.find((u) => u.role === 'clinic');
    const signIn = await fetch(`${viewerUrl}/api/auth/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: clinic?.username, password: clinic?.password, client: 'api' }),
    });
    clinicToken = ((await signIn.json()) as { accessToken: string }).accessToken;
    browser = await launchBrowser();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  test('a client opens the link on a phone: the key image is drawn, the report is readable; after revocation the page refuses', async () => {
    const link = await share({ expiresInDays: 7 });
    const { context, page, errors } = await newPage(browser, PHONE, true);
    const sharePage = new SharePage(page);
    await sharePage.open(viewerUrl, link.path);
    const [stats] = await sharePage.imageStats(1);
    // The 160x120 frame, not enlarged, with the speckle and the dark nodule: many grey levels, real contrast.
    expect([stats?.width, stats?.height]).toEqual([160, 120]);
    expect(stats?.stddev).toBeGreaterThan(10);
    expect(stats?.levels).toBeGreaterThan(20);
    const report = await sharePage.reportText();
    expect(report).toContain(IMPRESSION);
    expect(report).toContain('TR5');
    // Nothing of the patient's identity or of other studies is on the page.
    expect(await page.locator('body').innerText()).not.toMatch(/Zhao|HC-SHARE-1/);
    await page.screenshot({ path: screenshotPath('share-phone.png'), fullPage: true });

    // The token is no credential anywhere else: not for DICOMweb, not for the study's report.
    for (const header of [`Share ${link.token}`, `Bearer ${link.token}`]) {
      for (const path of [`/dicomweb/studies?StudyInstanceUID=${studyUid}`, `/dicomweb/studies/${studyUid}/metadata`, `/api/studies/${studyUid}/report`]) {
        expect([path, (await fetch(`${viewerUrl}${path}`, { headers: { authorization: header } })).status]).toEqual([path, 401]);
      }
    }

    const revoked = await fetch(`${viewerUrl}/api/studies/${studyUid}/shares/${link.id}/revoke`, { method: 'POST', headers: { authorization: `Bearer ${clinicToken}` } });
    expect(revoked.status).toBe(200);
    await page.reload();
    const refusal = await sharePage.refusalText();
    expect(refusal).toContain('This link is no longer valid');
    expect(refusal).toContain('此链接已失效');
    expect(await page.locator('.images img').count()).toBe(0);
    expect(await page.getByTestId('share-report').count()).toBe(0);
    await page.screenshot({ path: screenshotPath('share-revoked.png') });

    // Each view was audited under the share's id.
    const { rows } = await system.pool.query<{ action: string }>(
      `SELECT details->>'action' AS action FROM audit_events WHERE details->>'shareId' = $1 ORDER BY seq`,
      [link.id],
    );
    expect(rows.map((r) => r.action)).toEqual(['share-create', 'share-view', 'share-image', 'share-revoke', 'share-refused']);
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);

  test('a link with an access code asks for it, says when it is wrong, and shows the study with the right one', async () => {
    const link = await share({ accessCode: true });
    const code = link.code ?? '';
    const { context, page, errors } = await newPage(browser, PHONE, true);
    const sharePage = new SharePage(page);
    await sharePage.open(viewerUrl, link.path);
    await sharePage.enterCode(String((Number(code) + 1) % 1_000_000).padStart(6, '0'));
    expect(await sharePage.codeError()).toContain('The access code is not right');
    await sharePage.enterCode(code);
    const [stats] = await sharePage.imageStats(1);
    expect(stats?.stddev).toBeGreaterThan(10);
    expect(await sharePage.reportText()).toContain(IMPRESSION);
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);

  test('the clinic shares a reported study from its study list, the client opens it with the code, the clinic revokes it', async () => {
    const clinic = system.credentials.users.find((u) => u.role === 'clinic');
    const desk = await newPage(browser, DESKTOP);
    const signIn = new SignInPage(desk.page);
    await signIn.open(viewerUrl);
    await signIn.signIn(clinic?.username ?? '', clinic?.password ?? '');
    const study = new ClinicStudiesPage(desk.page).study(studyUid);
    await study.getByTestId('share-create').click();
    const link = (await study.getByTestId('share-link').getAttribute('href')) ?? '';
    const code = (await study.getByTestId('share-code').innerText()).trim();
    expect(link).toMatch(new RegExp(`^${viewerUrl}/share#[A-Za-z0-9_-]{43}$`));
    expect(code).toMatch(/^[0-9]{6}$/);

    const phone = await newPage(browser, PHONE, true);
    const sharePage = new SharePage(phone.page);
    await phone.page.goto(link);
    await sharePage.enterCode(code);
    const [stats] = await sharePage.imageStats(1);
    expect(stats?.stddev).toBeGreaterThan(10);
    expect(await sharePage.reportText()).toContain(IMPRESSION);

    await study.getByTestId('share-revoke').click();
    await study.getByTestId('share-revoked').waitFor();
    // A revoked link is refused before any code is asked for.
    await phone.page.reload();
    expect(await sharePage.refusalText()).toContain('This link is no longer valid');
    expect([...desk.errors, ...phone.errors]).toEqual([]);
    await desk.context.close();
    await phone.context.close();
  }, 120_000);
  test('the clinic prints the signed report: a bilingual document head, the key image, the signed version with its checked signature, no app chrome on paper', async () => {
    // The reader marks the study's image as the key image (as the viewer saves it).
    const reader = await signInApi(viewerUrl, 'radiologist', demoPassword(system, 'radiologist'));
    const res = await fetch(`${viewerUrl}/dicomweb/studies/${studyUid}/instances`, { headers: { authorization: `Bearer ${reader}`, accept: 'application/dicom+json' } });
    const sop = ((await res.json()) as Record<string, { Value?: string[] }>[])[0]?.['00080018']?.Value?.[0] ?? '';
    expect((await call(viewerUrl, 'PUT', `/api/studies/${studyUid}/key-images`, reader, { images: [{ sopInstanceUid: sop, frameNumber: null }] })).status).toBe(200);
    const clinic = system.credentials.users.find((u) => u.role === 'clinic');
    const desk = await newPage(browser, DESKTOP);
    const signIn = new SignInPage(desk.page);
    await signIn.open(viewerUrl);
    await signIn.signIn(clinic?.username ?? '', clinic?.password ?? '');
    await new ClinicStudiesPage(desk.page).study(studyUid).getByTestId('print-report').click();
    await desk.page.waitForURL(new RegExp(`/report/${studyUid.replace(/\./g, '\\.')}$`));
    const doc = desk.page.getByTestId('report-print');
    await doc.getByTestId('signed-report').waitFor();
    expect(await doc.getByTestId('print-patient').innerText()).toContain('Zhao, Lei');
    expect(await doc.getByTestId('print-id').innerText()).toContain('HC-SHARE-1');
    expect(await doc.getByTestId('print-clinic').innerText()).toBe('Demo Clinic');
    const text = await doc.innerText();
    expect(text).toContain('超声检查报告');
    expect(text).toContain(IMPRESSION);
    expect(text).toContain('TR5');
    await doc.locator('[data-testid="signature"][data-valid="true"]').waitFor();
    // The key image is drawn: the archive's rendering of the 160x120 frame, not a broken image.
    const keyImage = doc.getByTestId('print-key-image');
    expect(await keyImage.count()).toBe(1);
    await desk.page.waitForFunction((img) => (img as { complete: boolean; naturalWidth: number }).complete && (img as { naturalWidth: number }).naturalWidth > 0, await keyImage.elementHandle());
    expect(await keyImage.evaluate((img) => [(img as { naturalWidth: number }).naturalWidth, (img as { naturalHeight: number }).naturalHeight])).toEqual([160, 120]);
    await desk.page.screenshot({ path: screenshotPath('report-print.png'), fullPage: true });

    // On paper: the document alone (no navigation, no button), and Chromium makes a PDF of it.
    await desk.page.emulateMedia({ media: 'print' });
    expect(await desk.page.locator('#app-header').isVisible()).toBe(false);
    expect(await desk.page.getByTestId('print').isVisible()).toBe(false);
    expect(await doc.getByTestId('print-head').isVisible()).toBe(true);
    const pdf = await desk.page.pdf({ format: 'A4', printBackground: false });
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g)?.length).toBe(1);
    await desk.page.emulateMedia({ media: 'screen' });

    // A study without a signed report has nothing to print, and says so.
    const unread = newUid();
    expect((await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', [makeInstance({ studyInstanceUid: unread, rows: 8, columns: 8, modality: 'US' })], unread)).status).toBe(200);
    await desk.page.goto(`${viewerUrl}/report/${unread}`);
    await desk.page.getByTestId('report-print').locator('p.status', { hasText: 'no signed report' }).waitFor();
    expect(await desk.page.getByTestId('signed-report').count()).toBe(0);
    expect(desk.errors).toEqual([]);
    await desk.context.close();
  }, 120_000);
  test('the radiologist marks frame 2 of a cine as the key image; the phone share draws that frame (from the stored KOS), and before any mark the first image', async () => {
    const cineUid = newUid();
    const cine = makeInstance({ studyInstanceUid: cineUid, frames: 3, rows: 120, columns: 160, modality: 'US', pixelPattern: LEVELLED, patientName: 'Qian^Yu', patientId: 'HC-KEY-1' });
    expect((await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', [cine], cineUid)).status).toBe(200);
    const shareOf = async (): Promise<CreatedShare> => {
      const res = await fetch(`${viewerUrl}/api/studies/${cineUid}/shares`, { method: 'POST', headers: { authorization: `Bearer ${clinicToken}`, 'content-type': 'application/json' }, body: '{}' });
      expect(res.status).toBe(201);
      return (await res.json()) as CreatedShare;
    };

    // Nothing marked yet: the phone shows the first frame and says that no key images were chosen.
    const before = await newPage(browser, PHONE, true);
    const unmarked = new SharePage(before.page);
    await unmarked.open(viewerUrl, (await shareOf()).path);
    expect(await unmarked.imagesSource()).toContain('No key images were marked');
    const [first] = await unmarked.imageStats(1);
    expect(first?.mean).toBeLessThan(70);
    await before.context.close();

    // The radiologist steps to frame 2, marks it (K) and saves: a Key Object Selection document is stored.
    const reader = system.credentials.users.find((u) => u.role === 'radiologist');
    const desk = await newPage(browser, DESKTOP);
    await ViewerPage.installRenderCounter(desk.page);
    const signIn = new SignInPage(desk.page);
    await signIn.open(viewerUrl);
    await signIn.signIn(reader?.username ?? '', reader?.password ?? '');
    await desk.page.goto(`${viewerUrl}/read/${cineUid}`);
    const viewer = new ViewerPage(desk.page);
    await viewer.waitForRenders(1);
    await desk.page.getByTestId('viewport').focus();
    await desk.page.keyboard.press('ArrowDown');
    await desk.page.getByTestId('frame-index').filter({ hasText: 'Frame 2 / 3' }).waitFor();
    await desk.page.keyboard.press('k');
    await desk.page.getByTestId('frame-index').filter({ hasText: 'key image' }).waitFor();
    expect(await desk.page.getByTestId('key-image-toggle').getAttribute('aria-pressed')).toBe('true');
    expect(await desk.page.getByTestId('key-image').allInnerTexts()).toEqual(['Frame 2 / 3']);
    await desk.page.getByTestId('key-images-save').click();
    await desk.page.getByText('Key images saved.').waitFor();
    await desk.page.screenshot({ path: screenshotPath('key-images-marked.png') });
    const { rows } = await system.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM instances i JOIN studies s ON s.id = i.study_ref
        WHERE s.study_instance_uid = $1 AND i.sop_class_uid = '1.2.840.10008.5.1.4.1.1.88.59' AND i.is_current`,
      [cineUid],
    );
    expect(rows[0]?.n).toBe(1);

    // The client's phone: one key image, and it is the bright frame 2, not frame 1.
    const phone = await newPage(browser, PHONE, true);
    const sharePage = new SharePage(phone.page);
    await sharePage.open(viewerUrl, (await shareOf()).path);
    expect(await sharePage.imagesSource()).toContain('Key images chosen by the radiologist');
    const [marked] = await sharePage.imageStats(1);
    expect([marked?.width, marked?.height]).toEqual([160, 120]);
    expect(marked?.mean).toBeGreaterThan(190);
    expect(marked?.levels).toBeGreaterThan(10);
    expect(await phone.page.locator('.images img').count()).toBe(1);
    await phone.page.screenshot({ path: screenshotPath('share-key-image-phone.png'), fullPage: true });
    expect([...desk.errors, ...phone.errors, ...before.errors]).toEqual([]);
    await desk.context.close();
    await phone.context.close();
  }, 180_000);
});
