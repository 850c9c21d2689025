import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { REPO_ROOT } from '../../support/processes';

/** Debian's chromium (npx playwright install cannot run here); null when it is not installed. */
export const CHROMIUM = '/usr/bin/chromium';

export function chromiumMissing(): string | null {
  return fs.existsSync(CHROMIUM) ? null : `${CHROMIUM} not installed (apt-get install chromium)`;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
}

export const DESKTOP = { width: 1280, height: 860 };
export const PHONE = { width: 390, height: 844 };

/**
 * A fresh browser context and page. `locale` is the browser's language (navigator.language, Accept-Language):
 * stated, so that the web app's language never depends on the machine's locale; tests that read the English
 * texts keep en-US.
 */
export async function newPage(browser: Browser, viewport: { width: number; height: number }, phone = false, locale = 'en-US'): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport, acceptDownloads: true, locale, ...(phone ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}) });
  context.setDefaultTimeout(30_000);
  const page = await context.newPage();
  // Uncaught errors in the page are collected; each test expects none.
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  return { context, page, errors };
}

/** Screenshots for a person to look at; under .data/ (ignored by git). */
export function screenshotPath(name: string): string {
  const dir = path.join(REPO_ROOT, '.data', 'e2e');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, name);
}
