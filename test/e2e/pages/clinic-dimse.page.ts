import type { Locator, Page } from 'playwright-core';

/** One clinic's DICOM settings on the Clinics page (opened with the row's "Settings"). */
export class ClinicDimseSettings {
  readonly section: Locator;

  constructor(
    private readonly page: Page,
    readonly code: string,
  ) {
    this.section = page.locator(`[data-testid="dimse-settings"][data-code="${code}"]`);
  }

  async open(): Promise<void> {
    await this.page.locator(`[data-testid="clinic-row"][data-code="${this.code}"]`).getByTestId('open-dimse-settings').click();
    await this.section.getByRole('form', { name: 'DICOM association policy' }).waitFor();
  }

  /** The section's status line once it has settled on a result of `action`, and whether it is an error. */
  async statusAfter(action: () => Promise<void>): Promise<{ text: string; error: boolean }> {
    const status = this.section.locator('p.status').first();
    await status.evaluate((el) => {
      el.textContent = '';
    });
    await action();
    const settled = this.section.locator('p.status', { hasText: /^(?!Saving)./ }).first();
    await settled.waitFor();
    return { text: await settled.innerText(), error: (await settled.getAttribute('data-kind')) === 'error' };
  }

  async setPolicy(value: 'credentials' | 'ae_only'): Promise<{ text: string; error: boolean }> {
    const form = this.section.getByRole('form', { name: 'DICOM association policy' });
    await form.getByLabel('Associations must show').selectOption(value);
    return this.statusAfter(() => form.getByRole('button', { name: 'Save policy' }).click());
  }

  async setNetworks(text: string): Promise<{ text: string; error: boolean }> {
    const form = this.section.getByRole('form', { name: 'DICOM source networks' });
    await form.getByRole('textbox').fill(text);
    return this.statusAfter(() => form.getByRole('button', { name: 'Save networks' }).click());
  }

  /** Registers a certificate from a file, as an admin would pick the vendor's .crt. */
  async registerCertificate(device: { label: string; aeTitle?: string; certificateFile?: string; pem?: string }): Promise<{ text: string; error: boolean }> {
    const form = this.section.getByRole('form', { name: 'Register device certificate' });
    await form.getByLabel('Device', { exact: true }).fill(device.label);
    if (device.aeTitle !== undefined) await form.getByLabel('AE title (optional)').fill(device.aeTitle);
    const pem = form.getByLabel('Certificate (PEM)', { exact: true });
    if (device.certificateFile !== undefined) {
      await form.getByLabel('Certificate file (PEM)').setInputFiles(device.certificateFile);
      // The file is read into the text box: what is registered is what the admin sees.
      await this.page.waitForFunction((el) => (el as { value: string }).value.includes('BEGIN CERTIFICATE'), await pem.elementHandle());
    }
    if (device.pem !== undefined) await pem.fill(device.pem);
    return this.statusAfter(() => form.getByRole('button', { name: 'Register certificate' }).click());
  }

  certificate(fingerprint: string): Locator {
    return this.section.locator(`[data-testid="dimse-certificate"][data-fingerprint="${fingerprint}"]`);
  }

  async registerRemoteAe(ae: {
    aeTitle: string;
    host: string;
    port: number;
    commitmentReports?: 'same_association' | 'new_association';
    tls?: boolean;
    serverName?: string;
    caPem?: string;
  }): Promise<{ text: string; error: boolean }> {
    const form = this.section.getByRole('form', { name: 'Register remote AE' });
    await form.getByLabel('AE title', { exact: true }).fill(ae.aeTitle);
    await form.getByLabel('Host', { exact: true }).fill(ae.host);
    await form.getByLabel('Port', { exact: true }).fill(String(ae.port));
    if (ae.tls !== undefined) await form.getByLabel('DICOM TLS').setChecked(ae.tls);
    if (ae.serverName !== undefined) await form.getByLabel('TLS server name').fill(ae.serverName);
    if (ae.caPem !== undefined) await form.getByLabel('TLS CA certificate (PEM)').fill(ae.caPem);
    if (ae.commitmentReports !== undefined) await form.getByLabel('Storage commitment reports').selectOption(ae.commitmentReports);
    return this.statusAfter(() => form.getByRole('button', { name: 'Register remote AE' }).click());
  }

  remoteAe(aeTitle: string): Locator {
    return this.section.locator(`[data-testid="dimse-destination"][data-ae="${aeTitle}"]`);
  }
}
