import type { Page } from 'playwright-core';

export type Rgb = readonly [number, number, number];

/** The tokens OHIF's OIDC client (oidc-client-ts) holds for the signed-in user (its sessionStorage). */
export interface OhifTokens {
  accessToken: string;
  refreshToken: string;
}

/** The OHIF Viewer (its built app, @ohif/app) as a user drives it, signed in through Yunying's OIDC login page. */
export class OhifPage {
  constructor(
    private readonly page: Page,
    private readonly baseUrl: string,
  ) {}

  /** Opens OHIF, which sends the browser to the OIDC provider; signs in there and waits to be back in OHIF. */
  async signIn(username: string, password: string): Promise<void> {
    // OHIF's first-visit tour of the viewer lays a modal overlay over it; a returning user has seen it.
    await this.page.addInitScript(`if (location.origin === ${JSON.stringify(new URL(this.baseUrl).origin)}) localStorage.setItem('shownTours', JSON.stringify(['basicViewerTour']));`);
    await this.page.goto(`${this.baseUrl}/`);
    await this.expectSignInPage();
    await this.page.locator('input[name="username"]').fill(username);
    await this.page.locator('input[name="password"]').fill(password);
    await this.page.getByRole('button', { name: 'Sign in' }).click();
    await this.page.waitForURL((url) => url.origin === new URL(this.baseUrl).origin && !url.pathname.startsWith('/callback'), { timeout: 60_000 });
  }

  /** Yunying's OIDC login page, where OHIF sends a user it has no (valid) sign-in for. */
  async expectSignInPage(): Promise<void> {
    await this.page.locator('input[name="username"]').waitFor({ timeout: 60_000 });
  }

  async expectStudyListed(description: string): Promise<void> {
    await this.page.getByText(description).first().waitFor({ timeout: 60_000 });
  }

  // ---- the study list (OHIF's worklist; each filter is a QIDO-RS query) ------------------------------

  private filterCell(column: number) {
    return this.page.locator('tr[data-filter-row] > td').nth(column);
  }

  async filterPatientName(value: string): Promise<void> {
    await this.filterCell(0).locator('input').fill(value);
  }

  async filterStudyDates(start: string, end: string): Promise<void> {
    // OHIF's date inputs take YYYY-MM-DD as typed; Enter applies them.
    await this.page.locator('#studyDateTime-start').fill(start);
    await this.page.locator('#studyDateTime-end').fill(end);
    await this.page.keyboard.press('Enter');
  }

  async filterModality(modality: string): Promise<void> {
    const input = this.page.locator('[aria-label="Filter Modalities"]');
    await input.click();
    await input.fill(modality);
    await this.page.keyboard.press('Enter');
  }

  async filterDescription(value: string): Promise<void> {
    await this.filterCell(3).locator('input').fill(value);
  }

  async resetFilters(): Promise<void> {
    await this.page.locator('button[aria-label="Reset filters"]').click();
  }

  /** Waits until the list shows exactly these studies (by description), in any order; returns what it shows. */
  async expectListedExactly(descriptions: string[]): Promise<string[]> {
    const want = JSON.stringify([...descriptions].sort());
    const handle = await this.page.waitForFunction(
      `(() => {
        const rows = [...document.querySelectorAll('tr[aria-selected]')].map((tr) => (tr.children[3]?.textContent ?? '').trim()).sort();
        return JSON.stringify(rows) === ${JSON.stringify(want)} ? rows : null;
      })()`,
      undefined,
      { timeout: 30_000, polling: 250 },
    );
    return (await handle.jsonValue()) as string[];
  }

  /** Opens a listed study the way a user does (double click), inside the app: no page load, no new sign-in. */
  async openListedStudy(description: string): Promise<void> {
    await this.page.locator('tr[aria-selected]').filter({ hasText: description }).first().dblclick();
    await this.page.locator('.cornerstone-canvas').first().waitFor({ timeout: 90_000 });
  }

  async openStudy(studyUid: string): Promise<void> {
    await this.page.goto(`${this.baseUrl}/viewer?StudyInstanceUIDs=${studyUid}`);
    // The render signal: cornerstone marks a viewport's element once its image is drawn.
    await this.page.locator('.cornerstone-canvas').first().waitFor({ timeout: 90_000 });
  }

  // ---- the viewport's drawn pixels (canvas read back) ------------------------------------------------

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

