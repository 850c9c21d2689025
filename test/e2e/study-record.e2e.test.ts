import fs from 'node:fs';
import path from 'node:path';
import { makeInstance, newUid } from '@yunying/dicom/testing';
import type { Browser } from 'playwright-core';
import { call, demoPassword, signIn as apiSignIn } from '../reading/reading.support';
import { describeUnless } from '../support/skip';
import { startSystem, stow, type RunningSystem } from '../support/system';
import { chromiumMissing, DESKTOP, launchBrowser, newPage, screenshotPath } from './pages/browser';
import { SignInPage } from './pages/sign-in.page';
import { StudyRecordPage } from './pages/study-record.page';

/**
 * Issue #20: the auditor opens a study as a record in Chromium. The study is stored for real (three fs
 * copies), its report signed for real through the API (SR stored as a second instance), and one copy of the
 * image damaged on disk and found by the keeper's scrub. The auditor goes Retention -> the study's record
 * and sees every copy (the damaged one drawn red, the good ones green), the keeper's finding in the
 * verification history, and the signed report, whose signature they verify on the page.
 */
describeUnless(chromiumMissing(), 'study record for the auditor (e2e, chromium)', () => {
  let system: RunningSystem;
  let browser: Browser;
  const studyUid = newUid();
  let damagedTarget = '';

  beforeAll(async () => {
    // The keeper's schedule is off: the test runs the one scrub that finds the damage.
    system = await startSystem({ env: { SCRUB_INTERVAL_SECONDS: '0', REPAIR_RETRY_SECONDS: '3600', ORPHAN_SWEEP_INTERVAL_SECONDS: '0' } });
    const viewer = system.urls.viewer ?? '';
    const file = makeInstance({ studyInstanceUid: studyUid, rows: 32, columns: 32, modality: 'US', patientName: 'Sun^Li', patientId: 'HC-REC-1' });
    expect((await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', [file], studyUid)).status).toBe(200);

    const reader = await apiSignIn(viewer, 'radiologist', demoPassword(system, 'radiologist'));
    expect((await call(viewer, 'POST', `/api/queue/${studyUid}/claim`, reader)).status).toBe(200);
    expect((await call(viewer, 'PUT', `/api/studies/${studyUid}/report/draft`, reader, { findings: 'Normal thyroid.', impression: 'No nodule.' })).status).toBe(200);
    expect((await call(viewer, 'POST', `/api/studies/${studyUid}/report/sign`, reader, { password: demoPassword(system, 'radiologist') })).status).toBe(200);

    // One copy of the image (not the report SR) gets rotten bytes on the second replica.
    const { rows } = await system.pool.query<{ target: string; object_key: string }>(
      `SELECT c.target, c.object_key FROM copies c JOIN instances i ON i.sha256 = c.sha256 JOIN series se ON se.id = i.series_ref JOIN studies s ON s.id = i.study_ref
        WHERE s.study_instance_uid = $1 AND se.modality IS DISTINCT FROM 'SR' ORDER BY c.target`,
      [studyUid],
    );
    const copy = rows[1];
    if (!copy) throw new Error('no second copy');
    damagedTarget = copy.target;
    // The system's fs targets fs-1..3 live in replica-a..c under its data directory.
    const fileOnDisk = path.join(system.dataDir, `replica-${'abc'[['fs-1', 'fs-2', 'fs-3'].indexOf(copy.target)] ?? 'x'}`, copy.object_key);
    fs.chmodSync(fileOnDisk, 0o644);
    const handle = fs.openSync(fileOnDisk, 'r+');
    fs.writeSync(handle, Buffer.from('rotten bytes'), 0, 12, 200);
    fs.closeSync(handle);
    const admin = await apiSignIn(viewer, 'admin', demoPassword(system, 'admin'));
    const scrub = await call<{ findings: { target: string; state: string }[] }>(system.urls.ingest ?? '', 'POST', '/api/admin/scrub', admin, { repair: false });
    expect(scrub.status).toBe(200);
    expect(scrub.body.findings).toEqual([expect.objectContaining({ target: damagedTarget, state: 'corrupt' })]);
    browser = await launchBrowser();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  test('the auditor opens the record: copies with their state drawn, the finding in the history, the signature verified', async () => {
    const auditor = system.credentials.users.find((u) => u.role === 'auditor');
    const { context, page, errors } = await newPage(browser, DESKTOP);
    const signIn = new SignInPage(page);
    await signIn.open(system.urls.viewer ?? '');
    await signIn.signIn(auditor?.username ?? '', auditor?.password ?? '');
    const record = new StudyRecordPage(page);
    await record.openFromRetention(studyUid);

    // The image and the report SR, three copies each; one copy corrupt.
    expect(await record.copies().count()).toBe(6);
    expect(await page.locator('[data-testid="copy"][data-state="corrupt"]').count()).toBe(1);
    const bad = record.copyState(damagedTarget, 'corrupt');
    expect(await bad.textContent()).toBe('corrupt');
    const good = record.copyState('fs-1', 'ok');
    expect(await good.textContent()).toBe('verified');
    const badColours = await record.colours(bad);
    const goodColours = await record.colours(good);
    expect(badColours.red).toBeGreaterThan(0.4);
    expect(badColours.green).toBeLessThan(0.05);
    expect(goodColours.green).toBeGreaterThan(0.4);
    expect(goodColours.red).toBeLessThan(0.05);
    expect(await page.getByTestId('record-risks').textContent()).toContain('copies missing');

    const history = await record.historyEvents();
    expect(history).toContain('copy.bad');
    expect(history.filter((e) => e === 'stored')).toHaveLength(2);

    expect(await record.signedReport(1).locator('td').nth(2).textContent()).toBe('radiologist');
    const verified = await record.verify(1);
    expect(verified).toEqual({ valid: 'true', text: 'Signature valid' });
    await page.screenshot({ path: screenshotPath('study-record.png'), fullPage: true });
    // Nothing of the patient on the auditor's page.
    expect(await page.locator('body').innerText()).not.toMatch(/Sun\^Li|Sun, Li|HC-REC-1/);
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);
});
