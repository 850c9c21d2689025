import type { Locator, Page } from 'playwright-core';

export interface ShownVersion {
  version: number;
  kind: string;
  text: string;
}

export class ClinicStudiesPage {
  constructor(private readonly page: Page) {}

  study(studyUid: string): Locator {
    return this.page.locator(`[data-testid="clinic-study"][data-study-uid="${studyUid}"]`);
  }

  /** The study's status and its signed versions, once at least `count` are shown. */
  async signedVersionsOf(studyUid: string, count = 1): Promise<{ status: string; versions: ShownVersion[] }> {
    await this.page.waitForURL(/\/clinic$/);
    const study = this.study(studyUid);
    await study.getByTestId('signed-report').nth(count - 1).waitFor();
    const versions = await study.getByTestId('signed-report').evaluateAll((nodes: unknown[]) =>
      nodes.map((node) => {
        const el = node as { dataset: Record<string, string | undefined>; textContent: string | null };
        return { version: Number(el.dataset.version), kind: el.dataset.kind ?? '', text: el.textContent ?? '' };
      }),
    );
    return { status: (await study.getByTestId('study-status').textContent()) ?? '', versions };
  }
}
