import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { freePort, REPO_ROOT } from '../../support/processes';
import { startSystem, type RunningSystem } from '../../support/system';
import { chromiumMissing, launchBrowser } from '../pages/browser';

/**
 * OHIF as a hospital runs it (#15), shared by the OHIF e2e tests: the built viewer of the npm package
 * `@ohif/app` served from its own origin, configured with Yunying's one DICOMweb base URL and the embedded
 * OpenID Connect provider, a running Yunying that allows that origin (CORS_ORIGINS, OIDC_CLIENTS), and
 * Debian Chromium. `startOhifWorld()` in beforeAll, `world.stop()` in afterAll; drive it with OhifPage.
 */
export const OHIF_VERSION = '3.13.2';
export const OHIF_CLIENT_ID = 'ohif';

/** OHIF_DIST, else the dist that test/e2e/ohif/fetch-ohif.sh unpacked (pinned version and checksum). */
export function ohifDist(): string | null {
  const dir = process.env.OHIF_DIST ?? path.join(REPO_ROOT, '.data', 'ohif', OHIF_VERSION, 'package', 'dist');
  return fs.existsSync(path.join(dir, 'index.html')) ? dir : null;
}

/** Why the OHIF e2e tests cannot run here (for describeUnless), or null. */
export function ohifMissing(): string | null {
  return chromiumMissing() ?? (ohifDist() === null ? `OHIF ${OHIF_VERSION} is not unpacked (bash test/e2e/ohif/fetch-ohif.sh)` : null);
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

/** OHIF's window.config: one data source on Yunying's /dicomweb, one OIDC client on the embedded provider. */
export function ohifAppConfig(viewerUrl: string, issuer: string, oidcExtra: Record<string, unknown> = {}): string {
  const root = `${viewerUrl}/dicomweb`;
  const config = {
    routerBasename: '/',
    extensions: [],
    modes: [],
    showStudyList: true,
    // Headless Chromium without a GPU: cornerstone's CPU rendering, no modal about it.
    showCPUFallbackMessage: false,
    showWarningMessageForCrossOrigin: false,
    // Its "investigational use" banner covers the bottom of the viewer; a site acknowledges it once.
    investigationalUseDialog: { option: 'never' },
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
        client_id: OHIF_CLIENT_ID,
        redirect_uri: '/callback',
        response_type: 'code',
        scope: 'openid profile offline_access',
        post_logout_redirect_uri: '/',
        ...oidcExtra,
      },
    ],
  };
  return `window.config = ${JSON.stringify(config)};\n`;
}

export interface OhifWorldOptions {
  /** More environment for Yunying (e.g. ACCESS_TOKEN_TTL_SECONDS). */
  env?: Record<string, string>;
  /** More settings of OHIF's OIDC client (oidc-client-ts UserManager settings). */
  oidc?: Record<string, unknown>;
}

export interface OhifWorld {
  system: RunningSystem;
  /** OHIF's own origin, e.g. http://127.0.0.1:41234 */
  ohifUrl: string;
  /** Yunying's public viewer URL (its /dicomweb and /oidc live there). */
  viewerUrl: string;
  issuer: string;
  browser: Browser;
  /** A demo user of the role (its password included). */
  user(role: string): { username: string; password: string };
  stop(): Promise<void>;
}

export async function startOhifWorld(options: OhifWorldOptions = {}): Promise<OhifWorld> {
  const dist = ohifDist();
  if (dist === null) throw new Error(ohifMissing() ?? 'OHIF dist missing');
  const port = await freePort();
  const ohifUrl = `http://127.0.0.1:${port}`;
  const system = await startSystem({
    env: {
      CORS_ORIGINS: ohifUrl,
      OIDC_CLIENTS: JSON.stringify([{ client_id: OHIF_CLIENT_ID, redirect_uris: [`${ohifUrl}/callback`], post_logout_redirect_uris: [`${ohifUrl}/`] }]),
      ...options.env,
    },
  });
  const viewerUrl = system.urls.viewer ?? '';
  const issuer = `${viewerUrl}/oidc`;
  const server = await serveOhif(dist, port, ohifAppConfig(viewerUrl, issuer, options.oidc));
  const browser = await launchBrowser();
  return {
    system,
    ohifUrl,
    viewerUrl,
    issuer,
    browser,
    user(role) {
      const found = system.credentials.users.find((u) => u.role === role);
      if (!found) throw new Error(`no demo ${role}`);
      return found;
    },
    async stop() {
      await browser.close();
      await new Promise((r) => server.close(r));
      await system.stop();
    },
  };
}
