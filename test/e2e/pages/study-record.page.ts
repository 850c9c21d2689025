import type { Locator, Page } from 'playwright-core';
import sharp from 'sharp';

/** What a screenshot of an element shows: the share of clearly red and clearly green pixels. */
export interface Colours {
  red: number;
  green: number;
}

/** The auditor's study record page (/audit/studies/:uid). */
export class StudyRecordPage {
  constructor(private readonly page: Page) {}

  /** From the retention list: the study's UID is the link to its record. */
  async openFromRetention(studyUid: string): Promise<void> {
    await this.page.waitForURL(/\/audit$/);
    const link = this.page.locator(`[data-testid="retention-study"][data-study-uid="${studyUid}"] [data-testid="study-record-link"]`);
    await link.click();
    await this.page.waitForURL(new RegExp(`/audit/studies/${studyUid.replace(/\./g, '\\.')}$`));
    await this.page.getByTestId('copies').waitFor();
  }

  copies(): Locator {
    return this.page.getByTestId('copy');
  }

  copyState(target: string, state: string): Locator {
    return this.page.locator(`[data-testid="copy"][data-target="${target}"][data-state="${state}"] [data-testid="copy-state"]`).first();
  }

  async historyEvents(): Promise<string[]> {
    const rows = await this.page.getByTestId('history-entry').all();
    return Promise.all(rows.map(async (r) => (await r.getAttribute('data-event')) ?? ''));
  }

  signedReport(version: number): Locator {
    return this.page.locator(`[data-testid="signed-report"][data-version="${version}"]`);
  }

  async verify(version: number): Promise<{ valid: string | null; text: string }> {
    const row = this.signedReport(version);
    await row.getByTestId('verify-signature').click();
    const result = row.locator('[data-testid="signature-result"][data-valid]');
    await result.waitFor();
    return { valid: await result.getAttribute('data-valid'), text: (await result.textContent()) ?? '' };
  }

  /** Colours as drawn: a screenshot of the element, counted pixel by pixel. */
  async colours(element: Locator): Promise<Colours> {
    const { data, info } = await sharp(await element.screenshot()).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    let red = 0;
    let green = 0;
    for (let i = 0; i < data.length; i += info.channels) {
      const r = data[i] ?? 0;
      const g = data[i + 1] ?? 0;
      const b = data[i + 2] ?? 0;
      if (r > 150 && g < 90 && b < 90) red += 1;
      if (g > 90 && g > r + 40 && g > b + 20) green += 1;
    }
    const pixels = info.width * info.height;
    return { red: red / pixels, green: green / pixels };
  }
}
