import type { Page } from 'playwright-core';

/** The OHIF Viewer (its built app, @ohif/app) as a user drives it, signed in through Yunying's OIDC login page. */
export class OhifPage {
  constructor(
    private readonly page: Page,
    private readonly baseUrl: string,
  ) {}

  /** Opens OHIF, which sends the browser to the OIDC provider; signs in there and waits to be back in OHIF. */
  async signIn(username: string, password: string): Promise<void> {
    await this.page.goto(`${this.baseUrl}/`);
    await this.page.locator('input[name="username"]').waitFor({ timeout: 60_000 });
    await this.page.locator('input[name="username"]').fill(username);
    await this.page.locator('input[name="password"]').fill(password);
    await this.page.getByRole('button', { name: 'Sign in' }).click();
    await this.page.waitForURL((url) => url.origin === new URL(this.baseUrl).origin && !url.pathname.startsWith('/callback'), { timeout: 60_000 });
  }

  async expectStudyListed(description: string): Promise<void> {
    await this.page.getByText(description).first().waitFor({ timeout: 60_000 });
  }

  async openStudy(studyUid: string): Promise<void> {
    await this.page.goto(`${this.baseUrl}/viewer?StudyInstanceUIDs=${studyUid}`);
    // The render signal: cornerstone marks a viewport's element once its image is drawn.
    await this.page.locator('.cornerstone-canvas').first().waitFor({ timeout: 90_000 });
  }

  /** Grey-level statistics of the first viewport's canvas, sampled until it holds more than one value. */
  async viewportPixels(): Promise<{ distinct: number; min: number; max: number }> {
    // Runs in the page (the test project has no DOM types, so the page code is a string).
    const handle = await this.page.waitForFunction(
      `(() => {
        const canvas = document.querySelector('.cornerstone-canvas');
        const ctx = canvas && canvas.width > 0 ? canvas.getContext('2d') : null;
        if (!ctx) return null;
        const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        const seen = new Set();
        let min = 255, max = 0;
        for (let i = 0; i < data.length; i += 4) { const v = data[i]; seen.add(v); if (v < min) min = v; if (v > max) max = v; }
        return seen.size > 1 ? { distinct: seen.size, min, max } : null;
      })()`,
      undefined,
      { timeout: 90_000, polling: 500 },
    );
    return (await handle.jsonValue()) as { distinct: number; min: number; max: number };
  }

  async expectNoErrorScreen(): Promise<void> {
    for (const text of ['Data Source Connection Error', 'Something went wrong']) {
      if ((await this.page.getByText(text).count()) > 0) throw new Error(`OHIF shows "${text}"`);
    }
  }
}
