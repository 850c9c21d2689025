import jsQR from 'jsqr';
import type { Page } from 'playwright-core';
import sharp from 'sharp';

/** What an authenticator app reads from a QR code on the page: the screenshot decoded by jsQR (not our code). */
export async function scanQrCode(page: Page): Promise<string> {
  const qr = page.getByTestId('totp-qr');
  await qr.waitFor();
  const { data, info } = await sharp(await qr.screenshot()).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const decoded = jsQR(new Uint8ClampedArray(data.buffer, data.byteOffset, data.length), info.width, info.height);
  if (decoded === null) throw new Error('no QR code could be read from the page');
  return decoded.data;
}

/** The web app's account page (/account): password, own sign-ins, one-time codes. */
export class AccountPage {
  constructor(private readonly page: Page) {}

  async open(): Promise<void> {
    await this.page.getByRole('link', { name: 'Account' }).click();
    await this.page.getByRole('heading', { name: 'Account' }).waitFor();
  }

  /** The own sign-ins as listed: the current one and how many others. */
  async sessions(): Promise<{ current: number; others: number }> {
    const table = this.page.getByTestId('own-sessions');
    await table.waitFor();
    return { current: await table.getByTestId('session-current').count(), others: await table.getByTestId('session').count() };
  }

  /** The device names of the current sign-in and of the others, as the list shows them. */
  async devices(): Promise<{ current: string; others: string[] }> {
    const table = this.page.getByTestId('own-sessions');
    await table.waitFor();
    return {
      current: await table.getByTestId('session-current').getByTestId('session-device').innerText(),
      others: await table.getByTestId('session').getByTestId('session-device').allInnerTexts(),
    };
  }

  async endOtherSession(): Promise<void> {
    const before = (await this.sessions()).others;
    await this.page.getByTestId('end-session').first().click();
    // The list is drawn again without it.
    await this.page.getByTestId('session').nth(before - 1).waitFor({ state: 'detached' });
  }

  async changePassword(current: string, next: string): Promise<string> {
    const form = this.page.getByRole('form', { name: 'Change password' });
    await form.getByLabel('Current password').fill(current);
    await form.getByLabel('New password', { exact: true }).fill(next);
    await form.getByLabel('New password again').fill(next);
    await form.getByRole('button', { name: 'Change password' }).click();
    const status = form.locator('p.status', { hasText: /changed|not|refused|differ/i });
    await status.waitFor();
    const text = await status.innerText();
    // The next change waits for its own answer, not this one's.
    await form.locator('p.status').evaluate((el) => {
      el.textContent = '';
    });
    return text;
  }

  async secondFactorState(): Promise<string> {
    const state = this.page.getByTestId('second-factor-state');
    await state.waitFor();
    return state.innerText();
  }

  /** Starts the set-up with the password; the page then shows the QR code and the key. */
  async startOneTimeCodes(password: string): Promise<void> {
    const form = this.page.getByRole('form', { name: 'Set up one-time codes' });
    await form.getByLabel('Current password').fill(password);
    await form.getByRole('button', { name: 'Set up one-time codes' }).click();
  }

  async turnOn(code: string): Promise<void> {
    await this.page.getByRole('textbox', { name: 'One-time code' }).fill(code);
    await this.page.getByRole('button', { name: 'Turn on' }).click();
  }
}
