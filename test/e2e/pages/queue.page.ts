import type { Locator, Page } from 'playwright-core';
import { SignInPage } from './sign-in.page';

export class QueuePage {
  constructor(private readonly page: Page) {}

  /** A reader's way in: sign in at `baseUrl`, wait for the queue, open a study from it. */
  static async openStudyAs(page: Page, baseUrl: string, user: { username: string; password: string }, studyUid: string): Promise<QueuePage> {
    const signIn = new SignInPage(page);
    await signIn.open(baseUrl);
    await signIn.signIn(user.username, user.password);
    const queue = new QueuePage(page);
    await queue.waitForLoaded();
    await queue.open(studyUid);
    return queue;
  }

  async waitForLoaded(): Promise<void> {
    await this.page.waitForURL(/\/queue$/);
    await this.page.getByTestId('queue').waitFor();
  }

  item(studyUid: string): Locator {
    return this.page.locator(`[data-testid="queue-item"][data-study-uid="${studyUid}"]`);
  }

  async priorityOf(studyUid: string): Promise<string> {
    return (await this.item(studyUid).getByTestId('priority').textContent()) ?? '';
  }

  async thumbnailLoaded(studyUid: string): Promise<boolean> {
    const img = this.item(studyUid).locator('img.thumb');
    await img.waitFor();
    // Resolves on the image's load/error event (or at once when it is already complete).
    return img.evaluate(
      (node: unknown) =>
        new Promise<boolean>((resolve) => {
          const el = node as { complete: boolean; naturalWidth: number; addEventListener(type: string, fn: () => void): void };
          if (el.complete) resolve(el.naturalWidth > 0);
          el.addEventListener('load', () => resolve(el.naturalWidth > 0));
          el.addEventListener('error', () => resolve(false));
        }),
    );
  }

  async open(studyUid: string): Promise<void> {
    await this.item(studyUid).getByTestId('open-study').click();
    await this.page.waitForURL(new RegExp(`/read/${studyUid.replaceAll('.', '\\.')}$`));
  }
}