  /**
   * Waits until the first viewport's canvas shows each of `colours` (within `tolerance` per channel) on at
   * least `minPixels` pixels; returns how many pixels show each. Fails (times out) when one never appears.
   */
  async expectViewportColours(colours: readonly Rgb[], options: { tolerance?: number; minPixels?: number } = {}): Promise<number[]> {
    const tolerance = options.tolerance ?? 2;
    const minPixels = options.minPixels ?? 200;
    const handle = await this.page.waitForFunction(
      `(() => {
        const colours = ${JSON.stringify(colours)};
        const canvas = document.querySelector('.cornerstone-canvas');
        const ctx = canvas && canvas.width > 0 ? canvas.getContext('2d') : null;
        if (!ctx) return null;
        const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        const counts = colours.map(() => 0);
        for (let i = 0; i < data.length; i += 4) {
          for (let k = 0; k < colours.length; k += 1) {
            const c = colours[k];
            if (Math.abs(data[i] - c[0]) <= ${tolerance} && Math.abs(data[i + 1] - c[1]) <= ${tolerance} && Math.abs(data[i + 2] - c[2]) <= ${tolerance}) counts[k] += 1;
          }
        }
        return counts.every((n) => n >= ${minPixels}) ? counts : null;
      })()`,
      undefined,
      { timeout: 90_000, polling: 500 },
    );
    return (await handle.jsonValue()) as number[];
  }

  /** Colour of the drawn image near its left edge, on the canvas's middle row (the first non-black pixel, a few pixels in). */
  async leftEdgeColour(): Promise<Rgb | null> {
    return this.page.evaluate<Rgb | null>(`(() => {
      const canvas = document.querySelector('.cornerstone-canvas');
      const ctx = canvas && canvas.width > 0 ? canvas.getContext('2d') : null;
      if (!ctx) return null;
      const y = Math.floor(canvas.height / 2);
      const row = ctx.getImageData(0, y, canvas.width, 1).data;
      for (let x = 0; x < canvas.width; x += 1) {
        if (row[4 * x] + row[4 * x + 1] + row[4 * x + 2] > 0) {
          const at = 4 * Math.min(canvas.width - 1, x + 8);
          return [row[at], row[at + 1], row[at + 2]];
        }
      }
      return null;
    })()`);
  }

  /** Scrolls the first viewport one image on (mouse wheel, OHIF's stack scroll) and waits for that image. */
  async nextImage(): Promise<number> {
    const slider = this.page.locator('[aria-label="Image navigation scrollbar"]').first();
    const before = Number(await slider.getAttribute('aria-valuenow'));
    await this.page.locator('.cornerstone-canvas').first().hover();
    await this.page.mouse.wheel(0, 120);
    await this.page.waitForFunction(
      `Number(document.querySelector('[aria-label="Image navigation scrollbar"]')?.getAttribute('aria-valuenow')) === ${before + 1}`,
      undefined,
      { timeout: 30_000, polling: 250 },
    );
    return before + 1;
  }

  // ---- the signed-in user --------------------------------------------------------------------------

  /** What OHIF's OIDC client holds now (oidc-client-ts keeps the user in sessionStorage). */
  async tokens(issuer: string, clientId: string): Promise<OhifTokens> {
    const stored = await this.page.evaluate<string | null>(`sessionStorage.getItem(${JSON.stringify(`oidc.user:${issuer}:${clientId}`)})`);
    const user = JSON.parse(stored ?? '{}') as { access_token?: string; refresh_token?: string };
    if (!user.access_token || !user.refresh_token) throw new Error('OHIF holds no signed-in user');
    return { accessToken: user.access_token, refreshToken: user.refresh_token };
  }

  /** OHIF's own sign-out: the header's settings menu (the gear, top right), "Logout". */
  async signOut(): Promise<void> {
    // The settings menu is the right-most menu button of the top bar; OHIF gives it no name of its own.
    const index = await this.page.evaluate<number>(`(() => {
      const buttons = [...document.querySelectorAll('button[aria-haspopup="menu"]')];
      let best = -1, bestX = -1;
      buttons.forEach((b, i) => { const r = b.getBoundingClientRect(); if (r.top < 60 && r.width > 0 && r.left > bestX) { best = i; bestX = r.left; } });
      return best;
    })()`);
    if (index < 0) throw new Error('OHIF shows no settings menu');
    await this.page.locator('button[aria-haspopup="menu"]').nth(index).click();
    await this.page.getByRole('menuitem', { name: 'Logout' }).click();
  }

  async expectNoErrorScreen(): Promise<void> {
    for (const text of ['Data Source Connection Error', 'Something went wrong']) {
      if ((await this.page.getByText(text).count()) > 0) throw new Error(`OHIF shows "${text}"`);
    }
  }
}
