import type { Page } from 'playwright-core';

/** The embedded OIDC provider's login interaction (packages/auth/src/oidc/provider/login.page.ts): plain HTML forms. */
export class OidcLoginPage {
  constructor(private readonly page: Page) {}

  async submitPassword(username: string, password: string): Promise<void> {
    await this.page.getByLabel('Username').fill(username);
    await this.page.getByLabel('Password').fill(password);
    await this.page.getByRole('button', { name: 'Sign in' }).click();
  }

  /** The key shown at a first sign-in that must set up a second factor, without spaces. */
  async enrolmentKey(): Promise<string> {
    const key = this.page.getByTestId('totp-secret');
    await key.waitFor();
    return (await key.innerText()).replace(/\s+/g, '');
  }

  async submitCode(code: string): Promise<void> {
    await this.page.getByRole('textbox', { name: 'One-time code' }).fill(code);
    await this.page.getByRole('button', { name: /sign in/i }).click();
  }

  /** The recovery codes page after an enrolment: the codes, then on to the app. */
  async recoveryCodesThenContinue(): Promise<string[]> {
    const list = this.page.getByTestId('recovery-codes');
    await list.waitFor();
    const codes = (await list.locator('li').allInnerTexts()).map((text) => text.trim());
    await this.page.getByTestId('continue').click();
    return codes;
  }

  async alert(): Promise<string> {
    const alert = this.page.getByRole('alert');
    await alert.waitFor();
    return alert.innerText();
  }
}
