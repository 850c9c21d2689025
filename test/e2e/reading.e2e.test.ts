import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeInstance, makeStudy, newUid } from '@yunying/dicom/testing';
import type { Browser } from 'playwright-core';
import { describeUnless } from '../support/skip';
import { startSystem, stow, type RunningSystem } from '../support/system';
import { nodulePattern, waitFor } from '../triage/triage.support';
import { AuditConsole } from './pages/audit.page';
import { chromiumMissing, DESKTOP, launchBrowser, newPage, PHONE, screenshotPath } from './pages/browser';
import { ClinicStudiesPage } from './pages/clinic.page';
import { QueuePage } from './pages/queue.page';
import { SignInPage } from './pages/sign-in.page';
import { UploadPage } from './pages/upload.page';
import { ViewerPage } from './pages/viewer.page';

const CINE_FRAMES = 12;

/** A multi-frame ultrasound study (a nodule drifting across a cine loop), calibrated by its US region. */
function cineStudy(studyDate = '20240614'): { studyUid: string; files: Buffer[] } {
  const studyUid = newUid();
  const file = makeInstance({
    studyInstanceUid: studyUid,
    frames: CINE_FRAMES,
    rows: 120,
    columns: 160,
    sequenceOfUltrasoundRegions: true,
    studyDescription: 'Thyroid US',
    pixelPattern: nodulePattern(60, 65, 20, 14, { frameShift: 3 }),
    charset: 'ISO_IR 192',
    patientName: 'Wang^Fang=王^芳',
    patientId: 'HC-000123',
    birthDate: '19800615',
    studyDate,
    accessionNumber: 'A-778',
    extra: { IssuerOfPatientID: 'HC-CHAIN' },
  });
  return { studyUid, files: [file] };
}

/**
 * The study's AI result: triage's own when it has run (the inference role is part of the system), else
 * one written as triage would write it (services/inference/src/triage/result.ts), so the test does not
 * depend on the model's timing on a loaded machine.
 */
