import { makeInstance, newUid } from '@yunying/dicom/testing';
import type { Browser } from 'playwright-core';
import { call, clinicId, demoPassword, signIn as apiSignIn } from '../reading/reading.support';
import { describeUnless } from '../support/skip';
import { startSystem, stow, type RunningSystem } from '../support/system';
import { chromiumMissing, DESKTOP, launchBrowser, newPage, screenshotPath } from './pages/browser';
import { QueuePage } from './pages/queue.page';
import { TiradsReportPage } from './pages/tirads-report.page';

/**
 * Issue #20: a clinic that reports in C-TIRADS 2020. The admin chooses it for the clinic; the reader's
 * form is drawn in C-TIRADS (with the comet-tail field, which the ACR chart lacks), scores the nodule live
 * as the server does, refuses to sign until comet-tail artefacts are stated, and the signed report shows
 * the C-TIRADS category with the ACR reading beside it.
 */
describeUnless(chromiumMissing(), 'C-TIRADS report (e2e, chromium)', () => {
  let system: RunningSystem;
  let browser: Browser;
  const studyUid = newUid();

  beforeAll(async () => {
    system = await startSystem();
    const viewer = system.urls.viewer ?? '';
    const file = makeInstance({ studyInstanceUid: studyUid, rows: 32, columns: 32, modality: 'US', patientName: 'Zhou^Hua', patientId: 'HC-CT-1', studyDescription: 'Thyroid US' });
    expect((await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', [file], studyUid)).status).toBe(200);
    const admin = await apiSignIn(viewer, 'admin', demoPassword(system, 'admin'));
    expect((await call(viewer, 'PUT', `/api/admin/clinics/${clinicId(system, 'demo-clinic')}/tirads-system`, admin, { system: 'c-tirads-2020' })).status).toBe(200);
    browser = await launchBrowser();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  test('the reader scores a nodule in C-TIRADS, states comet-tail artefacts, and signs', async () => {
    const reader = { username: 'radiologist', password: demoPassword(system, 'radiologist') };
    const { context, page, errors } = await newPage(browser, DESKTOP);
    await QueuePage.openStudyAs(page, system.urls.viewer ?? '', reader, studyUid);
    const report = new TiradsReportPage(page);
    await page.getByTestId('nodules-title').filter({ hasText: 'C-TIRADS 2020' }).waitFor();

    await report.replaceWithOwnNodule({ composition: 'solid', echogenicity: 'very-hypo', shape: 'wider', margin: 'lobulated-irregular' }, 'punctate', 12);
    const block = page.getByTestId('nodule-block').first();
    expect(await report.score(0)).toBe('C-TIRADS not scored yet: choose every item and state comet-tail artefacts');
    expect(await block.getByTestId('nodule-score-acr').textContent()).toMatch(/^ACR TI-RADS: 10 points · TR5/);
    const cometRow = block.locator('[data-field="cometTail"]');
    expect(await cometRow.getByTestId('field-mark').textContent()).toBe('Not assessed');
    expect(await report.pending()).toBe('1 field still to confirm or change.');
    expect(await report.signRefused()).toMatch(/^1 nodule field is not confirmed/);

    await cometRow.locator('select').selectOption('absent');
    expect(await report.score(0)).toBe('4 features · C-TR4C, moderately high suspicion · FNA recommended (C-TR4C: FNA if > 1 cm)');
    expect(await cometRow.getByTestId('field-mark').textContent()).toBe('Reader');
    expect(await report.pending()).toBe('Every field confirmed.');
    expect(await page.getByTestId('overall-level').textContent()).toBe('From the nodules: C-TR4C (C-TIRADS), ACR TR5 (the most suspicious one).');
    // A proven malignancy is C-TIRADS 6 whatever the features; unticked again, the count decides.
    await block.locator('input[data-item="provenMalignant"]').check();
    expect(await report.score(0)).toMatch(/^4 features · C-TR6, proven malignant/);
    await block.locator('input[data-item="provenMalignant"]').uncheck();
    expect(await report.score(0)).toMatch(/^4 features · C-TR4C/);
    await block.screenshot({ path: screenshotPath('ctirads-nodule.png') });

    const signed = await report.sign(reader.password);
    expect(signed.levels).toEqual(['TR5']);
    const nodule = page.locator('[data-testid="signed-report"][data-version="1"] [data-testid="signed-nodule"]');
    expect(await nodule.getAttribute('data-ctirads')).toBe('C-TR4C');
    expect(await nodule.getByTestId('signed-ctirads').isVisible()).toBe(true);
    expect(signed.text).toContain('Comet-tail artefacts: absent');
    expect(signed.text).toContain('C-TR4C');
    await page.screenshot({ path: screenshotPath('ctirads-signed.png'), fullPage: true });
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);
});
