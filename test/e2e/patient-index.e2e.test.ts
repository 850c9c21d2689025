import { makeInstance, newUid } from '@yunying/dicom/testing';
import type { Browser } from 'playwright-core';
import { call, demoPassword, signIn as apiSignIn } from '../reading/reading.support';
import { describeUnless } from '../support/skip';
import { startSystem, stow, type RunningSystem } from '../support/system';
import { chromiumMissing, DESKTOP, launchBrowser, newPage, screenshotPath } from './pages/browser';
import { SignInPage } from './pages/sign-in.page';
import { StudyRecordPage } from './pages/study-record.page';

/**
 * Issue #20: the patient index's admin queue in Chromium. Two visits under one chain ID with different
 * birth dates are not linked; the admin opens "Patient index", sees both sides with the birth date drawn
 * as the difference (red), merges them (the reader's priors then link the visits), and unmerges again.
 */
describeUnless(chromiumMissing(), 'patient index queue (e2e, chromium)', () => {
  let system: RunningSystem;
  let browser: Browser;
  let reader = '';
  const first = newUid();
  const second = newUid();
  const priorsOf = async (study: string): Promise<string[]> =>
    (await call<{ studies: { studyInstanceUid: string }[] }>(system.urls.viewer ?? '', 'GET', `/api/studies/${study}/priors`, reader)).body.studies.map((s) => s.studyInstanceUid);

  beforeAll(async () => {
    system = await startSystem();
    const visit = (uid: string, birthDate: string, date: string): Buffer =>
      makeInstance({ studyInstanceUid: uid, rows: 8, columns: 8, modality: 'US', patientName: 'Chen^Jing', patientId: 'HC-77', birthDate, studyDate: date, extra: { IssuerOfPatientID: 'HC-CHAIN', PatientSex: 'F', BodyPartExamined: 'THYROID' } });
    expect((await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', [visit(first, '19790412', '20240301')])).status).toBe(200);
    expect((await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', [visit(second, '19790421', '20250301')])).status).toBe(200);
    reader = await apiSignIn(system.urls.viewer ?? '', 'radiologist', demoPassword(system, 'radiologist'));
    browser = await launchBrowser();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  test('the admin sees the difference, merges, and unmerges', async () => {
    expect(await priorsOf(second)).toEqual([]);
    const admin = system.credentials.users.find((u) => u.role === 'admin');
    const { context, page, errors } = await newPage(browser, DESKTOP);
    const signIn = new SignInPage(page);
    await signIn.open(system.urls.viewer ?? '');
    await signIn.signIn(admin?.username ?? '', admin?.password ?? '');
    await page.getByRole('link', { name: 'Patient index' }).click();
    const review = page.getByTestId('review');
    await review.waitFor();
    expect(await review.count()).toBe(1);
    expect(await review.getAttribute('data-reason')).toBe('identifier-demographics-differ');
    const person = review.getByTestId('review-person');
    const candidate = review.getByTestId('review-candidate');
    expect(await person.locator('dd[data-field="birthDate"]').textContent()).toBe('1979-04-21');
    expect(await candidate.locator('dd[data-field="birthDate"]').textContent()).toBe('1979-04-12');
    expect(await candidate.locator('dd[data-field="identifier"]').textContent()).toBe('HC-77 (HC-CHAIN)');
    // What is drawn: the differing field on a red ground, the agreeing name not.
    const record = new StudyRecordPage(page);
    expect((await record.colours(person.locator('dd[data-field="birthDate"]'))).red).toBeGreaterThan(0.3);
    expect((await record.colours(person.locator('dd[data-field="name"]'))).red).toBe(0);
    await page.screenshot({ path: screenshotPath('patient-index-review.png'), fullPage: true });

    await review.getByTestId('merge').click();
    await page.getByTestId('queue-empty').waitFor();
    const row = page.getByTestId('merge-row');
    expect(await row.getAttribute('data-undone')).toBe('false');
    expect(await priorsOf(second)).toEqual([first]);

    await row.getByTestId('unmerge').click();
    await page.locator('[data-testid="merge-row"][data-undone="true"]').waitFor();
    expect(await priorsOf(second)).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);
});