async function ensureAiResult(system: RunningSystem, studyUid: string): Promise<void> {
  const triaged = await waitFor(
    'triage',
    async () => {
      const { rows } = await system.pool.query<{ triage_status: string }>('SELECT triage_status FROM studies WHERE study_instance_uid = $1', [studyUid]);
      const status = rows[0]?.triage_status;
      return status && status !== 'pending' ? status : undefined;
    },
    45_000,
    250,
  ).catch(() => 'pending');
  const { rows } = await system.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ai_results a JOIN studies s ON s.id = a.study_ref WHERE s.study_instance_uid = $1 AND a.status = 'triaged'`,
    [studyUid],
  );
  if (triaged === 'triaged' && (rows[0]?.n ?? 0) > 0) return;
  const { rows: study } = await system.pool.query<{ id: string; series: string; sop: string }>(
    `SELECT s.id::text, se.series_instance_uid AS series, i.sop_instance_uid AS sop
       FROM studies s JOIN series se ON se.study_ref = s.id JOIN instances i ON i.series_ref = se.id
      WHERE s.study_instance_uid = $1 LIMIT 1`,
    [studyUid],
  );
  const row = study[0];
  if (!row) throw new Error('uploaded study not in the catalog');
  const image = {
    status: 'scored',
    sopInstanceUid: row.sop,
    seriesInstanceUid: row.series,
    sopClassUid: '1.2.840.10008.5.1.4.1.1.3.1',
    score: 0.83,
    category: 'urgent',
    frameNumber: 4,
    numberOfFrames: CINE_FRAMES,
    rows: 120,
    columns: 160,
    box: { x: 49, y: 51, width: 40, height: 28 },
    outline: [[49, 65], [60, 51], [89, 55], [80, 79], [60, 79]],
    located: true,
    descriptors: [{ name: 'hypoechogenicity', tiradsFeature: 'echogenicity', value: 0.9, contribution: 0.4 }],
    frameScores: [{ frameNumber: 4, score: 0.83 }],
    inferenceMs: 1,
  };
  const inserted = await system.pool.query<{ id: string }>(
    `INSERT INTO ai_results (study_ref, model_id, model_version, model_sha256, instance_count, status, score, category, priority, images)
     VALUES ($1, 'thyroid-nodule', 'e2e-fixture', $2, 99, 'triaged', 0.83, 'urgent', 'urgent', $3) RETURNING id::text`,
    [row.id, 'a'.repeat(64), JSON.stringify([image])],
  );
  await system.pool.query(
    `UPDATE studies SET priority = 'urgent', triage_status = 'triaged', ai_result_ref = $2,
            reading_status = CASE WHEN reading_status = 'new' THEN 'triaged' ELSE reading_status END
      WHERE id = $1`,
    [row.id, inserted.rows[0]?.id],
  );
}

function password(system: RunningSystem, role: string): { username: string; password: string } {
  const user = system.credentials.users.find((u) => u.role === role);
  if (!user) throw new Error(`no demo ${role}`);
  return { username: user.username, password: user.password };
}

/**
 * Issue #6/#7 end to end in a real browser (Debian chromium via playwright-core) against the whole
 * system: the radiologist reads and signs, the clinic sees the report, the auditor checks copies and
 * access; and the reading path at a phone-sized viewport.
 */
describeUnless(chromiumMissing(), 'web app (e2e, chromium)', () => {
  let system: RunningSystem;
  let browser: Browser;
  let viewerUrl: string;
  let desktopStudy: string;
  let phoneStudy: string;

  beforeAll(async () => {
    system = await startSystem();
    viewerUrl = system.urls.viewer ?? '';
    const apiKey = system.credentials.apiKey?.key ?? '';
    const first = cineStudy();
    const second = cineStudy();
    // Last year's visit of the same client (same PatientID and issuer): the prior opened beside the others.
    const lastYear = cineStudy('20230612');
    desktopStudy = first.studyUid;
    phoneStudy = second.studyUid;
    for (const study of [first, second, lastYear]) expect((await stow(system.urls.ingest ?? '', apiKey, study.files, study.studyUid)).status).toBe(200);
    await ensureAiResult(system, desktopStudy);
    await ensureAiResult(system, phoneStudy);
    browser = await launchBrowser();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  test('radiologist: queue -> viewer renders -> cine -> measure in mm -> sign; clinic sees the signed report', async () => {
    const { context, page, errors } = await newPage(browser, DESKTOP);
    await ViewerPage.installRenderCounter(page);
    const signIn = new SignInPage(page);
    const reader = password(system, 'radiologist');
    await signIn.open(viewerUrl);
    await signIn.signIn(reader.username, reader.password);

    const queue = new QueuePage(page);
    await queue.waitForLoaded();
    expect(['urgent', 'priority', 'routine']).toContain(await queue.priorityOf(desktopStudy));
    expect(await queue.thumbnailLoaded(desktopStudy)).toBe(true);
    await queue.open(desktopStudy);

    const viewer = new ViewerPage(page);
    await viewer.waitForRenders(1);
    expect(await viewer.distinctCanvasValues()).toBeGreaterThan(8);
    expect(await viewer.aiModel()).toMatch(/\S+ \S+/);
    // The patient banner: identity as sent, on screen above the image; the report form repeats it.
    const banner = await viewer.banner();
    expect(banner.name).toBe('王芳 · Wang, Fang');
    expect(banner.charset).toBe('ISO_IR 192');
    expect(banner.id).toContain('HC-000123 (HC-CHAIN)');
    expect(banner.birth).toContain('1980-06-15 (43 y at study)');
    expect(banner.sex).toContain('Female');
    expect(banner.study).toContain('2024-06-14');
    expect(banner.accession).toContain('A-778');
    expect(banner.clinic).not.toContain('—');
    expect(banner.ai).toMatch(/^AI: /);
    expect(await viewer.reportPatient()).toContain('HC-000123 (HC-CHAIN)');
    expect(await viewer.bannerOnScreen()).toBe(true);
    await viewer.imageArea.screenshot({ path: screenshotPath('viewer-image-area.png') });

    // Last year's study of the same client opens beside the current one and steps with it.
    await viewer.waitForPriorRenders(1);
    expect(await viewer.priorLabel()).toMatch(/^Prior · 2023-06-12 · US/);
    expect(await viewer.priorBeside()).toBe(true);
    expect(await viewer.priorDistinctCanvasValues()).toBeGreaterThan(8);
    const [currentFrame, priorFrame] = await viewer.stepBoth();
    expect(priorFrame).toBe(currentFrame);
    await page.screenshot({ path: screenshotPath('viewer-with-prior.png'), fullPage: false });

    // Cine: frames advance on their own while playing.
    const before = await viewer.renderCount();
    await viewer.play();
    await viewer.waitForRenders(before + 6);
    await viewer.pause();
    const shown = new Set((await viewer.renderedIndices()).slice(before));
    expect(shown.size).toBeGreaterThanOrEqual(4);

    // J while the clip plays: a cine frame still loading when it stops must not replace the jump.
    for (let round = 0; round < 3; round += 1) {
      const rendered = await viewer.renderCount();
      await viewer.play();
      await viewer.waitForRenders(rendered + 3);
      expect(await viewer.jumpToMostSuspicious()).toMatch(/^Frame \d+ \/ 12$/);
    }

    // Jump to the most suspicious image (J), then measure there.
    expect(await viewer.jumpToMostSuspicious()).toMatch(/^Frame \d+ \/ 12$/);
    const measurement = await viewer.measureAcross();
    expect(measurement).toMatch(/Length \d+(\.\d)? mm/);
    // Reader-guided scoring: a box drawn on the frame comes back as ACR categories and a TR level.
    const read = await viewer.scoreBox();
    expect(read).toMatch(/Your box: TR[1-5] \(\d+ points\)/);
    expect(read).toContain('Composition');
    expect(read).toContain('Echogenic foci');
    // The evidence behind the categories: what was measured on the boxed region.
    expect(read).toContain('Measured on the image');
    expect(read).toMatch(/Echogenicity: nodule \d+% (darker|brighter) than the tissue around it/);

    const signed = await viewer.writeAndSign('Solid hypoechoic nodule in the right lobe, 6 mm.', 'TI-RADS 3; follow-up in one year.');
    expect(signed).toContain('TI-RADS 3; follow-up in one year.');
    // A correction after signing is an addendum: signed as it is added, listed under the report.
    const versions = await viewer.addAddendum('Second nodule in the left lobe, 4 mm, not in the first report.', 'Addendum: follow-up unchanged.');
    expect(versions).toHaveLength(2);
    expect(versions[0]).toContain('TI-RADS 3; follow-up in one year.');
    expect(versions[1]).toContain('Addendum 1');
    expect(versions[1]).toContain('Second nodule in the left lobe, 4 mm');
    await signIn.signOut();

    const clinic = password(system, 'clinic');
    await signIn.signIn(clinic.username, clinic.password);
    const studies = new ClinicStudiesPage(page);
    const seen = await studies.signedVersionsOf(desktopStudy, 2);
    expect(seen.status).toBe('Reported');
    expect(seen.versions.map((v) => [v.version, v.kind])).toEqual([
      [1, 'report'],
      [2, 'addendum'],
    ]);
    expect(seen.versions[0]?.text).toContain('Solid hypoechoic nodule in the right lobe, 6 mm.');
    expect(seen.versions[1]?.text).toContain('Second nodule in the left lobe, 4 mm');
    expect(errors).toEqual([]);
    await context.close();
  }, 180_000);

  test('clinic: upload files through the page (cross-origin STOW-RS, one 503 retried), per-file results, instances in the catalog', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-e2e-upload-'));
    const study = makeStudy(5, { rows: 64, columns: 64, studyDescription: 'Upload page e2e' });
    const files = study.files.map((buffer, i) => {
      const file = path.join(dir, `image-${i + 1}.dcm`);
      fs.writeFileSync(file, buffer);
      return file;
    });
    const notDicom = path.join(dir, 'notes.txt');
    fs.writeFileSync(notDicom, 'Referral letter, not an image.\n'.repeat(20));
    const truncated = path.join(dir, 'truncated.dcm');
    const whole = makeInstance({ rows: 64, columns: 64 });
    fs.writeFileSync(truncated, whole.subarray(0, Math.floor(whole.length * 0.6)));

    const { context, page, errors } = await newPage(browser, DESKTOP);
    // The first STOW-RS request answers 503 (the archive busy) with the CORS header the ingest would
    // send; the page must send the batch again. Later requests go to the real ingest service.
    const ingest = system.urls.ingest ?? '';
    const posts: number[] = [];
    await page.route(`${ingest}/dicomweb/studies`, async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      posts.push(posts.length + 1);
      if (posts.length === 1) {
        return route.fulfill({ status: 503, headers: { 'access-control-allow-origin': new URL(viewerUrl).origin, 'content-type': 'application/dicom+json' }, body: '{}' });
      }
      return route.continue();
    });
    const signIn = new SignInPage(page);
    const clinic = password(system, 'clinic');
    await signIn.open(viewerUrl);
    await signIn.signIn(clinic.username, clinic.password);
    const upload = new UploadPage(page);
    await upload.open();
    await upload.choose([...files, notDicom, truncated]);
    const summary = await upload.waitForDone();
    expect(summary).toContain('5 stored');
    expect(summary).toContain('2 rejected');
    expect(posts.length).toBe(2);

    const rows = await upload.rows();
    expect(rows.map((r) => r.file)).toEqual([...files.map((f) => path.basename(f)), 'notes.txt', 'truncated.dcm']);
    for (const row of rows) expect(row.progress).toBe(1);
    expect(await upload.totalProgress()).toBe(1);
    expect(rows.slice(0, 5).map((r) => r.state)).toEqual(Array(5).fill('stored'));
    for (const name of ['notes.txt', 'truncated.dcm']) {
      const row = rows.find((r) => r.file === name);
      expect(row?.state).toBe('rejected');
      // The ingest's reason for this very file (matched by its part number), not a code for the batch.
      expect(row?.result).toMatch(/^rejected: \S.{4,}/);
    }
    expect(await page.getByTestId('upload-row').first().getAttribute('data-attempts')).toBe('2');

    const { rows: stored } = await system.pool.query<{ sop: string }>(
      `SELECT i.sop_instance_uid AS sop FROM instances i JOIN series se ON se.id = i.series_ref JOIN studies s ON s.id = se.study_ref
        WHERE s.study_instance_uid = $1`,
      [study.studyInstanceUid],
    );
    expect(stored.map((r) => r.sop).sort()).toEqual([...study.sopInstanceUids].sort());
    expect(errors).toEqual([]);
    await context.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  test('auditor: retention 3/3, the radiologist’s access, chain verified, CSV exports', async () => {
    const { context, page, errors } = await newPage(browser, DESKTOP);
    const signIn = new SignInPage(page);
    const auditor = password(system, 'auditor');
    await signIn.open(viewerUrl);
    await signIn.signIn(auditor.username, auditor.password);

    const console = new AuditConsole(page);
    expect(await console.copiesOf(desktopStudy)).toBe('3/3');
    const retentionCsv = await console.download('retention-csv');
    expect(retentionCsv.split('\n')[0]).toContain('study_instance_uid');
    expect(retentionCsv).toContain(desktopStudy);

    await console.openAccessHistory();
    expect((await console.chainVerification()).ok).toBe('true');
    await console.searchByStudy(desktopStudy);
    const reader = password(system, 'radiologist');
    expect((await console.actorsIncluding(reader.username)).some((a) => a.includes(reader.username))).toBe(true);
    const eventsCsv = await console.download('events-csv');
    expect(eventsCsv.split('\n')[0]).toContain('actor_username');
    expect(eventsCsv).toContain(reader.username);
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);

  test('phone-sized screen: sign in, queue, the viewer renders', async () => {
    const { context, page, errors } = await newPage(browser, PHONE, true);
    await ViewerPage.installRenderCounter(page);
    const signIn = new SignInPage(page);
    const reader = password(system, 'radiologist');
    await signIn.open(viewerUrl);
    await signIn.signIn(reader.username, reader.password);
    const queue = new QueuePage(page);
    await queue.waitForLoaded();
    await queue.open(phoneStudy);
    const viewer = new ViewerPage(page);
    await viewer.waitForRenders(1);
    expect(await viewer.distinctCanvasValues()).toBeGreaterThan(8);
    // The banner is on screen when the viewer opens and stays there (sticky) when the reader scrolls
    // down to the report form, which repeats the name and ID.
    expect(await viewer.bannerOnScreen()).toBe(true);
    expect((await viewer.banner()).id).toContain('HC-000123');
    await page.getByTestId('report-patient').scrollIntoViewIfNeeded();
    expect(await viewer.reportPatient()).toContain('HC-000123');
    expect(await viewer.bannerOnScreen()).toBe(true);
    await page.screenshot({ path: screenshotPath('phone-viewer-report.png'), fullPage: false });
    await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
    // Panels stack under the image on a narrow screen.
    const image = await viewer.imageArea.boundingBox();
    const ai = await page.getByTestId('ai-panel').boundingBox();
    expect(image && ai && ai.y >= image.y + image.height).toBe(true);
    expect(image && image.width <= PHONE.width).toBe(true);
    await page.screenshot({ path: screenshotPath('phone-viewer.png'), fullPage: false });
    // On a phone the prior is not beside but instead: loaded when asked for, shown in the image's place.
    expect(await page.getByTestId('prior-area').isVisible()).toBe(false);
    await page.getByTestId('prior-toggle').click();
    await viewer.waitForPriorRenders(1);
    const prior = await page.getByTestId('prior-area').boundingBox();
    expect(prior && image && Math.abs(prior.x - image.x) < 2 && Math.abs(prior.y - image.y) < 2 && prior.width <= PHONE.width).toBe(true);
    expect(await viewer.priorDistinctCanvasValues()).toBeGreaterThan(8);
    await page.screenshot({ path: screenshotPath('phone-viewer-prior.png'), fullPage: false });
    await page.getByTestId('prior-toggle').click();
    expect(await page.getByTestId('prior-area').isVisible()).toBe(false);
    await viewer.backToQueue();
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);
});
