import type { Page } from 'playwright-core';
import sharp from 'sharp';

interface NaturalImage {
  complete: boolean;
  naturalWidth: number;
  naturalHeight: number;
}

/** What a key image holds, measured in the page from the decoded <img> (not from the HTTP body). */
export interface ImageStats {
  width: number;
  height: number;
  /** Standard deviation of the luminance: near 0 for a blank, uniform or failed image. */
  stddev: number;
  /** Distinct luminance values among the sampled pixels. */
  levels: number;
  /** Mean luminance (0-255): tells a dark frame from a bright one. */
  mean: number;
}

/** The public share page (/share#<token>) as a phone shows it. */
export class SharePage {
  constructor(private readonly page: Page) {}

  async open(baseUrl: string, path: string): Promise<void> {
    await this.page.goto(`${baseUrl}${path}`);
  }

  /**
   * Waits until `count` key images are decoded, then measures each as the browser drew it: an element
   * screenshot decoded here (the test project has no DOM lib; browser-side code is typed structurally).
   */
  async imageStats(count: number): Promise<ImageStats[]> {
    await this.page.waitForFunction(
      (n) => {
        const doc = (globalThis as unknown as { document: { querySelectorAll: (s: string) => ArrayLike<NaturalImage> } }).document;
        const images = Array.from(doc.querySelectorAll('.images img'));
        return images.length === n && images.every((img) => img.complete && img.naturalWidth > 0);
      },
      count,
    );
    const images = this.page.locator('.images img');
    const stats: ImageStats[] = [];
    for (let i = 0; i < count; i += 1) {
      const size = await images.nth(i).evaluate((node: unknown) => ({ width: (node as NaturalImage).naturalWidth, height: (node as NaturalImage).naturalHeight }));
      const { data, info } = await sharp(await images.nth(i).screenshot()).greyscale().raw().toBuffer({ resolveWithObject: true });
      let sum = 0;
      let squares = 0;
      const levels = new Set<number>();
      for (const y of data) {
        sum += y;
        squares += y * y;
        levels.add(y);
      }
      const pixels = info.width * info.height;
      const mean = sum / pixels;
      stats.push({ ...size, stddev: Math.sqrt(Math.max(0, squares / pixels - mean * mean)), levels: levels.size, mean });
    }
    return stats;
  }

  /** The line that says whether the images are the radiologist's key images or, none marked, the first of each series. */
  async imagesSource(): Promise<string> {
    const note = this.page.getByTestId('share-images-source');
    await note.waitFor({ state: 'visible' });
    return note.innerText();
  }

  async reportText(): Promise<string> {
    const report = this.page.getByTestId('share-report');
    await report.waitFor({ state: 'visible' });
    return report.innerText();
  }

  async refusalText(): Promise<string> {
    const refusal = this.page.getByTestId('share-refused');
    await refusal.waitFor({ state: 'visible' });
    return refusal.innerText();
  }

  async enterCode(code: string): Promise<void> {
    await this.page.getByLabel('访问码 Access code').fill(code);
    await this.page.getByRole('button', { name: '查看 View' }).click();
  }

  async codeError(): Promise<string> {
    const error = this.page.locator('.share .error');
    await error.waitFor({ state: 'visible' });
    return error.innerText();
  }
}
