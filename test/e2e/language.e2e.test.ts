import { makeInstance, newUid } from '@yunying/dicom/testing';
import type { Browser, Page } from 'playwright-core';
import { describeUnless } from '../support/skip';
import { startSystem, stow, type RunningSystem } from '../support/system';
import { nodulePattern, noduleFrameStudy, settledResult } from '../triage/triage.support';
import { chromiumMissing, DESKTOP, launchBrowser, newPage, PHONE, screenshotPath } from './pages/browser';
import { ViewerPage } from './pages/viewer.page';

/** A breast ultrasound that says so in its attributes: the triage leaves it out with a reason. */
function breastStudy(): { studyUid: string; file: Buffer } {
  const studyUid = newUid();
  return { studyUid, file: makeInstance({ studyInstanceUid: studyUid, rows: 120, columns: 160, pixelPattern: nodulePattern(60, 65, 20, 14), patientName: 'Li^Na', patientId: 'HC-ZH-2', extra: { BodyPartExamined: 'BREAST' } }) };
}

function password(system: RunningSystem, role: string): { username: string; password: string } {
  const user = system.credentials.users.find((u) => u.role === role);
  if (!user) throw new Error(`no demo ${role}`);
  return { username: user.username, password: user.password };
}

/** The sign-in form by its fields' ids: the labels are in whichever language the page is in. */
async function signIn(page: Page, user: { username: string; password: string }): Promise<void> {
  await page.locator('#username').fill(user.username);
  await page.locator('#password').fill(user.password);
  await page.locator('form.sign-in button[type="submit"]').click();
  await page.getByTestId('sign-out').waitFor();
}

/**
 * Whether the page's own font draws these characters as distinct glyphs: with no face for them the browser
 * draws the same "missing glyph" box for each (tofu), so two different characters give the same pixels.
 */
async function drawsDistinctGlyphs(page: Page, selector: string, chars: string[]): Promise<boolean> {
  return page.evaluate(
    ({ selector: sel, chars: list }) => {
      // The test's TypeScript has no DOM library: the few browser calls used here, typed by hand.
      interface Context2d {
        font: string;
        fillStyle: string;
        fillText(text: string, x: number, y: number): void;
        getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> };
      }
      interface Canvas {
        width: number;
        height: number;
        getContext(kind: '2d'): Context2d | null;
      }
      const win = globalThis as unknown as {
        document: { querySelector(s: string): unknown; createElement(tag: 'canvas'): Canvas };
        getComputedStyle(el: unknown): { font: string };
      };
      const el = win.document.querySelector(sel);
      if (!el) throw new Error(`no ${sel}`);
      const font = win.getComputedStyle(el).font;
      const pixels = list.map((c) => {
        const canvas = win.document.createElement('canvas');
        canvas.width = 64;
        canvas.height = 64;
        const g = canvas.getContext('2d');
        if (!g) throw new Error('no 2d context');
        g.font = font;
        g.fillStyle = '#000';
        g.fillText(c, 4, 48);
        return Array.from(g.getImageData(0, 0, 64, 64).data).join(',');
      });
      return new Set(pixels).size === pixels.length;
    },
    { selector, chars },
  );
}

/** The page's <html lang> (the test's TypeScript has no DOM library: the one member used, typed by hand). */
function documentLanguage(page: Page): Promise<string> {
  return page.evaluate(() => (globalThis as unknown as { document: { documentElement: { lang: string } } }).document.documentElement.lang);
}

/** How wide the page's content is (a line of text that does not wrap makes it wider than the screen). */
function pageWidth(page: Page): Promise<number> {
  return page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth);
}

const PRIORITY_ZH: Record<string, string> = { urgent: '紧急', priority: '优先', routine: '常规' };

/**
 * The web app in Simplified Chinese: a browser set to Chinese gets it from the sign-in on, drawn in a CJK face
 * (not boxes); a patient name with PN component groups reads "王芳 · Wang, Fang"; the other language is one click
 * away and the choice is remembered by the browser.
 */
