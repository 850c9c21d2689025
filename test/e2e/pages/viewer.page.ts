import type { Locator, Page } from 'playwright-core';
import { waitFor } from '../../support/wait';

// The test project has no DOM lib: the functions run in the browser are typed structurally.
interface RenderCounter {
  count: number;
  indices: number[];
  /** Renders of the prior study opened beside the current one, counted apart. */
  priorCount: number;
  priorIndices: number[];
}
interface BrowserWindow {
  __yyRendered?: RenderCounter;
  addEventListener(type: string, listener: (event: { detail?: { index?: number; viewport?: string } }) => void): void;
}
interface CanvasLike {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } | null;
}

/**
 * The reading viewer. Waits on the app's `yunying:rendered` event (one per cornerstone IMAGE_RENDERED),
 * counted by a listener installed before any page script runs; never on time.
 */
export class ViewerPage {
  constructor(private readonly page: Page) {}

  /** Call once per page, before navigating to the viewer. */
  static async installRenderCounter(page: Page): Promise<void> {
    await page.addInitScript(() => {
      const w = globalThis as unknown as BrowserWindow;
      const state: RenderCounter = { count: 0, indices: [], priorCount: 0, priorIndices: [] };
      w.__yyRendered = state;
      w.addEventListener('yunying:rendered', (event) => {
        if (event.detail?.viewport === 'prior') {
          state.priorCount += 1;
          state.priorIndices.push(event.detail.index ?? -1);
          return;
        }
        state.count += 1;
        state.indices.push(event.detail?.index ?? -1);
      });
    });
  }

  get imageArea(): Locator {
    return this.page.getByTestId('image-area');
  }

  get canvas(): Locator {
    return this.page.locator('[data-testid="viewport"] canvas');
  }

  async renderCount(): Promise<number> {
    return this.page.evaluate(() => (globalThis as unknown as BrowserWindow).__yyRendered?.count ?? 0);
  }

  async renderedIndices(): Promise<number[]> {
    return this.page.evaluate(() => (globalThis as unknown as BrowserWindow).__yyRendered?.indices ?? []);
  }

  /** Until at least `count` renders have happened since the page loaded. */
  async waitForRenders(count: number, timeout = 30_000): Promise<void> {
    await this.page.waitForFunction((n) => ((globalThis as unknown as BrowserWindow).__yyRendered?.count ?? 0) >= n, count, { timeout });
  }

  /** Until the prior study beside the current one has rendered `count` times. */
  async waitForPriorRenders(count: number, timeout = 30_000): Promise<void> {
    await this.page.waitForFunction((n) => ((globalThis as unknown as BrowserWindow).__yyRendered?.priorCount ?? 0) >= n, count, { timeout });
  }

  async priorIndices(): Promise<number[]> {
    return this.page.evaluate(() => (globalThis as unknown as BrowserWindow).__yyRendered?.priorIndices ?? []);
  }

  async priorLabel(): Promise<string> {
    return (await this.page.getByTestId('prior-label').textContent()) ?? '';
  }

  /** Whether the prior is drawn to the right of the current image, side by side and of useful size. */
  async priorBeside(): Promise<boolean> {
    const current = await this.imageArea.boundingBox();
    const prior = await this.page.getByTestId('prior-area').boundingBox();
    if (!current || !prior) return false;
    return prior.x >= current.x + current.width - 1 && Math.abs(prior.y - current.y) < 2 && prior.width > 150 && prior.height > 150;
  }

  /** One frame on in the current study (↓); resolves with [current index, prior index] once both show it. */
  async stepBoth(): Promise<[number, number]> {
    const before = (await this.renderedIndices()).at(-1) ?? 0;
    const expected = before + 1;
    await this.page.getByTestId('viewport').focus();
    await this.page.keyboard.press('ArrowDown');
    await this.page.waitForFunction(
      (n) => {
        const r = (globalThis as unknown as BrowserWindow).__yyRendered;
        return r?.indices.at(-1) === n && r.priorIndices.at(-1) === n;
      },
      expected,
      { timeout: 15_000 },
    );
    return [(await this.renderedIndices()).at(-1) ?? -1, (await this.priorIndices()).at(-1) ?? -1];
  }

  /** Distinct values on the prior's canvas. */
  async priorDistinctCanvasValues(): Promise<number> {
    return this.distinctValuesOf(this.page.locator('[data-testid="prior-viewport"] canvas'));
  }

  /** Distinct values on the canvas: a blank (uniform) canvas has one. */
  async distinctCanvasValues(): Promise<number> {
    return this.distinctValuesOf(this.canvas);
  }

