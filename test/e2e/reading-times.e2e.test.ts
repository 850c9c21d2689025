import { makeInstance, newUid } from '@yunying/dicom/testing';
import type { Browser } from 'playwright-core';
import { call, demoPassword, signIn as signInApi } from '../reading/reading.support';
import { describeUnless } from '../support/skip';
import { startSystem, stow, type RunningSystem } from '../support/system';
import { chromiumMissing, DESKTOP, launchBrowser, newPage, screenshotPath } from './pages/browser';
import { SignInPage } from './pages/sign-in.page';

/**
 * Issue #20: the reading-time dashboard in Chromium. The radiologist reads three studies through the reading
 * API (claim, draft, sign), which writes their reading times; an admin opens "Reading time" from the menu and
 * sees median and 90th percentile per radiologist and per day.
 */
describeUnless(chromiumMissing(), 'reading-time dashboard (e2e, chromium)', () => {
  let system: RunningSystem;
  let browser: Browser;

  beforeAll(async () => {
    system = await startSystem();
    const uids = [newUid(), newUid(), newUid()];
    for (const uid of uids) {
      const file = makeInstance({ studyInstanceUid: uid, rows: 8, columns: 8, modality: 'US' });
      expect((await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', [file], uid)).status).toBe(200);
    }
    // The claim writes when reading began and the signature when it ended (reading_times, one row each).
    const password = demoPassword(system, 'radiologist');
    const reader = await signInApi(system.urls.viewer ?? '', 'radiologist', password);
    for (const uid of uids) {
      expect((await call(system.urls.viewer ?? '', 'POST', `/api/queue/${uid}/claim`, reader)).status).toBe(200);
      expect((await call(system.urls.viewer ?? '', 'PUT', `/api/studies/${uid}/report/draft`, reader, { findings: 'No nodule.', impression: 'Normal thyroid.' })).status).toBe(200);
      expect((await call(system.urls.viewer ?? '', 'POST', `/api/studies/${uid}/report/sign`, reader, { password })).status).toBe(200);
    }
    // Readings of seconds would all show as "0 s": the rows the system wrote are moved in time (no clock to
    // set) to 2, 3 and 10 minutes long, signed on 1 March 2026 (China Standard Time), so the figures are known.
    const moved = await system.pool.query(
      `UPDATE reading_times rt SET opened_at = $2::timestamptz - make_interval(secs => m.seconds), signed_at = $2::timestamptz
         FROM studies s, unnest($1::text[], $3::int[]) AS m(uid, seconds)
        WHERE rt.study_ref = s.id AND s.study_instance_uid = m.uid AND rt.signed_at IS NOT NULL`,
      [uids, '2026-03-01T10:00:00+08:00', [120, 180, 600]],
    );
    expect(moved.rowCount).toBe(3);
    browser = await launchBrowser();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  test('an admin sees median and p90 reading time per radiologist and per day', async () => {
    const admin = system.credentials.users.find((u) => u.role === 'admin');
    const { context, page, errors } = await newPage(browser, DESKTOP);
    const signIn = new SignInPage(page);
    await signIn.open(system.urls.viewer ?? '');
    await signIn.signIn(admin?.username ?? '', admin?.password ?? '');
    await page.getByRole('link', { name: 'Reading time' }).click();
    await page.getByLabel('From').fill('2026-03-01');
    await page.getByLabel('To').fill('2026-03-01');
    await page.getByRole('button', { name: 'Apply' }).click();
    const reader = page.getByTestId('reader-row');
    await reader.waitFor();
    // percentile_cont over 120, 180, 600: median 180 s, p90 180 + 0.8 x 420 = 516 s.
    expect(await reader.locator('td').allInnerTexts()).toEqual(['Demo radiologist', '3', '3 min 00 s', '8 min 36 s']);
    expect(await page.getByTestId('day-row').locator('td').allInnerTexts()).toEqual(['2026-03-01', '3', '3 min 00 s', '8 min 36 s']);
    await page.screenshot({ path: screenshotPath('reading-times.png') });
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);
});
