import type { Page } from 'playwright-core';

export class SignInPage {
  constructor(private readonly page: Page) {}

  async open(baseUrl: string): Promise<void> {
    await this.page.goto(`${baseUrl}/sign-in`);
  }

  async signIn(username: string, password: string): Promise<void> {
    await this.submitPassword(username, password);
    await this.waitSignedIn();
  }

  /** The password step alone (a role with a second factor goes on to the code step). */
  async submitPassword(username: string, password: string): Promise<void> {
    await this.page.getByLabel('User name').fill(username);
    await this.page.getByLabel('Password').fill(password);
    await this.page.getByRole('button', { name: 'Sign in' }).click();
  }

  /** At a first sign-in that must set up a second factor: the key shown for the authenticator app, without spaces. */
  async enrolmentKey(): Promise<{ secret: string; uri: string }> {
    const key = this.page.getByTestId('totp-secret');
    await key.waitFor();
    return { secret: (await key.innerText()).replace(/\s+/g, ''), uri: (await this.page.getByTestId('totp-uri').getAttribute('href')) ?? '' };
  }

  /** Whether the code step shows a key to set up (false: an enrolled user's plain code step). */
  async showsEnrolmentKey(): Promise<boolean> {
    await this.page.getByRole('textbox', { name: 'One-time code' }).waitFor();
    return (await this.page.getByTestId('totp-secret').count()) > 0;
  }

  async submitCode(code: string): Promise<void> {
    await this.page.getByRole('textbox', { name: 'One-time code' }).fill(code);
    await this.page.getByRole('button', { name: /sign in/i }).click();
  }

  /** The recovery codes shown once after the enrolment that made them (or a new set). */
  async recoveryCodes(): Promise<string[]> {
    const list = this.page.getByTestId('recovery-codes');
    await list.waitFor();
    return (await list.locator('li').allInnerTexts()).map((text) => text.trim());
  }

  async continueAfterRecoveryCodes(): Promise<void> {
    await this.page.getByRole('button', { name: 'I have saved them, continue' }).click();
  }

  /** At the code step: switch the field to a recovery code and send it. */
  async submitRecoveryCode(code: string): Promise<void> {
    await this.page.getByRole('button', { name: 'Use a recovery code instead' }).click();
    await this.page.getByRole('textbox', { name: 'Recovery code' }).fill(code);
    await this.page.getByRole('button', { name: /sign in/i }).click();
  }

  /** After a sign-in with a recovery code: the line that says how many are left. */
  async recoveryCodesLeft(): Promise<string> {
    const line = this.page.getByTestId('recovery-codes-left');
    await line.waitFor();
    return line.innerText();
  }

  /** From that page: a new set for the password (shown as after an enrolment). */
  async makeNewRecoveryCodes(password: string): Promise<void> {
    await this.page.getByLabel('Password').fill(password);
    await this.page.getByRole('button', { name: 'Make a new set' }).click();
  }

  /** The message of the form's status line once it shows an error. */
  async errorMessage(): Promise<string> {
    const alert = this.page.locator('form p.status[data-kind="error"]');
    await alert.waitFor();
    return alert.innerText();
  }

  async waitSignedIn(): Promise<void> {
    await this.page.getByTestId('sign-out').waitFor();
  }

  async signOut(): Promise<void> {
    await this.page.getByTestId('sign-out').click();
    await this.page.getByRole('button', { name: 'Sign in' }).waitFor();
  }
}
