import type { Locator, Page } from 'playwright-core';

/** The admin's Users page (/admin/users): the user table and the new-user form. */
export class UsersPage {
  constructor(private readonly page: Page) {}

  async open(): Promise<void> {
    await this.page.getByRole('link', { name: 'Users' }).click();
    await this.page.getByTestId('users').waitFor();
  }

  row(username: string): Locator {
    return this.page.locator(`[data-testid="user-row"][data-username="${username}"]`);
  }

  /** The page's status line once it says something other than "Saving…". */
  async statusAfter(action: () => Promise<void>): Promise<string> {
    const status = this.page.locator('.users > p.status');
    await status.evaluate((el) => {
      el.textContent = '';
    });
    await action();
    const settled = this.page.locator('.users > p.status', { hasText: /^(?!Saving)./ });
    await settled.waitFor();
    return settled.innerText();
  }

  /** Fills and sends the new-user form; the form's own status line afterwards. */
  async create(user: { username: string; displayName: string; role: string; password: string }): Promise<string> {
    const form = this.page.getByRole('form', { name: 'Create user' });
    await form.getByLabel('User name').fill(user.username);
    await form.getByLabel('Display name').fill(user.displayName);
    await form.getByLabel('Role', { exact: true }).selectOption(user.role);
    await form.getByLabel(/^Initial password/).fill(user.password);
    const status = form.locator('p.status');
    await status.evaluate((el) => {
      el.textContent = '';
    });
    await form.getByRole('button', { name: 'Create user' }).click();
    const settled = form.locator('p.status', { hasText: /^(?!Creating)./ });
    await settled.waitFor();
    return settled.innerText();
  }
}
