import { makeInstance, newUid } from '@yunying/dicom/testing';
import type { Browser } from 'playwright-core';
import { describeUnless } from '../support/skip';
import { startSystem, stow, type RunningSystem } from '../support/system';
import { nodulePattern } from '../triage/triage.support';
import { chromiumMissing, DESKTOP, launchBrowser, newPage, screenshotPath } from './pages/browser';
import { SignInPage } from './pages/sign-in.page';
import { ViewerPage } from './pages/viewer.page';

interface DraftNodule {
  size: { longMm: number; source: string; longAxisLine: { sopInstanceUid: string; frameNumber: number; points: number[] } | null } | null;
}

/**
 * Issue #20, where a measurement was made: the radiologist measures a nodule with the caliper on frame 2
 * of a calibrated cine and makes it the nodule's long axis; the saved draft carries the image, the frame
 * and the caliper's ends, which the signed SR writes as a SCOORD (report.images.int.test.ts checks that
 * SR with dsrdump). Real system, Chromium.
 */
describeUnless(chromiumMissing(), 'caliper as a nodule long axis (e2e, chromium)', () => {
  let system: RunningSystem;
  let browser: Browser;
  let viewerUrl = '';
  const studyUid = newUid();
  const sopUid = newUid();

  beforeAll(async () => {
    system = await startSystem();
    viewerUrl = system.urls.viewer ?? '';
    const cine = makeInstance({
      studyInstanceUid: studyUid,
      sopInstanceUid: sopUid,
      frames: 3,
      rows: 120,
      columns: 160,
      modality: 'US',
      sequenceOfUltrasoundRegions: true,
      pixelPattern: nodulePattern(80, 65, 24, 16),
      patientName: 'Sun^Li',
      patientId: 'HC-CAL-1',
    });
    expect((await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', [cine], studyUid)).status).toBe(200);
    browser = await launchBrowser();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  test('the caliper on frame 2 becomes nodule 1’s long axis, and the saved draft says on which image, frame and where', async () => {
    const reader = system.credentials.users.find((u) => u.role === 'radiologist');
    const { context, page, errors } = await newPage(browser, DESKTOP);
    await ViewerPage.installRenderCounter(page);
    const signIn = new SignInPage(page);
    await signIn.open(viewerUrl);
    await signIn.signIn(reader?.username ?? '', reader?.password ?? '');
    await page.goto(`${viewerUrl}/read/${studyUid}`);
    const viewer = new ViewerPage(page);
    await viewer.waitForRenders(1);
    await page.getByTestId('viewport').focus();
    await page.keyboard.press('ArrowDown');
    await page.getByTestId('frame-index').filter({ hasText: 'Frame 2 / 3' }).waitFor();
    const measured = await viewer.measureAcross();
    const mm = Number(/Length ([0-9.]+) mm · frame 2/.exec(measured)?.[1] ?? Number.NaN);
    expect(mm).toBeGreaterThan(0);
    // One drag, one entry (not one per mouse move).
    expect(await page.getByTestId('measurement').count()).toBe(1);
    await page.getByTestId('measurement-to-nodule').last().click();
    await page.getByText(`Nodule 1: long axis ${mm.toFixed(1)} mm from the caliper`).waitFor();
    await page.getByTestId('save-draft').click();
    await page.getByText(/^Draft saved/).waitFor();
    await page.screenshot({ path: screenshotPath('caliper-long-axis.png') });

    const signedIn = await fetch(`${viewerUrl}/api/auth/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: reader?.username, password: reader?.password, client: 'api' }),
    });
    const token = ((await signedIn.json()) as { accessToken: string }).accessToken;
    const res = await fetch(`${viewerUrl}/api/studies/${studyUid}/report`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { versions: { status: string; nodules: DraftNodule[] }[] };
    const size = body.versions.find((v) => v.status === 'draft')?.nodules[0]?.size;
    expect(size?.longMm).toBeCloseTo(mm, 1);
    expect(size?.source).toBe('reader');
    expect(size?.longAxisLine?.sopInstanceUid).toBe(sopUid);
    expect(size?.longAxisLine?.frameNumber).toBe(2);
    // The ends lie inside the 160 x 120 image, about where the caliper was dragged (35 % to 65 % across).
    const [x1, y1, x2, y2] = size?.longAxisLine?.points ?? [];
    for (const [v, max] of [[x1, 160], [y1, 120], [x2, 160], [y2, 120]] as const) {
      expect(v ?? -1).toBeGreaterThanOrEqual(0);
      expect(v ?? 1e9).toBeLessThanOrEqual(max);
    }
    expect((x2 ?? 0) - (x1 ?? 0)).toBeGreaterThan(20);
    // The length is the caliper's: its ends at the fixture's 0.1 mm per pixel (ultrasound region).
    expect(Math.hypot(((x2 ?? 0) - (x1 ?? 0)) * 0.1, ((y2 ?? 0) - (y1 ?? 0)) * 0.1)).toBeCloseTo(mm, 1);
    expect(errors).toEqual([]);
    await context.close();
  }, 180_000);
});
