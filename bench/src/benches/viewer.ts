import fs from 'node:fs';
import type { Args } from '../lib/args';
import { filesOf, type Corpus } from '../lib/corpus';
import { HttpClient, stowBody } from '../lib/http';
import type { Lab } from '../lib/lab';
import type { Table } from '../lib/report';
import { latency, type Latency } from '../lib/stats';

/**
 * Viewer: time from opening a study in the browser (navigation to /read/<study>) to the first painted
 * image, i.e. the first `yunying:rendered` event the viewer dispatches on cornerstone's IMAGE_RENDERED,
 * read as performance.now() (milliseconds since the navigation started). Headless Chromium driven by
 * playwright-core, signed in as the radiologist; the first opening is cold (no cached assets), the rest
 * open the same study in a new tab of the same browser profile.
 */
export interface ViewerResult {
  available: boolean;
  reason: string | null;
  coldMs: number | null;
  warm: Latency | null;
}

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export async function runViewer(lab: Lab, corpus: Corpus, args: Args): Promise<ViewerResult> {
  const runs = args.number('viewer-runs', 10);
  const empty = (reason: string): ViewerResult => ({ available: false, reason, coldMs: null, warm: null });
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
      const context = await browser.newContext();
      const signIn = await context.request.post(`${viewer}/api/auth/sign-in`, { data: { username: y.radiologist.username, password: y.radiologist.password } });
      if (!signIn.ok()) return empty(`browser sign-in answered ${signIn.status()}`);
      await context.addInitScript({
        content: `window.addEventListener('yunying:rendered', () => { if (window.__yyFirstPaint === undefined) window.__yyFirstPaint = performance.now(); });`,
      });
      const times: number[] = [];
      for (let i = 0; i <= runs; i += 1) {
        const tab = await context.newPage();
        await tab.goto(`${viewer}/read/${study.studyInstanceUid}`);
        try {
          await tab.waitForFunction('window.__yyFirstPaint !== undefined', undefined, { timeout: 20_000 });
        } catch {
          return empty('no yunying:rendered event within 20 s of opening the study');
        }
        const value = await tab.evaluate('window.__yyFirstPaint');
        if (typeof value === 'number') times.push(value);
        await tab.close();
      }
      const [cold, ...warm] = times;
      return { available: true, reason: null, coldMs: cold ?? null, warm: latency(warm) };
    } finally {
      await browser.close();
    }
  } finally {
    await y.stop();
  }
}

export function viewerTable(r: ViewerResult): Table {
  if (!r.available) return { title: 'Viewer', columns: ['measure', 'result'], rows: [['open study -> first painted image', `not available: ${r.reason ?? ''}`]] };
  return {
    title: 'Viewer: open a study -> first painted image (ms, headless Chromium; target < 300 ms)',
    columns: ['measure', 'first (cold)', 'p50', 'p95', 'n'],
    rows: [['open study -> first yunying:rendered', r.coldMs, r.warm?.p50 ?? null, r.warm?.p95 ?? null, r.warm?.n ?? 0]],
  };
}
