import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { describeUnless, findExecutable } from '../support/skip';
import { startSystem, type RunningSystem } from '../support/system';
import { makeTestPki } from '../support/test-pki';
import { chromiumMissing, DESKTOP, launchBrowser, newPage, screenshotPath } from './pages/browser';
import { ClinicDimseSettings } from './pages/clinic-dimse.page';
import { ClinicsPage } from './pages/clinics.page';
import { SignInPage } from './pages/sign-in.page';

const run = promisify(execFile);
const dcmtkMissing = findExecutable('echoscu') ? null : 'dcmtk not installed (apt-get install dcmtk)';

/** Whether the archive's DICOM server accepts an association from `aeTitle` (dcmtk's echoscu, a client we did not write). */
async function echoAccepted(port: string, aeTitle: string): Promise<boolean> {
  try {
    await run('echoscu', ['-aet', aeTitle, '-aec', 'YUNYING', '127.0.0.1', port], { timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * #17 and #16, the console page that security.md listed as not done: an admin sets a clinic's DICOM settings on
 * the Clinics page (the routes live on the ingest service, another origin, called with the Bearer token) and the
 * archive's DICOM server obeys them at once, as dcmtk's echoscu sees it: a bare AE title refused while the clinic
 * requires credentials and accepted once it does not, refused from outside its source networks, a device
 * certificate registered from its file (fingerprint as openssl prints it) and revoked, a remote AE registered and
 * removed, and the server's refusals (a network with host bits, text that is no certificate) shown as they come.
 */
describeUnless(chromiumMissing() ?? dcmtkMissing, "a clinic's DICOM settings on the Clinics page (e2e, chromium, dcmtk)", () => {
  let system: RunningSystem;
  let browser: Browser;
  let pkiDir = '';

  beforeAll(async () => {
    system = await startSystem();
    browser = await launchBrowser();
    pkiDir = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-dimse-pki-'));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await system?.stop();
    if (pkiDir !== '') fs.rmSync(pkiDir, { recursive: true, force: true });
  });

  test('policy, source networks, device certificates and remote AEs, each obeyed by the DICOM server or refused as the server says', async () => {
    const dimsePort = system.env.DIMSE_PORT ?? '';
    const admin = system.credentials.users.find((u) => u.role === 'admin');
    const { context, page, errors } = await newPage(browser, DESKTOP);
    const signIn = new SignInPage(page);
    await signIn.open(system.urls.viewer ?? '');
    await signIn.signIn(admin?.username ?? '', admin?.password ?? '');
    const clinics = new ClinicsPage(page);
    await clinics.open();
    await clinics.createClinic({ code: 'hillside-sz', name: 'Hillside Health Check', aeTitles: 'HILL_US1' });
    await clinics.row('hillside-sz').waitFor();

    // A new clinic requires credentials: its AE title alone is refused.
    expect(await echoAccepted(dimsePort, 'HILL_US1')).toBe(false);
    const settings = new ClinicDimseSettings(page, 'hillside-sz');
    await settings.open();
    expect(await settings.setPolicy('ae_only')).toEqual({ text: 'hillside-sz: associations now need the AE title alone.', error: false });
    await clinics.row('hillside-sz').getByText('AE title alone').waitFor();
    expect(await echoAccepted(dimsePort, 'HILL_US1')).toBe(true);

    // Source networks: host bits refused by the server, a network elsewhere shuts loopback out, empty lets any address in.
    const hostBits = await settings.setNetworks('10.99.0.1/16');
    expect(hostBits.error).toBe(true);
    expect(hostBits.text).toMatch(/no host bits/);
    expect(await echoAccepted(dimsePort, 'HILL_US1')).toBe(true);
    expect(await settings.setNetworks('10.99.0.0/16, 192.168.5.0/24')).toEqual({ text: 'hillside-sz: associations accepted from 10.99.0.0/16, 192.168.5.0/24.', error: false });
    expect(await settings.section.getByRole('form', { name: 'DICOM source networks' }).getByRole('textbox').inputValue()).toBe('10.99.0.0/16, 192.168.5.0/24');
    expect(await echoAccepted(dimsePort, 'HILL_US1')).toBe(false);
    expect((await settings.setNetworks('')).text).toBe('hillside-sz: associations accepted from any address.');
    expect(await echoAccepted(dimsePort, 'HILL_US1')).toBe(true);

    // A device certificate from the vendor's file, pinned by the fingerprint openssl prints; then revoked.
    const pki = makeTestPki(pkiDir);
    const device = pki.issue('hill-us1');
    const fingerprint = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', device.cert]).toString().trim().replace(/^.*=/, '');
    const notACertificate = await settings.registerCertificate({ label: 'broken', pem: '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----' });
    expect(notACertificate.error).toBe(true);
    expect(await settings.section.getByTestId('dimse-certificates-empty').count()).toBe(1);
    expect(await settings.registerCertificate({ label: 'US room 1', aeTitle: 'HILL_US1', certificateFile: device.cert })).toEqual({ text: 'Certificate US room 1 registered for hillside-sz.', error: false });
    const row = settings.certificate(fingerprint);
    expect(await row.getAttribute('data-state')).toBe('active');
    expect(await row.locator('td').allInnerTexts()).toEqual(expect.arrayContaining(['US room 1', 'HILL_US1', fingerprint, 'active']));
    expect((await settings.statusAfter(() => row.getByTestId('revoke-certificate').click())).text).toBe('Certificate US room 1 revoked.');
    expect(await settings.certificate(fingerprint).getAttribute('data-state')).toBe('revoked');

    // A reading workstation the clinic retrieves to (C-MOVE destination), registered and removed.
    expect(await settings.registerRemoteAe({ aeTitle: 'HILL_WS', host: '127.0.0.1', port: 11112, commitmentReports: 'new_association' })).toEqual({
      text: 'HILL_WS registered for hillside-sz.',
      error: false,
    });
    expect(await settings.remoteAe('HILL_WS').locator('td').allInnerTexts()).toEqual(['HILL_WS', '127.0.0.1:11112', 'no', 'on a new association', 'Remove']);
    // A workstation behind DICOM TLS with the clinic's own CA: its name and CA go with it; a name without TLS is refused.
    const withoutTls = await settings.registerRemoteAe({ aeTitle: 'HILL_PACS', host: '10.20.1.16', port: 2762, serverName: 'pacs.hillside.example' });
    expect(withoutTls).toEqual({ text: 'tlsCaPem and tlsServerName apply only with tls: true', error: true });
    const caPem = fs.readFileSync(pki.ca.cert, 'utf8');
    expect((await settings.registerRemoteAe({ aeTitle: 'HILL_PACS', host: '10.20.1.16', port: 2762, tls: true, serverName: 'pacs.hillside.example', caPem })).error).toBe(false);
    expect(await settings.remoteAe('HILL_PACS').locator('td').allInnerTexts()).toEqual(['HILL_PACS', '10.20.1.16:2762', 'TLS (pacs.hillside.example)', 'on the same association', 'Remove']);
    await page.screenshot({ path: screenshotPath('admin-clinic-dimse.png'), fullPage: true });
    expect((await settings.statusAfter(() => settings.remoteAe('HILL_WS').getByTestId('remove-destination').click())).text).toBe('HILL_WS removed from hillside-sz.');
    expect(await settings.remoteAe('HILL_WS').count()).toBe(0);
    expect(await settings.remoteAe('HILL_PACS').count()).toBe(1);

    // Back to credentials: the bare AE title is refused again.
    expect((await settings.setPolicy('credentials')).text).toBe('hillside-sz: associations now need a credential.');
    expect(await echoAccepted(dimsePort, 'HILL_US1')).toBe(false);
    await settings.section.getByTestId('close-dimse-settings').click();
    await settings.section.waitFor({ state: 'detached' });
    // The refusals above were answers the page showed, not failures of the page.
    expect(errors.filter((e) => !/(400|401|409|422)/.test(e))).toEqual([]);
    await context.close();
  });
});
