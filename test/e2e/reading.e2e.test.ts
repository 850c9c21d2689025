import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeInstance, makeStudy, newUid } from '@yunying/dicom/testing';
import type { Browser } from 'playwright-core';
import { describeUnless } from '../support/skip';
import { startSystem, stow, type RunningSystem } from '../support/system';
import { nodulePattern, settledResult, shippedManifest, type ResultRow } from '../triage/triage.support';
import { AuditConsole } from './pages/audit.page';
import { chromiumMissing, DESKTOP, launchBrowser, newPage, PHONE, screenshotPath } from './pages/browser';
import { ClinicStudiesPage } from './pages/clinic.page';
import { QueuePage } from './pages/queue.page';
import { SignInPage } from './pages/sign-in.page';
import { UploadPage } from './pages/upload.page';
import { ViewerPage } from './pages/viewer.page';

const CINE_FRAMES = 12;

/**
 * A multi-frame ultrasound study (a dark nodule drifting across a speckled cine loop), calibrated by its
 * US region. Like most machines' output it names no body part, so the model's image gate decides that it
 * is a thyroid ultrasound; the served model finds its nodule candidate (checked by the triage below).
 */
function cineStudy(studyDate = '20240614'): { studyUid: string; files: Buffer[] } {
  const studyUid = newUid();
  const file = makeInstance({
    studyInstanceUid: studyUid,
    frames: CINE_FRAMES,
    rows: 120,
    columns: 160,
    sequenceOfUltrasoundRegions: true,
    studyDescription: '',
    seriesDescription: '',
    pixelPattern: nodulePattern(60, 65, 20, 14, { frameShift: 3 }),
    charset: 'ISO_IR 192',
    patientName: 'Wang^Fang=王^芳',
    patientId: 'HC-000123',
    birthDate: '19800615',
    studyDate,
    accessionNumber: 'A-778',
    extra: { IssuerOfPatientID: 'HC-CHAIN', BodyPartExamined: null },
  });
  return { studyUid, files: [file] };
}

/** The part of a scored image entry (services/inference/src/triage/result.ts) the AI panel shows. */
interface TopImage {
  frameNumber: number;
  score: number;
  nodules: { trLevel: string; tiradsPoints: number }[];
}

