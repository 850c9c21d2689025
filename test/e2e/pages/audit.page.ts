import fs from 'node:fs';
import type { Locator, Page } from 'playwright-core';

export class AuditConsole {
  constructor(private readonly page: Page) {}

  retentionRow(studyUid: string): Locator {
    return this.page.locator(`[data-testid="retention-study"][data-study-uid="${studyUid}"]`);
  }

  async copiesOf(studyUid: string): Promise<string> {
    await this.page.waitForURL(/\/audit$/);
    const row = this.retentionRow(studyUid);
    await row.waitFor();
    return (await row.getByTestId('copies').textContent()) ?? '';
  }

  /** Downloads a CSV export through its link and returns its text. */
  async download(testId: 'retention-csv' | 'events-csv'): Promise<string> {
    const [download] = await Promise.all([this.page.waitForEvent('download'), this.page.getByTestId(testId).click()]);
    const file = await download.path();
    return fs.readFileSync(file, 'utf8');
  }

  async openAccessHistory(): Promise<void> {
    await this.page.getByRole('link', { name: 'Access history' }).click();
    await this.page.waitForURL(/\/audit\/access$/);
  }

  async searchByStudy(studyUid: string): Promise<void> {
    await this.page.getByLabel('Study').fill(studyUid);
    await this.page.getByRole('button', { name: 'Search' }).click();
  }

  /** Actors of the listed events once at least one row by `username` is shown. */
  async actorsIncluding(username: string): Promise<string[]> {
    await this.page.locator('[data-testid="audit-event"] [data-testid="actor"]', { hasText: username }).first().waitFor();
    return this.page.locator('[data-testid="audit-event"] [data-testid="actor"]').allTextContents();
  }

  async chainVerification(): Promise<{ ok: string | null; text: string }> {
    const el = this.page.locator('[data-testid="chain-verification"][data-ok]');
    await el.waitFor();
    return { ok: await el.getAttribute('data-ok'), text: (await el.textContent()) ?? '' };
  }
}
