import fs from 'node:fs';
import type { APIRequestContext } from 'playwright-core';
import type { Args } from '../lib/args';
import { filesOf, type Corpus } from '../lib/corpus';
import { HttpClient, stowBody } from '../lib/http';
import type { Lab } from '../lib/lab';
import type { Table } from '../lib/report';
import { signInWithSecondFactor } from '../lib/second-factor';
import { latency, type Latency } from '../lib/stats';

/**
 * Viewer: time from opening a study in the browser (navigation to /read/<study>) to the first painted
 * image, i.e. the first `yunying:rendered` event the viewer dispatches on cornerstone's IMAGE_RENDERED,
 * read as performance.now() (milliseconds since the navigation started). Headless Chromium driven by
 * playwright-core, signed in as the radiologist; the first opening is cold (no cached assets), the rest
 * open the same study in a new tab of the same browser profile. `--viewer-cpu-slowdown N` slows the page's CPU N
 * times (Chromium's CPU throttling, as DevTools does to imitate a phone); the server is not slowed.
 * `--viewer-from-queue` measures the reader's usual path instead: the queue is opened and left on screen for 1.5 s
 * (the app fetches the viewer's code meanwhile), then the study's Read button is clicked; the time runs from the
 * click (the claim, then the viewer) to the first painted image.
 */
export interface ViewerResult {
  available: boolean;
  reason: string | null;
  coldMs: number | null;
  warm: Latency | null;
  /** Where the time went in the warm openings (medians, ms since navigation start). */
  phases: Record<string, number> | null;
  /** The page's CPU slowed this many times (1: not slowed). */
  cpuSlowdown: number;
  /** Measured from the queue's Read button (`--viewer-from-queue`) instead of a navigation to the study's address. */
  fromQueue: boolean;
  /**
   * Reader-guided scoring (#13: "in under a second"): POST /api/studies/{uid}/ai/nodules with a box on the study's
   * first instance, from the signed-in browser context, one at a time (the model, the descriptors, the stored and
   * audited result); null when it could not be measured.
   */
  readerBox: Latency | null;
}

interface Phases {
  domContentLoaded: number;
  firstApiRequestStart: number;
  /** The study's first five reads (series, AI result, report, key images, banner): the first to start, the last to end. */
  studyReadsStart: number;
  studyReadsEnd: number;
  firstPixelRequestStart: number;
  firstPixelResponseEnd: number;
  scriptBytes: number;
}

