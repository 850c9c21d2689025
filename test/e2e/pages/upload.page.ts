import type { Locator, Page } from 'playwright-core';

export interface UploadRow {
  file: string;
  state: string;
  result: string;
  progress: number;
}

/** The clinic's upload page: files through the file input, then per-file rows and a total bar. */
export class UploadPage {
  constructor(private readonly page: Page) {}

  async open(): Promise<void> {
    await this.page.getByRole('link', { name: 'Upload', exact: true }).click();
    await this.page.waitForURL(/\/upload$/);
  }

  async choose(paths: string[]): Promise<void> {
    await this.page.getByTestId('file-input').setInputFiles(paths);
  }

  get status(): Locator {
    return this.page.getByTestId('upload-status');
  }

  /** Until the page says the upload is done; returns its summary line. */
  async waitForDone(timeout = 60_000): Promise<string> {
    const done = this.page.locator('[data-testid="upload-status"][data-done="true"]');
    await done.waitFor({ timeout });
    return (await done.textContent()) ?? '';
  }

  async rows(): Promise<UploadRow[]> {
    return this.page.getByTestId('upload-row').evaluateAll((nodes: unknown[]) =>
      nodes.map((node) => {
        // The test project has no DOM lib: the elements are typed structurally.
        const el = node as { dataset: Record<string, string | undefined>; querySelector(s: string): { textContent: string | null; value?: number } | null };
        return {
          file: el.dataset.file ?? '',
          state: el.dataset.state ?? '',
          result: el.querySelector('[data-testid="file-result"]')?.textContent ?? '',
          progress: el.querySelector('[data-testid="file-progress"]')?.value ?? -1,
        };
      }),
    );
  }

  async totalProgress(): Promise<number> {
    return this.page.getByTestId('total-progress').evaluate((node: unknown) => (node as { value: number }).value);
  }
}