/** As the AI panel writes a score (services/viewer/web/src/viewer/ai-panel.ts). */
const percent = (score: number): string => `${(score * 100).toFixed(0)}%`;

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
  let desktopResult: ResultRow | undefined;

  beforeAll(async () => {
    // The real triage: a one-second quiet period, one study at a time (as on a small machine).
    system = await startSystem({ env: { TRIAGE_QUIET_SECONDS: '1', TRIAGE_CONCURRENCY: '1' } });
    viewerUrl = system.urls.viewer ?? '';
    const apiKey = system.credentials.apiKey?.key ?? '';
    const first = cineStudy();
    const second = cineStudy();
    // Last year's visit of the same client (same PatientID and issuer): the prior opened beside the others.
    const lastYear = cineStudy('20230612');
    desktopStudy = first.studyUid;
    phoneStudy = second.studyUid;
    for (const study of [first, second, lastYear]) expect((await stow(system.urls.ingest ?? '', apiKey, study.files, study.studyUid)).status).toBe(200);
    // All three triaged before the browser starts: the queue order and the AI panel are then final, and
    // the model's CPU time does not overlap the page's cine timing.
    [desktopResult] = await Promise.all([first, second, lastYear].map((study) => settledResult(system.pool, study.studyUid)));
    browser = await launchBrowser();
  }, 420_000);

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

    // What the served model wrote for this study: in scope by its image gate, a nodule found.
    const ai = desktopResult;
    if (!ai) throw new Error('no triage result');
    expect(ai.status).toBe('triaged');
    expect(ai.model_sha256).toBe(shippedManifest().sha256);
    expect(ai.gate).toMatchObject({ decidedBy: 'image' });
    const top = ai.images[0] as unknown as TopImage;
    expect(top.nodules.length).toBeGreaterThan(0);

    const queue = new QueuePage(page);
    await queue.waitForLoaded();
    expect(await queue.priorityOf(desktopStudy)).toBe(ai.priority);
    expect(await queue.thumbnailLoaded(desktopStudy)).toBe(true);
    await queue.open(desktopStudy);

    const viewer = new ViewerPage(page);
    await viewer.waitForRenders(1);
    expect(await viewer.distinctCanvasValues()).toBeGreaterThan(8);
    // The AI panel shows the model's own output: model, study score, top image and frame, each nodule's TR level.
    expect(await viewer.aiModel()).toBe(`${ai.model_id} ${ai.model_version}`);
    expect(await viewer.aiScore()).toBe(percent(ai.score ?? -1));
    expect(await viewer.aiTopImage()).toMatch(new RegExp(`^Image 1, frame ${top.frameNumber}: ${percent(top.score)}`));
    expect(await viewer.aiNoduleLevels()).toEqual(top.nodules.map((n) => `${n.trLevel} (${n.tiradsPoints} points)`));
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
      expect(await viewer.jumpToMostSuspicious()).toBe(`Frame ${top.frameNumber} / 12`);
    }

    // Jump to the most suspicious image (J): the frame the model named; then measure there.
    expect(await viewer.jumpToMostSuspicious()).toBe(`Frame ${top.frameNumber} / 12`);
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

    const signed = await viewer.writeAndSign('Solid hypoechoic nodule in the right lobe, 6 mm.', 'TI-RADS 3; follow-up in one year.', reader.password);
    expect(signed).toContain('TI-RADS 3; follow-up in one year.');
    // A correction after signing is an addendum: signed as it is added, listed under the report.
    const versions = await viewer.addAddendum('Second nodule in the left lobe, 4 mm, not in the first report.', 'Addendum: follow-up unchanged.', reader.password);
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
    const reader = password(system, 'radiologist');
    // The viewer's code (cornerstone and its tools) is its own chunk: the sign-in page does not load it; a
    // radiologist's browser fetches it once signed in, and it is cached for a year (content-named).
    const scripts: { url: string; bytes: number; cacheControl: string }[] = [];
    const bodies: Promise<unknown>[] = [];
    page.on('response', (res) => {
      if (res.request().resourceType() !== 'script') return;
      const entry = { url: new URL(res.url()).pathname, bytes: 0, cacheControl: res.headers()['cache-control'] ?? '' };
      scripts.push(entry);
      bodies.push(res.body().then((b) => (entry.bytes = b.length), () => undefined));
    });
    const signIn = new SignInPage(page);
    await signIn.open(viewerUrl);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await Promise.all(bodies);
    const signInScripts = scripts.slice();
    expect(signInScripts.map((s) => s.url)).toContain('/assets/app.js');
    expect(signInScripts.filter((s) => s.url.includes('viewer.page'))).toEqual([]);
    await signIn.signIn(reader.username, reader.password);
    const queue = new QueuePage(page);
    await queue.waitForLoaded();
    await queue.open(phoneStudy);
    const viewer = new ViewerPage(page);
    await viewer.waitForRenders(1);
    expect(await viewer.distinctCanvasValues()).toBeGreaterThan(8);
    await Promise.all(bodies);
    const viewerChunk = scripts.find((s) => /^\/assets\/chunks\/viewer\.page-[A-Z0-9]+\.js$/.test(s.url));
    const toolsChunk = scripts.find((s) => /^\/assets\/chunks\/viewport-tools-[A-Z0-9]+\.js$/.test(s.url));
    expect(viewerChunk).toBeDefined();
    // The reading tools too (their own chunk, asked for ahead while the queue is on screen).
    expect(toolsChunk).toBeDefined();
    // Named by content, so kept for a year; app.js keeps its name and is revalidated.
    expect(viewerChunk?.cacheControl).toMatch(/max-age=31536000.*immutable/);
    expect(toolsChunk?.cacheControl).toMatch(/max-age=31536000.*immutable/);
    expect(scripts.find((s) => s.url === '/assets/app.js')?.cacheControl).toMatch(/max-age=0/);
    // The sign-in page loads under a third of the viewer's code.
    expect(signInScripts.reduce((n, s) => n + s.bytes, 0) * 3).toBeLessThan((viewerChunk?.bytes ?? 0) + (toolsChunk?.bytes ?? 0));
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

  test('a study opened by its address: its first reads leave before the viewer code is asked for, the first image before it has run, the tools after it, once each', async () => {
    const { context, page, errors } = await newPage(browser, DESKTOP);
    const reader = password(system, 'radiologist');
    const signIn = new SignInPage(page);
    await signIn.open(viewerUrl);
    await signIn.signIn(reader.username, reader.password);
    await new QueuePage(page).waitForLoaded();
    // A reload, a link from elsewhere, a study opened in a new tab: the app starts from the address.
    const direct = await context.newPage();
    direct.on('pageerror', (error) => errors.push(error.message));
    await ViewerPage.installRenderCounter(direct);
    const asked: string[] = [];
    direct.on('request', (req) => asked.push(new URL(req.url()).pathname));
    direct.on('response', (res) => {
      if (new URL(res.url()).pathname === '/api/auth/me') asked.push('(me answered)');
    });
    // The viewer's code held back (a slow phone, a busy machine): what follows from the first answers must not wait for it.
    const chunkPattern = /\/assets\/chunks\/viewer\.page-[A-Z0-9]+\.js$/;
    let releaseChunk = (): void => undefined;
    const chunkHeld = new Promise<void>((resolve) => (releaseChunk = resolve));
    await direct.route(chunkPattern, async (route) => {
      await chunkHeld;
      await route.continue();
    });
    const study = `/dicomweb/studies/${phoneStudy}`;
    const framePattern = new RegExp(`^${study.replace(/\./g, '\\.')}/series/[0-9.]+/instances/[0-9.]+/frames/\\d+$`);
    // The reading tools' code held back too: frames are still stepped through before it arrives.
    const toolsPattern = /\/assets\/chunks\/viewport-tools-[A-Z0-9]+\.js$/;
    let releaseTools = (): void => undefined;
    const toolsHeld = new Promise<void>((resolve) => (releaseTools = resolve));
    await direct.route(toolsPattern, async (route) => {
      await toolsHeld;
      await route.continue();
    });
    const firstFrame = direct.waitForRequest((req) => framePattern.test(new URL(req.url()).pathname), { timeout: 30_000 });
    await direct.goto(`${viewerUrl}/read/${phoneStudy}`, { waitUntil: 'commit' });
    await firstFrame;
    asked.push('(viewer code released)');
    releaseChunk();
    const viewer = new ViewerPage(direct);
    await viewer.waitForRenders(1);
    await viewer.waitForFrame(1);
    // The wheel while the tools' code is still held: each step drawn at once, stopping at the first frame as the tool does.
    const viewport = direct.getByTestId('viewport');
    expect(await viewport.getAttribute('data-tools')).toBeNull();
    expect(await direct.evaluate(`getComputedStyle(document.querySelector('[data-testid="viewport"]')).cursor`)).toBe('progress');
    await viewport.hover();
    await direct.mouse.wheel(0, 100);
    await viewer.waitForFrame(2);
    await direct.mouse.wheel(0, -100);
    await viewer.waitForFrame(1);
    await direct.mouse.wheel(0, -100);
    await direct.mouse.wheel(0, 100);
    await direct.mouse.wheel(0, 100);
    await viewer.waitForFrame(3);
    expect(await viewport.getAttribute('data-tools')).toBeNull();
    releaseTools();
    await viewer.toolsReady();
    // The tools' stack scroll takes over from the frame drawn without it, not from the first.
    await direct.mouse.wheel(0, 100);
    await viewer.waitForFrame(4);
    const api = `/api/studies/${phoneStudy}`;
    const firstReads = [`${study}/series`, `${api}/ai`, `${api}/report`, `${api}/key-images`, `${api}/banner`];
    const chunk = asked.findIndex((p) => chunkPattern.test(p));
    const released = asked.indexOf('(viewer code released)');
    expect(chunk).toBeGreaterThan(-1);
    // Started while the viewer's code loads, not after it has run; and, this browser's last user being a
    // radiologist, while /api/auth/me is still in flight (one round trip sooner).
    expect(firstReads.map((path) => asked.indexOf(path) < chunk)).toEqual([true, true, true, true, true]);
    expect(firstReads.map((path) => asked.indexOf(path) < asked.indexOf('(me answered)'))).toEqual([true, true, true, true, true]);
    // Then the shown series' metadata and instance list, and its first frame, before the viewer's code had run.
    const early = asked.slice(0, released);
    const metadata = early.filter((p) => new RegExp(`^${study}/series/[0-9.]+/metadata$`).test(p));
    const instances = early.filter((p) => new RegExp(`^${study}/series/[0-9.]+/instances$`).test(p));
    const frames = early.filter((p) => framePattern.test(p));
    expect([metadata.length, instances.length, frames.length]).toEqual([1, 1, 1]);
    // Each once: the viewer takes the answers started for it instead of asking (and being audited) again.
    expect([...firstReads, metadata[0], instances[0], frames[0]].map((path) => asked.filter((p) => p === path).length)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    // The reading tools' code is asked for only once the first frame is in (drawn without it), and arrives.
    const tools = asked.findIndex((p) => toolsPattern.test(p));
    expect(tools).toBeGreaterThan(asked.indexOf(frames[0] ?? ''));
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);

  test('a study address opened by a clinic user on a browser whose last user read studies: not found, nothing shown, the hint replaced', async () => {
    const { context, page, errors } = await newPage(browser, DESKTOP);
    const clinic = password(system, 'clinic');
    const signIn = new SignInPage(page);
    await signIn.open(viewerUrl);
    await signIn.signIn(clinic.username, clinic.password);
    await page.getByRole('heading', { level: 1 }).first().waitFor();
    // The shared workstation's last user was a radiologist (what the app remembers: the role, nothing else).
    await page.evaluate("localStorage.setItem('yunying.lastRole', 'radiologist')");
    await page.goto(`${viewerUrl}/read/${phoneStudy}`);
    await page.getByRole('heading', { name: 'Not found' }).waitFor();
    expect(await page.getByTestId('viewport').count()).toBe(0);
    expect(await page.evaluate("localStorage.getItem('yunying.lastRole')")).toBe('clinic');
    // Signing out forgets it.
    await page.getByTestId('sign-out').click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(await page.evaluate("localStorage.getItem('yunying.lastRole')")).toBeNull();
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);
});