  /**
   * Distinct values on the canvas once something is drawn on it. Setting a canvas's size clears it, and
   * cornerstone draws it again on its next animation frame: a resize (the AI panel filling in beside the
   * image) can come just after a render, so a blank read waits (bounded) for the redraw. A canvas that
   * stays blank gives 1, and the caller's assertion fails with it.
   */
  private async distinctValuesOf(canvas: Locator): Promise<number> {
    const read = (): Promise<number> =>
      canvas.evaluate((node: unknown) => {
        const el = node as CanvasLike;
        const context = el.getContext('2d');
        if (!context || el.width === 0 || el.height === 0) return 0;
        const data = context.getImageData(0, 0, el.width, el.height).data;
        const seen = new Set<number>();
        for (let i = 0; i < data.length && seen.size < 64; i += 4) seen.add(((data[i] ?? 0) << 16) | ((data[i + 1] ?? 0) << 8) | (data[i + 2] ?? 0));
        return seen.size;
      });
    return waitFor('the canvas drawn', async () => {
      const n = await read();
      return n > 1 ? n : null;
    }, 10_000).catch(read);
  }

  /** The banner's fields as shown, once it has loaded. */
  async banner(): Promise<Record<'name' | 'charset' | 'id' | 'sex' | 'birth' | 'study' | 'accession' | 'clinic' | 'ai', string>> {
    await this.page.getByTestId('banner-name').waitFor();
    const text = async (id: string): Promise<string> => (await this.page.getByTestId(id).textContent()) ?? '';
    return {
      name: await text('banner-name'),
      charset: await text('banner-charset'),
      id: await text('banner-id'),
      sex: await text('banner-sex'),
      birth: await text('banner-birth'),
      study: await text('banner-study-date'),
      accession: await text('banner-accession'),
      clinic: await text('banner-clinic'),
      ai: await text('banner-ai'),
    };
  }

  async reportPatient(): Promise<string> {
    const line = this.page.getByTestId('report-patient').filter({ hasNotText: 'loading' });
    await line.waitFor();
    return (await line.textContent()) ?? '';
  }

  /**
   * Whether the banner is drawn inside the visible window: its box within the viewport and the name
   * element the topmost thing at its own centre (nothing scrolled over it).
   */
  async bannerOnScreen(): Promise<boolean> {
    const box = await this.page.getByTestId('patient-banner').boundingBox();
    const size = this.page.viewportSize();
    if (!box || !size) return false;
    const inside = box.y >= 0 && box.y + box.height <= size.height && box.height > 0 && box.width > 0;
    const name = await this.page.getByTestId('banner-name').boundingBox();
    if (!inside || !name) return false;
    const cx = name.x + Math.min(name.width / 2, 20);
    const cy = name.y + name.height / 2;
    return this.page.evaluate(
      ([x, y]) => {
        const doc = globalThis as unknown as { document: { elementFromPoint(x: number, y: number): { closest(s: string): unknown } | null } };
        return doc.document.elementFromPoint(x ?? 0, y ?? 0)?.closest('[data-testid="banner-name"]') != null;
      },
      [cx, cy],
    );
  }

  async play(): Promise<void> {
    await this.page.getByTestId('cine-toggle').click();
    await this.page.getByRole('button', { name: 'Pause' }).waitFor();
  }

  async pause(): Promise<void> {
    await this.page.getByTestId('cine-toggle').click();
    await this.page.getByRole('button', { name: 'Play', exact: true }).waitFor();
  }

  async frameLabel(): Promise<string> {
    return (await this.page.getByTestId('frame-index').textContent()) ?? '';
  }

  /**
   * Until the reading tools are on the image: the first frame is drawn before they load (stack-viewport.ts), and
   * a drag before then draws nothing, as it would for a reader that fast.
   */
  async toolsReady(): Promise<void> {
    await this.page.locator('[data-testid="viewport"][data-tools="ready"]').waitFor({ timeout: 30_000 });
  }

  /** Draws a length with the mouse across the middle of the image; returns the listed measurement. */
  async measureAcross(): Promise<string> {
    await this.toolsReady();
    await this.page.locator('[data-tool="Length"]').click();
    const box = await this.canvas.boundingBox();
    if (!box) throw new Error('no canvas');
    const y = box.y + box.height / 2;
    await this.page.mouse.move(box.x + box.width * 0.35, y);
    await this.page.mouse.down();
    await this.page.mouse.move(box.x + box.width * 0.5, y + 10, { steps: 5 });
    await this.page.mouse.move(box.x + box.width * 0.65, y + 20, { steps: 5 });
    await this.page.mouse.up();
    const item = this.page.getByTestId('measurement').last();
    await item.waitFor();
    return (await item.textContent()) ?? '';
  }

