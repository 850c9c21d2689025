import { makeInstance, newUid } from '@yunying/dicom/testing';
import type { Browser } from 'playwright-core';
import { describeUnless } from '../support/skip';
import { startSystem, stow, type RunningSystem } from '../support/system';
import { chromiumMissing, DESKTOP, launchBrowser, newPage, screenshotPath } from './pages/browser';
import { SignInPage } from './pages/sign-in.page';

/**
 * Issue #20: the reading-time dashboard in Chromium. Reading times are written as a claim and a signature
 * write them (known durations, so the figures are known); an admin opens "Reading time" from the menu and
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
    // 2, 3 and 10 minutes, signed on 1 March 2026 (China Standard Time).
    for (const [i, seconds] of [120, 180, 600].entries()) {
      await system.pool.query(
        `INSERT INTO reading_times (study_ref, reader_user_id, clinic_id, opened_at, signed_at)
         SELECT s.id, u.id, s.clinic_id, $2::timestamptz - make_interval(secs => $3), $2::timestamptz
           FROM studies s, users u WHERE s.study_instance_uid = $1 AND u.username = 'radiologist'`,
        [uids[i], '2026-03-01T10:00:00+08:00', seconds],
      );
    }
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
