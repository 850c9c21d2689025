import type { Page } from 'playwright-core';

/** Where a colour is drawn on the first viewport's canvas: how many pixels, and their bounding box. */
export interface ColourArea {
  pixels: number;
  width: number;
  height: number;
}

/**
 * The parts of the OHIF Viewer (@ohif/app 3.13) that show derived objects: the study browser's SR and SEG
 * series, the viewport's prompt to load (hydrate) them, the measurements panel, and the drawn overlay.
 * Sign-in and opening a study are OhifPage's.
 */
export class OhifDerivedObjects {
  constructor(private readonly page: Page) {}

  /** OHIF's first-use tour overlays the viewport; a returning user has dismissed it. */
  async dismissTour(): Promise<void> {
    const skip = this.page.getByText('Skip all');
    if (await skip.isVisible()) await skip.click();
  }

  /** Double-clicks the study browser's series of that modality (SR, SEG): OHIF loads it into the viewport. */
  async openSeries(modality: 'SR' | 'SEG'): Promise<void> {
    await this.page.locator('[data-cy="study-browser-thumbnail-no-image"]').filter({ has: this.page.locator('[data-cy="series-modality-label"]', { hasText: new RegExp(`^${modality}$`) }) }).dblclick();
  }

  /** Answers OHIF's "load / track these?" prompt in the viewport with yes (SEG: load; SR: track the measurements). */
  async acceptLoad(): Promise<void> {
    const yes = this.page.locator('[data-cy="yes-hydrate-btn"]');
    await yes.waitFor({ timeout: 60_000 });
    await yes.click();
  }

  /** The measurements panel's text (right side panel), once it lists at least one measurement. */
  async measurementsPanelText(): Promise<string> {
    await this.page.locator('[data-cy="trackedMeasurements-btn"]').click();
    const handle = await this.page.waitForFunction(
      `(() => {
        const panel = document.querySelector('[data-cy="trackedMeasurements-panel"]') ?? document.querySelector('[data-cy="side-panel-header-right"]')?.parentElement;
        const text = panel ? panel.innerText : '';
        return /\\d/.test(text) && text.length > 20 ? text : null;
      })()`,
      undefined,
      { timeout: 60_000, polling: 500 },
    );
    return (await handle.jsonValue()) as string;
  }

  /**
   * Pixels of the first viewport's canvas that are clearly green (green channel above red and blue by more
   * than `margin`): a grey ultrasound frame has none, a green overlay blended over it has many. Waits
   * until at least `minPixels` are drawn; with `minPixels` 0 it returns what is there now.
   */
  async greenArea(minPixels: number, margin = 60): Promise<ColourArea> {
    const handle = await this.page.waitForFunction(
      `(() => {
        const canvas = document.querySelector('.cornerstone-canvas');
        const ctx = canvas && canvas.width > 0 ? canvas.getContext('2d') : null;
        if (!ctx) return null;
        const { data, width } = ctx.getImageData(0, 0, canvas.width, canvas.height);
        let pixels = 0, x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1;
        for (let i = 0; i < data.length; i += 4) {
          if (data[i + 1] - Math.max(data[i], data[i + 2]) > ${margin}) {
            pixels++;
            const p = i / 4, x = p % width, y = Math.floor(p / width);
            if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
          }
        }
        return pixels >= ${minPixels} ? { pixels, width: pixels ? x1 - x0 + 1 : 0, height: pixels ? y1 - y0 + 1 : 0 } : null;
      })()`,
      undefined,
      { timeout: 90_000, polling: 500 },
    );
    return (await handle.jsonValue()) as ColourArea;
  }
}
