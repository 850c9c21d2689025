import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { makeStudy, newUid } from '@yunying/dicom/testing';
import type { Browser } from 'playwright-core';
import { describeUnless } from '../support/skip';
import { freePort, REPO_ROOT } from '../support/processes';
import { startSystem, stow, type RunningSystem } from '../support/system';
import { nodulePattern } from '../triage/triage.support';
import { chromiumMissing, DESKTOP, launchBrowser, newPage, screenshotPath } from './pages/browser';
import { OhifPage } from './pages/ohif.page';

/**
 * OHIF as a hospital runs it (#15): the built viewer of the npm package `@ohif/app` served from its own
 * origin, configured with Yunying's one DICOMweb base URL and the embedded OpenID Connect provider, driven
 * in Debian Chromium. Signs in through Yunying's login page (code + PKCE), sees the study list, opens a US
 * study and checks the drawn pixels, not only the absence of an error.
 */
const OHIF_VERSION = '3.13.2';

/** OHIF_DIST, else the dist that test/e2e/ohif/fetch-ohif.sh unpacked (pinned version and checksum). */
function ohifDist(): string | null {
  const dir = process.env.OHIF_DIST ?? path.join(REPO_ROOT, '.data', 'ohif', OHIF_VERSION, 'package', 'dist');
  return fs.existsSync(path.join(dir, 'index.html')) ? dir : null;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

/** OHIF's dist as a static single-page app (unknown paths -> index.html), with our app-config.js. */
function serveOhif(dist: string, port: number, appConfig: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (pathname === '/app-config.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(appConfig);
      return;
    }
    // No service worker: it would cache across runs and outlive the test's origin.
    if (pathname === '/sw.js' || pathname === '/init-service-worker.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end('');
      return;
    }
    const file = path.join(dist, path.normalize(pathname).replace(/^(\.\.[/\\])+/, ''));
    const target = file.startsWith(dist) && fs.existsSync(file) && fs.statSync(file).isFile() ? file : path.join(dist, 'index.html');
    res.writeHead(200, { 'content-type': TYPES[path.extname(target)] ?? 'application/octet-stream' });
    fs.createReadStream(target).pipe(res);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

function appConfig(viewerUrl: string, issuer: string): string {
  const root = `${viewerUrl}/dicomweb`;
  const config = {
    routerBasename: '/',
    extensions: [],
    modes: [],
    showStudyList: true,
    // Headless Chromium without a GPU: cornerstone's CPU rendering, no modal about it.
    showCPUFallbackMessage: false,
    showWarningMessageForCrossOrigin: false,
    maxNumberOfWebWorkers: 1,
    defaultDataSourceName: 'yunying',
    dataSources: [
      {
        namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
        sourceName: 'yunying',
        configuration: {
          friendlyName: 'Yunying',
          name: 'yunying',
          wadoUriRoot: root,
          qidoRoot: root,
          wadoRoot: root,
          qidoSupportsIncludeField: false,
          imageRendering: 'wadors',
          thumbnailRendering: 'wadors',
          enableStudyLazyLoad: true,
          supportsFuzzyMatching: false,
          supportsWildcard: true,
          omitQuotationForMultipartRequest: true,
          bulkDataURI: { enabled: true },
        },
      },
    ],
    oidc: [
      {
        authority: issuer,
        client_id: 'ohif',
        redirect_uri: '/callback',
        response_type: 'code',
        scope: 'openid profile offline_access',
        post_logout_redirect_uri: '/',
      },
    ],
  };
  return `window.config = ${JSON.stringify(config)};\n`;
}

const dist = ohifDist();
const missing = chromiumMissing() ?? (dist === null ? `OHIF ${OHIF_VERSION} is not unpacked (bash test/e2e/ohif/fetch-ohif.sh)` : null);

describeUnless(missing, 'OHIF against Yunying (own origin, OIDC)', () => {
  let system: RunningSystem;
  let ohif: http.Server;
  let ohifUrl: string;
  let browser: Browser;
  const studyUid = newUid();

  beforeAll(async () => {
    const port = await freePort();
    ohifUrl = `http://127.0.0.1:${port}`;
    system = await startSystem({
      env: {
        CORS_ORIGINS: ohifUrl,
        OIDC_CLIENTS: JSON.stringify([{ client_id: 'ohif', redirect_uris: [`${ohifUrl}/callback`], post_logout_redirect_uris: [`${ohifUrl}/`] }]),
      },
    });
    const viewerUrl = system.urls.viewer ?? '';
    ohif = await serveOhif(dist ?? '', port, appConfig(viewerUrl, `${viewerUrl}/oidc`));
    const apiKey = system.credentials.apiKey?.key ?? '';
    const { files } = makeStudy(1, { studyInstanceUid: studyUid, rows: 120, columns: 160, studyDescription: 'Thyroid US', patientName: 'Ohif^Test', patientId: 'OHIF-1', modality: 'US', pixelPattern: nodulePattern(60, 80, 22, 16) });
    const stored = await stow(system.urls.ingest ?? '', apiKey, files, studyUid);
    expect(stored.status).toBe(200);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => (ohif ? ohif.close(r) : r(undefined)));
    await system?.stop();
  });

  it('signs in through the embedded OIDC provider, lists the study, opens it and draws its pixels', async () => {
    const radiologist = system.credentials.users.find((u) => u.role === 'radiologist');
    if (!radiologist) throw new Error('no demo radiologist');
    const { context, page } = await newPage(browser, DESKTOP);
    const ohifPage = new OhifPage(page, ohifUrl);
    try {
      await ohifPage.signIn(radiologist.username, radiologist.password);
      await ohifPage.expectStudyListed('Thyroid US');
      await ohifPage.openStudy(studyUid);
      const stats = await ohifPage.viewportPixels();
      await page.screenshot({ path: screenshotPath('ohif-us.png') });
      // A drawn ultrasound frame: many grey levels, not a blank, black or uniform canvas, no error screen.
      expect(stats.distinct).toBeGreaterThan(16);
      expect(stats.max - stats.min).toBeGreaterThan(64);
      await ohifPage.expectNoErrorScreen();
    } finally {
      await context.close();
    }
  });
});
