import path from 'node:path';
import { newUid } from '@yunying/dicom/testing';
import { describeUnless, sharedDataDir } from '../support/skip';
import { stow } from '../support/system';
import { frameInstance, settledResult } from '../triage/triage.support';
import { DESKTOP, newPage, screenshotPath } from './pages/browser';
import { OhifDerivedObjects } from './pages/ohif-ai.page';
import { OhifPage } from './pages/ohif.page';
import { ohifMissing, startOhifWorld, type OhifWorld } from './ohif/ohif-world';

interface ScoredImage {
  status: string;
  nodules: { outline: [number, number][] }[];
}

const ddti = sharedDataDir('thyroid/ddti-frames');

/**
 * #15 "AI results as standard objects", seen by a reader in OHIF (its npm dist on its own origin, signed
 * in through Yunying's OIDC provider): a real triage run on a whole DDTI frame writes the nodule SEG and the
 * TID 1500 report; OHIF loads the SEG as an overlay (its green is read back from the canvas, where the
 * grey frame has none, in the shape of the outline the result stores) and tracks the report's nodule into
 * its measurements panel.
 */
describeUnless(ohifMissing() ?? (ddti ? null : 'shared data folder thyroid/ddti-frames is absent'), 'OHIF shows the AI SEG and TID 1500 report', () => {
  let world: OhifWorld;
  const studyUid = newUid();
  let outlineAspect = 0;

  beforeAll(async () => {
    world = await startOhifWorld({ env: { TRIAGE_QUIET_SECONDS: '1', TRIAGE_CONCURRENCY: '1' } });
    const file = await frameInstance(path.join(ddti ?? '', 'images/296_1.jpg'), { studyInstanceUid: studyUid, studyDescription: 'Thyroid AI', patientName: 'Ai^Ohif', patientId: 'OHIF-AI' });
    expect((await stow(world.system.urls.ingest ?? '', world.system.credentials.apiKey?.key ?? '', [file], studyUid)).status).toBe(200);
    const result = await settledResult(world.system.pool, studyUid, 1);
    expect(result.status).toBe('triaged');
    const scored = (result.images as unknown as ScoredImage[]).find((i) => i.status === 'scored');
    const outline = scored?.nodules[0]?.outline ?? [];
    const xs = outline.map((p) => p[0]);
    const ys = outline.map((p) => p[1]);
    outlineAspect = (Math.max(...xs) - Math.min(...xs)) / (Math.max(...ys) - Math.min(...ys));
  }, 300_000);

  afterAll(async () => {
    await world?.stop();
  });

  it('draws the SEG over the frame in its colour and lists the report’s nodule in the measurements panel', async () => {
    const { context, page } = await newPage(world.browser, DESKTOP);
    const ohif = new OhifPage(page, world.ohifUrl);
    const objects = new OhifDerivedObjects(page);
    try {
      const reader = world.user('radiologist');
      await ohif.signIn(reader.username, reader.password);
      await ohif.openStudy(studyUid);
      await ohif.viewportPixels();
      await objects.dismissTour();
      // The grey ultrasound frame alone: no green.
      const before = await objects.greenArea(0);
      expect(before.pixels).toBeLessThan(50);

      await objects.openSeries('SEG');
      await objects.acceptLoad();
      const overlay = await objects.greenArea(2000);
      await page.screenshot({ path: screenshotPath('ohif-ai-seg.png') });
      // Drawn where the outline is, in its shape: the canvas scales both axes alike.
      expect(overlay.width / overlay.height).toBeGreaterThan(outlineAspect * 0.85);
      expect(overlay.width / overlay.height).toBeLessThan(outlineAspect * 1.15);
      // A filled region, not only a contour.
      expect(overlay.pixels).toBeGreaterThan(0.3 * overlay.width * overlay.height);

      await objects.openSeries('SR');
      await objects.acceptLoad();
      const panel = await objects.measurementsPanelText();
      await page.screenshot({ path: screenshotPath('ohif-ai-sr.png') });
      // One tracked measurement: the report's finding and finding site, and the area OHIF computes on its outline.
      expect(panel).toMatch(/Measurements \(1\)/);
      expect(panel).toMatch(/Nodule/);
      expect(panel).toMatch(/Thyroid structure/);
      expect(panel).toMatch(/\d+ mm²/);
      await ohif.expectNoErrorScreen();
    } finally {
      await context.close();
    }
  }, 300_000);
});
