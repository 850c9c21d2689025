import type { Locator, Page } from 'playwright-core';

/** The admin's Clinics page (/admin/clinics): clinics with their AE titles, device keys, and the forms. */
export class ClinicsPage {
  constructor(private readonly page: Page) {}

  async open(): Promise<void> {
    await this.page.getByRole('link', { name: 'Clinics' }).click();
    await this.page.getByTestId('clinics').waitFor();
  }

  row(code: string): Locator {
    return this.page.locator(`[data-testid="clinic-row"][data-code="${code}"]`);
  }

  async aeTitles(code: string): Promise<string[]> {
    return (await this.row(code).getByTestId('ae-title').allInnerTexts()).map((t) => t.replace(/\s*×\s*$/, '').trim());
  }

  /** The page's status line once it has settled on a result of `action`. */
  async statusAfter(action: () => Promise<void>): Promise<string> {
    await this.page.locator('.clinics > p.status').evaluate((el) => {
      el.textContent = '';
    });
    await action();
    const settled = this.page.locator('.clinics > p.status', { hasText: /^(?!Saving)./ });
    await settled.waitFor();
    return settled.innerText();
  }

  async createClinic(clinic: { code: string; name: string; aeTitles: string }): Promise<void> {
    const form = this.page.getByRole('form', { name: 'Create clinic' });
    await form.getByLabel('Code').fill(clinic.code);
    await form.getByLabel('Name').fill(clinic.name);
    await form.getByLabel(/^AE titles/).fill(clinic.aeTitles);
    await form.getByRole('button', { name: 'Create clinic' }).click();
    await form.locator('p.status', { hasText: `${clinic.code} created.` }).waitFor();
  }

  async addAeTitle(code: string, aeTitle: string): Promise<string> {
    await this.row(code).getByRole('textbox').fill(aeTitle);
    return this.statusAfter(() => this.row(code).getByTestId('add-ae-title').click());
  }

  async removeAeTitle(code: string, aeTitle: string): Promise<string> {
    return this.statusAfter(() => this.row(code).getByRole('button', { name: `Remove ${aeTitle}` }).click());
  }

  /** Issues a key for the clinic, ending on `expires` (`YYYY-MM-DD`) when given; the key as shown once. */
  async issueKey(code: string, device: string, expires?: string): Promise<string> {
    const form = this.page.getByRole('form', { name: 'Issue device key' });
    const option = await form.getByLabel('Clinic').locator('option', { hasText: `${code} ·` }).getAttribute('value');
    await form.getByLabel('Clinic').selectOption(option ?? '');
    await form.getByLabel('Device').fill(device);
    if (expires !== undefined) await form.getByLabel(/^Expires/).fill(expires);
    return this.keyShownAfter(() => form.getByRole('button', { name: 'Issue key' }).click());
  }

  async keyShownAfter(action: () => Promise<void>): Promise<string> {
    const before = (await this.page.getByTestId('new-api-key').count()) > 0 ? await this.page.getByTestId('new-api-key').innerText() : '';
    await action();
    const shown = this.page.getByTestId('new-api-key').filter({ hasNotText: before === '' ? /^$/ : before });
    await shown.waitFor();
    return (await shown.innerText()).trim();
  }

  keyRow(key: string): Locator {
    const prefix = /^yy_([a-z0-9]{8})_/.exec(key)?.[1] ?? '';
    return this.page.locator(`[data-testid="key-row"][data-prefix="${prefix}"]`);
  }
}
