import type { Locator, Page } from 'playwright-core';

export class ClinicStudiesPage {
  constructor(private readonly page: Page) {}

  study(studyUid: string): Locator {
    return this.page.locator(`[data-testid="clinic-study"][data-study-uid="${studyUid}"]`);
  }

  async signedReportOf(studyUid: string): Promise<{ status: string; report: string }> {
    await this.page.waitForURL(/\/clinic$/);
    const study = this.study(studyUid);
    const report = study.getByTestId('signed-report');
    await report.waitFor();
    return { status: (await study.getByTestId('study-status').textContent()) ?? '', report: (await report.textContent()) ?? '' };
  }
}