describeUnless(chromiumMissing(), 'web app in Chinese (e2e, chromium)', () => {
  let system: RunningSystem;
  let browser: Browser;
  let viewerUrl: string;
  let studyUid: string;
  let breastUid: string;

  beforeAll(async () => {
    system = await startSystem({ env: { TRIAGE_QUIET_SECONDS: '1', TRIAGE_CONCURRENCY: '1' } });
    viewerUrl = system.urls.viewer ?? '';
    // A patient with a Chinese name (PN component groups), on a frame the served model triages.
    const made = noduleFrameStudy({ patientName: 'Wang^Fang=王^芳', patientId: 'HC-ZH-1', charset: 'ISO_IR 192' });
    studyUid = made.studyUid;
    expect((await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', [made.file], studyUid)).status).toBe(200);
    const breast = breastStudy();
    breastUid = breast.studyUid;
    expect((await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', [breast.file], breastUid)).status).toBe(200);
    await Promise.all([settledResult(system.pool, studyUid), settledResult(system.pool, breastUid)]);
    browser = await launchBrowser();
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  test('a browser set to Chinese: sign-in, reading queue and viewer in Chinese; English one click away', async () => {
    const { context, page, errors } = await newPage(browser, DESKTOP, false, 'zh-CN');
    try {
      await page.goto(`${viewerUrl}/sign-in`);
      await page.locator('form.sign-in h1').waitFor();
      expect(await page.locator('form.sign-in h1').innerText()).toBe('登录');
      expect(await documentLanguage(page)).toBe('zh-Hans');
      expect(await page.getByTestId('language').innerText()).toBe('English');
      // The server's own message comes in the reader's language too (problem+json detail by Accept-Language).
      const reader = password(system, 'radiologist');
      await page.locator('#username').fill(reader.username);
      await page.locator('#password').fill(`${reader.password}-wrong`);
      await page.locator('form.sign-in button[type="submit"]').click();
      await page.locator('form.sign-in p.status[data-kind="error"]').waitFor();
      expect(await page.locator('form.sign-in p.status[data-kind="error"]').innerText()).toBe('用户名或密码错误');
      await signIn(page, reader);

      await page.waitForURL(/\/queue$/);
      const item = page.locator(`[data-testid="queue-item"][data-study-uid="${studyUid}"]`);
      await item.waitFor();
      expect(await page.locator('main h1').innerText()).toBe('阅片队列');
      expect(await page.title()).toBe('阅片队列 · 云影');
      expect(await page.locator('header nav').innerText()).toContain('阅片队列');
      expect(await page.getByTestId('who').innerText()).toContain('放射科医师');
      const badge = item.getByTestId('priority');
      expect(await badge.innerText()).toBe(PRIORITY_ZH[(await badge.getAttribute('data-priority')) ?? '']);
      const text = await item.innerText();
      expect(text).toContain('王芳 · Wang, Fang');
      expect(text).toMatch(/\d+ 幅图像/);
      expect(text).toMatch(/AI \d+% (紧急|需关注|常规)/);
      expect(text).toMatch(/已等待 \d+ (分钟|小时|天)/);
      expect(await item.getByTestId('open-study').innerText()).toBe('阅片');
      // One study, no next page: "更多检查" is not drawn (the hidden attribute used to lose to the buttons' display rule).
      expect(await page.getByTestId('more').isVisible()).toBe(false);
      // Drawn, not only in the DOM: the heading's face has glyphs for these characters (CI installs a CJK font).
      expect(await drawsDistinctGlyphs(page, 'main h1', ['阅', '片', '队', '列'])).toBe(true);
      // and the check can fail: two private-use characters no font draws come out as the same box.
      expect(await drawsDistinctGlyphs(page, 'main h1', ['\uE000', '\uE001'])).toBe(false);
      await page.screenshot({ path: screenshotPath('language-zh-queue.png') });

      // The viewer: the report form and the banner in Chinese.
      await item.getByTestId('open-study').click();
      await page.waitForURL(new RegExp(`/read/${studyUid.replaceAll('.', '\\.')}$`));
      await page.locator('label[for="findings"]').waitFor();
      expect(await page.locator('label[for="findings"]').innerText()).toBe('超声所见');
      expect(await page.locator('label[for="impression"]').innerText()).toBe('超声提示');
      expect(await page.title()).toBe('阅片 · 云影');
      const viewer = new ViewerPage(page);
      expect((await viewer.banner()).name).toContain('王芳');
      expect(await viewer.aiScore()).toMatch(/^\d+%$/);
      expect(await page.getByTestId('ai-panel').innerText()).toContain('AI');
      expect(await viewer.distinctCanvasValues()).toBeGreaterThan(1);
      expect(await drawsDistinctGlyphs(page, 'label[for="findings"]', ['超', '声', '所', '见'])).toBe(true);
      await page.screenshot({ path: screenshotPath('language-zh-viewer.png') });

      // A study the triage left out says why in Chinese (the server's reason, said again with its facts).
      await page.goto(`${viewerUrl}/queue`);
      await page.locator(`[data-testid="queue-item"][data-study-uid="${breastUid}"]`).getByTestId('open-study').click();
      await page.waitForURL(new RegExp(`/read/${breastUid.replaceAll('.', '\\.')}$`));
      await page.getByTestId('ai-status').waitFor();
      expect(await page.getByTestId('ai-status').innerText()).toContain('非甲状腺检查：BodyPartExamined 注明为其他部位（breast）');

      // Back to English: the page is drawn again in it.
      await page.getByTestId('language').click();
      await page.locator('label[for="findings"]', { hasText: 'Findings' }).waitFor();
      expect(await documentLanguage(page)).toBe('en');
      expect(await page.getByTestId('language').innerText()).toBe('中文');
      await page.goto(`${viewerUrl}/queue`);
      await item.waitFor();
      expect(await page.locator('main h1').innerText()).toBe('Reading queue');
      expect(await item.getByTestId('priority').textContent()).toBe((await item.getByTestId('priority').getAttribute('data-priority')) ?? '');
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test('the auditor in Chinese: retention with the study’s copies, and the access history with the audit chain checked', async () => {
    const { context, page, errors } = await newPage(browser, DESKTOP, false, 'zh-CN');
    try {
      await page.goto(`${viewerUrl}/sign-in`);
      await signIn(page, password(system, 'auditor'));
      await page.waitForURL(/\/audit$/);
      const row = page.locator(`[data-testid="retention-study"][data-study-uid="${studyUid}"]`);
      await row.waitFor();
      expect(await page.locator('main h1').innerText()).toBe('保存期限');
      expect(await row.getByTestId('copies').innerText()).toBe('3/3');
      expect(await page.getByTestId('retention-csv').innerText()).toBe('导出 CSV');
      expect(await drawsDistinctGlyphs(page, 'main h1', ['保', '存', '期', '限'])).toBe(true);
      await page.screenshot({ path: screenshotPath('language-zh-retention.png') });

      await page.goto(`${viewerUrl}/audit/access`);
      await page.locator('main h1', { hasText: '访问记录' }).waitFor();
      // The chain check's answer replaces "正在校验审计链…" once the server has verified it.
      await page.getByTestId('chain-verification').filter({ hasNotText: '正在校验' }).waitFor();
      expect(await page.getByTestId('chain-verification').innerText()).toMatch(/[\u4e00-\u9fff]/);
      await page.screenshot({ path: screenshotPath('language-zh-access.png') });
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test('a phone in Chinese: the queue and the viewer fit the screen, nothing wider than it', async () => {
    const { context, page, errors } = await newPage(browser, PHONE, true, 'zh-CN');
    try {
      await page.goto(`${viewerUrl}/sign-in`);
      await signIn(page, password(system, 'radiologist'));
      const item = page.locator(`[data-testid="queue-item"][data-study-uid="${studyUid}"]`);
      await item.waitFor();
      expect(await pageWidth(page)).toBeLessThanOrEqual(PHONE.width);
      await page.screenshot({ path: screenshotPath('language-zh-phone-queue.png') });
      await item.getByTestId('open-study').click();
      const viewer = new ViewerPage(page);
      expect((await viewer.banner()).name).toContain('王芳');
      expect(await viewer.distinctCanvasValues()).toBeGreaterThan(1);
      await page.getByTestId('ai-score').waitFor();
      expect(await pageWidth(page)).toBeLessThanOrEqual(PHONE.width);
      await page.screenshot({ path: screenshotPath('language-zh-phone-viewer.png') });
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test('an English browser: English, until the reader chooses 中文, which this browser then remembers', async () => {
    const { context, page, errors } = await newPage(browser, DESKTOP);
    try {
      await page.goto(`${viewerUrl}/sign-in`);
      await page.locator('form.sign-in h1').waitFor();
      expect(await page.locator('form.sign-in h1').innerText()).toBe('Sign in');
      await page.getByTestId('language').click();
      await page.locator('form.sign-in h1', { hasText: '登录' }).waitFor();
      expect(await page.locator('label[for="username"]').innerText()).toBe('用户名');
      const again = await context.newPage();
      await again.goto(`${viewerUrl}/sign-in`);
      await again.locator('form.sign-in h1', { hasText: '登录' }).waitFor();
      expect(await documentLanguage(again)).toBe('zh-Hans');
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