  /** Reader-guided scoring: draws a box with the "AI on box" tool and returns what the AI panel shows for it. */
  async scoreBox(): Promise<string> {
    await this.toolsReady();
    await this.page.locator('[data-tool="RectangleRoi"]').click();
    const box = await this.canvas.boundingBox();
    if (!box) throw new Error('no canvas');
    await this.page.mouse.move(box.x + box.width * 0.25, box.y + box.height * 0.3);
    await this.page.mouse.down();
    await this.page.mouse.move(box.x + box.width * 0.45, box.y + box.height * 0.5, { steps: 5 });
    await this.page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.7, { steps: 5 });
    await this.page.mouse.up();
    const level = this.page.getByTestId('ai-reader').getByTestId('ai-nodule-tr');
    await level.waitFor();
    return (await this.page.getByTestId('ai-reader').textContent()) ?? '';
  }

  async aiModel(): Promise<string> {
    const model = this.page.getByTestId('ai-model');
    await model.waitFor();
    return (await model.textContent()) ?? '';
  }

  /** The study score as the AI panel shows it ("24%"). */
  async aiScore(): Promise<string> {
    const score = this.page.getByTestId('ai-score');
    await score.waitFor();
    return (await score.textContent()) ?? '';
  }

  /** The panel's first per-image line: the most suspicious image, its frame and score. */
  async aiTopImage(): Promise<string> {
    const image = this.page.getByTestId('ai-image').first();
    await image.waitFor();
    return (await image.textContent()) ?? '';
  }

  /** "TR4 (5 points)" per nodule of the top image, in the panel's order; the reader's own box excluded. */
  async aiNoduleLevels(): Promise<string[]> {
    await this.page.getByTestId('ai-image').first().waitFor();
    return this.page.locator('[data-testid="ai-panel"] > [data-testid="ai-nodule"] [data-testid="ai-nodule-tr"]').allTextContents();
  }

  /** Until the frame label names frame `frame` (1-based) of the current study. */
  async waitForFrame(frame: number): Promise<void> {
    await this.page.getByTestId('frame-index').filter({ hasText: new RegExp(`^Frame ${frame} /`) }).waitFor({ timeout: 30_000 });
  }

  /** Jumps with J and returns the frame label once it shows the AI's top frame. */
  async jumpToMostSuspicious(): Promise<string> {
    const top = (await this.page.getByTestId('ai-image').first().textContent()) ?? '';
    const frame = /frame (\d+)/.exec(top)?.[1];
    if (!frame) throw new Error(`no frame in the AI panel's top image: ${top}`);
    await this.page.keyboard.press('j');
    const label = this.page.getByTestId('frame-index').filter({ hasText: new RegExp(`^Frame ${frame} /`) });
    await label.waitFor();
    return (await label.textContent()) ?? '';
  }

  /**
   * The free-text path: the reader removes the nodule blocks the AI prefilled (#20; they would need
   * confirming before signing) and writes the report in words with an overall category.
   */
  async writeAndSign(findings: string, impression: string, password: string): Promise<string> {
    const blocks = this.page.getByTestId('nodule-block');
    await blocks.first().waitFor();
    while ((await blocks.count()) > 0) await blocks.first().getByTestId('remove-nodule').click();
    await this.page.getByLabel('TI-RADS category').selectOption('TR3');
    await this.page.getByLabel('Findings').fill(findings);
    await this.page.getByLabel('Impression').fill(impression);
    // Re-authentication before signing (#20).
    await this.page.getByTestId('sign-password').fill(password);
    await this.page.getByTestId('sign-report').click();
    const signed = this.page.locator('[data-testid="signed-report"][data-version="1"]');
    await signed.waitFor();
    return (await signed.textContent()) ?? '';
  }

  /** Signs an addendum under the signed report; returns the texts of all signed versions, in order. */
  async addAddendum(findings: string, impression: string, password: string): Promise<string[]> {
    const shown = await this.page.getByTestId('signed-report').count();
    await this.page.getByLabel('Addendum findings').fill(findings);
    await this.page.getByLabel('Addendum impression').fill(impression);
    await this.page.getByTestId('addendum-password').fill(password);
    await this.page.getByTestId('sign-addendum').click();
    await this.page.getByTestId('signed-report').nth(shown).waitFor();
    return this.page.getByTestId('signed-report').allTextContents();
  }

  async backToQueue(): Promise<void> {
    await this.page.getByRole('link', { name: '← Queue' }).click();
    await this.page.waitForURL(/\/queue$/);
  }
}