// Resource timings of the opening: when the app was ready, when it first asked the API, and when the
// first pixel data (WADO-RS frames/rendered/thumbnail) started and finished arriving.
const PHASES_EXPRESSION = `(function () {
  var nav = performance.getEntriesByType('navigation')[0];
  var res = performance.getEntriesByType('resource');
  var api = res.filter(function (r) { return r.name.indexOf('/api/') >= 0 || r.name.indexOf('/dicomweb/') >= 0; });
  var pix = res.filter(function (r) { return /[/](frames|rendered|thumbnail|bulkdata)/.test(r.name); });
  var js = res.filter(function (r) { return r.name.slice(-3) === '.js'; });
  var reads = res.filter(function (r) { return /[/]series$|[/]api[/]studies[/][0-9.]+[/](ai|report|key-images|banner)$/.test(r.name); });
  function max(xs, f) { return xs.length ? Math.max.apply(null, xs.map(f)) : -1; }
  function min(xs, f) { return xs.length ? Math.min.apply(null, xs.map(f)) : -1; }
  return JSON.stringify({
    domContentLoaded: nav ? nav.domContentLoadedEventEnd : -1,
    firstApiRequestStart: min(api, function (r) { return r.startTime; }),
    studyReadsStart: min(reads, function (r) { return r.startTime; }),
    studyReadsEnd: max(reads, function (r) { return r.responseEnd; }),
    firstPixelRequestStart: min(pix, function (r) { return r.startTime; }),
    firstPixelResponseEnd: min(pix, function (r) { return r.responseEnd; }),
    scriptBytes: js.reduce(function (n, r) { return n + (r.encodedBodySize || 0); }, 0)
  });
})()`;

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export async function runViewer(lab: Lab, corpus: Corpus, args: Args): Promise<ViewerResult> {
  const runs = args.number('viewer-runs', 10);
  const cpuSlowdown = args.number('viewer-cpu-slowdown', 1);
  const fromQueue = args.flag('viewer-from-queue');
  const empty = (reason: string): ViewerResult => ({ available: false, reason, coldMs: null, warm: null, phases: null, cpuSlowdown, fromQueue, readerBox: null });
  const executablePath = CHROMIUM.find((p) => fs.existsSync(p));
  if (!executablePath) return empty('no Chromium installed');
  const y = await lab.startYunying(['ingest', 'viewer']);
  try {
    const viewer = y.urls.viewer ?? '';
    const client = new HttpClient(1);
    const page = await client.request('GET', `${viewer}/read/1.2.3`, { accept: 'text/html' });
    if (page.status !== 200 || !page.body.toString().includes('<script')) return empty(`the web app is not served at /read/<study> (${page.status})`);
    const study = corpus.studies.find((s) => s.modality === 'US');
    if (!study || !y.radiologist) return empty('no US study in the corpus or no radiologist');
    const { body, contentType } = stowBody(filesOf(corpus, study));
    const stowed = await client.request('POST', `${y.urls.ingest ?? ''}/dicomweb/studies`, { 'content-type': contentType, accept: 'application/dicom+json', authorization: `ApiKey ${y.clinicKeys[study.clinic] ?? ''}` }, body);
    client.close();
    if (stowed.status !== 200) return empty(`STOW-RS answered ${stowed.status}`);
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
    try {
      // The app's CSP forbids eval; the probe's own expressions are evaluated by the test driver, not the app.
      const context = await browser.newContext({ bypassCSP: true });
      // Cookies of the browser context: the password, then (production mode) the one-time code step.
      try {
        await signInWithSecondFactor(
          async (data) => {
            const res = await context.request.post(`${viewer}/api/auth/sign-in`, { data });
            return { status: res.status(), body: (await res.json()) as unknown };
          },
          y.radiologist,
          'browser',
        );
      } catch (error) {
        return empty(`browser ${error instanceof Error ? error.message : 'sign-in failed'}`);
      }
      await context.addInitScript({
        content: `window.addEventListener('yunying:rendered', () => { if (window.__yyFirstPaint === undefined) window.__yyFirstPaint = performance.now(); });`,
      });
      const times: number[] = [];
      const phases: Phases[] = [];
      for (let i = 0; i <= runs; i += 1) {
        const tab = await context.newPage();
        if (cpuSlowdown > 1) await (await context.newCDPSession(tab)).send('Emulation.setCPUThrottlingRate', { rate: cpuSlowdown });
        let clickedAt = 0;
        if (fromQueue) {
          await tab.goto(`${viewer}/queue`);
          const read = tab.locator(`[data-testid="queue-item"][data-study-uid="${study.studyInstanceUid}"] [data-testid="open-study"]`);
          await read.waitFor({ timeout: 20_000 });
          await tab.waitForTimeout(1500);
          const before = await tab.evaluate('performance.now()');
          await read.click();
          clickedAt = typeof before === 'number' ? before : 0;
        } else {
          await tab.goto(`${viewer}/read/${study.studyInstanceUid}`);
        }
        try {
          await tab.waitForFunction('window.__yyFirstPaint !== undefined', undefined, { timeout: 20_000 });
        } catch (error) {
          const why = error instanceof Error ? error.message.split('\n')[0] ?? '' : String(error);
          return empty(`no yunying:rendered event within 20 s of opening the study (page ${tab.url()}; ${why})`);
        }
        const value = await tab.evaluate('window.__yyFirstPaint');
        if (typeof value === 'number') times.push(value - clickedAt);
        const measured = await tab.evaluate(PHASES_EXPRESSION);
        if (typeof measured === 'string' && i > 0 && !fromQueue) phases.push(JSON.parse(measured) as Phases);
        await tab.close();
      }
      const readerBox = await timeReaderBoxes(context.request, viewer, study.studyInstanceUid, runs);
      const [cold, ...warm] = times;
      const median = (f: (p: Phases) => number): number => latency(phases.map(f)).p50;
      return {
        available: true,
        reason: null,
        cpuSlowdown,
        fromQueue,
        readerBox,
        coldMs: cold ?? null,
        warm: latency(warm),
        phases: fromQueue
          ? null
          : {
              domContentLoaded: median((p) => p.domContentLoaded),
              firstApiRequestStart: median((p) => p.firstApiRequestStart),
              studyReadsStart: median((p) => p.studyReadsStart),
              studyReadsEnd: median((p) => p.studyReadsEnd),
              firstPixelRequestStart: median((p) => p.firstPixelRequestStart),
              firstPixelResponseEnd: median((p) => p.firstPixelResponseEnd),
              scriptBytes: median((p) => p.scriptBytes),
            },
      };
    } finally {
      await browser.close();
    }
  } finally {
    await y.stop();
  }
}

/** `runs` boxes scored one at a time on the middle quarter of the study's first instance (the viewer has claimed it). */
async function timeReaderBoxes(request: APIRequestContext, viewer: string, studyUid: string, runs: number): Promise<Latency | null> {
  const listed = await request.get(`${viewer}/dicomweb/studies/${studyUid}/instances?includefield=00280010,00280011`, { headers: { accept: 'application/dicom+json' } });
  if (listed.status() !== 200) return null;
  const first: unknown = ((await listed.json()) as unknown[])[0];
  const value = (tag: string): unknown => ((first as Record<string, { Value?: unknown[] } | undefined>)[tag]?.Value ?? [])[0];
  const [sop, rows, columns] = [value('00080018'), value('00280010'), value('00280011')];
  if (typeof sop !== 'string' || typeof rows !== 'number' || typeof columns !== 'number') return null;
  const box = { x: Math.round(columns * 0.375), y: Math.round(rows * 0.375), width: Math.round(columns / 4), height: Math.round(rows / 4) };
  const times: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const started = performance.now();
    const res = await request.post(`${viewer}/api/studies/${studyUid}/ai/nodules`, { data: { sopInstanceUid: sop, frameNumber: 1, box } });
    if (res.status() !== 201) return null;
    times.push(performance.now() - started);
  }
  return latency(times);
}

export function viewerTable(r: ViewerResult): Table {
  if (!r.available) return { title: 'Viewer', columns: ['measure', 'result'], rows: [['open study -> first painted image', `not available: ${r.reason ?? ''}`]] };
  return {
    title: `Viewer: open a study -> first painted image (ms, headless Chromium${r.cpuSlowdown > 1 ? `, page CPU slowed ${r.cpuSlowdown}x` : ''}; target < 300 ms)`,
    columns: ['measure', 'first (cold)', 'p50', 'p95', 'n'],
    rows: [
      [r.fromQueue ? 'Read in the queue -> first yunying:rendered' : 'open study -> first yunying:rendered', r.coldMs, r.warm?.p50 ?? null, r.warm?.p95 ?? null, r.warm?.n ?? 0],
      ...Object.entries(r.phases ?? {}).map(([k, v]): (string | number | null)[] => [`  median ${k}`, null, v, null, null]),
      ['reader-guided box -> score (POST .../ai/nodules; target < 1000 ms)', null, r.readerBox?.p50 ?? null, r.readerBox?.p95 ?? null, r.readerBox?.n ?? 0],
    ],
    notes: ['phases: ms since navigation start (scriptBytes: bytes of JavaScript transferred); -1 = no such request'],
  };
}
