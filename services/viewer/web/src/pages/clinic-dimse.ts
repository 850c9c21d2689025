import { formatDateTime, h, replace, statusLine } from '../app/dom';
import { drawShowingErrors, saveThen } from '../app/forms';
import { ingestJson } from '../app/ingest-api';
import { arr, bool, num, obj, str, type JsonObject } from '../app/json';

const POLICIES = [
  { value: 'credentials', text: 'credentials (TLS certificate or user identity)' },
  { value: 'ae_only', text: 'AE title alone (a gateway on a trusted network)' },
] as const;

/** The networks an admin typed: commas, spaces or new lines between them; none means any address. */
export function networksTyped(text: string): string[] | null {
  const list = text
    .split(/[\s,;]+/)
    .map((n) => n.trim())
    .filter((n) => n !== '');
  return list.length > 0 ? list : null;
}

/** Submits `form` as one change: the browser's own checks first, then `run`. */
function onSubmit(form: HTMLFormElement, signal: AbortSignal, run: () => void): void {
  form.addEventListener(
    'submit',
    (event) => {
      event.preventDefault();
      run();
    },
    { signal },
  );
}

/**
 * One clinic's DICOM settings, for admins (#16, #17): whether its associations must show a credential, the
 * networks they may come from, the device certificates pinned for DICOM TLS (registered from PEM, revoked, never
 * deleted) and the remote AEs it registered (C-MOVE destinations, where commitment reports go). These routes live
 * on the ingest service beside the DICOM server they configure (called with the Bearer token, ingest-api.ts);
 * the service validates and audits every change (Security Configuration), and its refusals are shown as they come.
 */
export function clinicDimseSettings(clinic: { id: string; code: string }, signal: AbortSignal, onPolicyChanged: () => void): HTMLElement {
  const status = statusLine();
  const body = h('div', {});
  const close = h('button', { type: 'button', class: 'link close', 'data-testid': 'close-dimse-settings' }, 'Close');
  const section = h(
    'section',
    { class: 'card dimse-settings', 'aria-label': `DICOM settings of ${clinic.code}`, 'data-testid': 'dimse-settings', 'data-code': clinic.code },
    h('h2', {}, `DICOM settings of ${clinic.code} `, close),
    status.el,
    body,
  );
  close.addEventListener('click', () => section.remove(), { signal });
  const base = `/api/admin/clinics/${clinic.id}`;
  const change = (run: () => Promise<unknown>, done: string, after: () => void = () => undefined): void =>
    saveThen(
      status,
      () => run().then(() => done),
      () => load().then(after),
    );

  const policyForm = (current: string): HTMLFormElement => {
    const select = h('select', { id: 'dimse-policy', name: 'dimse-policy' }, ...POLICIES.map((p) => h('option', { value: p.value }, p.text)));
    select.value = current;
    const form = h('form', { 'aria-label': 'DICOM association policy' }, h('label', { for: 'dimse-policy' }, 'Associations must show'), select, h('button', { type: 'submit' }, 'Save policy'));
    onSubmit(form, signal, () =>
      change(() => ingestJson('PUT', `${base}/dimse-auth`, { dimseAuth: select.value }), `${clinic.code}: associations now need ${select.value === 'ae_only' ? 'the AE title alone' : 'a credential'}.`, onPolicyChanged),
    );
    return form;
  };

  const networksForm = (current: string[] | null): HTMLFormElement => {
    const input = h('input', { id: 'dimse-networks', name: 'dimse-networks', value: current?.join(', ') ?? '', placeholder: 'any address, e.g. 10.20.0.0/16, 192.168.5.0/24' });
    const form = h(
      'form',
      { 'aria-label': 'DICOM source networks' },
      h('label', { for: 'dimse-networks' }, 'Associations only from these networks (CIDR; empty: any address)'),
      input,
      h('button', { type: 'submit' }, 'Save networks'),
    );
    onSubmit(form, signal, () => {
      const networks = networksTyped(input.value);
      change(() => ingestJson('PUT', `${base}/dimse-source-networks`, { sourceNetworks: networks }), `${clinic.code}: associations accepted from ${networks === null ? 'any address' : networks.join(', ')}.`);
    });
    return form;
  };

  const certificateRow = (c: JsonObject): HTMLTableRowElement => {
    const fingerprint = str(c.fingerprintSha256) ?? '';
    const label = str(c.label) ?? '';
    const revoked = str(c.revokedAt) !== null;
    const actions = h('td', { class: 'actions' });
    if (!revoked) {
      const revoke = h('button', { type: 'button', class: 'link', 'data-testid': 'revoke-certificate' }, 'Revoke');
      revoke.addEventListener('click', () => change(() => ingestJson('POST', `/api/admin/dimse-certificates/${encodeURIComponent(fingerprint)}/revoke`), `Certificate ${label} revoked.`), { signal });
      actions.append(revoke);
    }
    return h(
      'tr',
      { 'data-testid': 'dimse-certificate', 'data-fingerprint': fingerprint, 'data-state': revoked ? 'revoked' : 'active' },
      h('td', {}, label),
      h('td', {}, str(c.aeTitle) ?? 'any of its AE titles'),
      h('td', {}, h('code', { class: 'fingerprint' }, fingerprint)),
      h('td', {}, formatDateTime(str(c.createdAt))),
      h('td', {}, revoked ? `revoked ${formatDateTime(str(c.revokedAt))}` : 'active'),
      actions,
    );
  };

  const certificateForm = (): HTMLFormElement => {
    const label = h('input', { id: 'cert-label', name: 'cert-label', required: true, maxlength: 128, placeholder: 'e.g. US room 2, Mindray DC-80' });
    const aeTitle = h('input', { id: 'cert-ae', name: 'cert-ae', maxlength: 16, placeholder: 'optional: only this AE title' });
    const file = h('input', { id: 'cert-file', name: 'cert-file', type: 'file', accept: '.pem,.crt,.cer,application/x-pem-file' });
    const pem = h('textarea', { id: 'cert-pem', name: 'cert-pem', required: true, rows: 6, spellcheck: false, placeholder: '-----BEGIN CERTIFICATE-----' });
    // A certificate file from the device's vendor fills the text box; what is registered is what is shown.
    file.addEventListener(
      'change',
      () => {
        const chosen = file.files?.[0];
        if (chosen) void chosen.text().then((text) => (pem.value = text));
      },
      { signal },
    );
    const form = h(
      'form',
      { 'aria-label': 'Register device certificate' },
      h('label', { for: 'cert-label' }, 'Device'),
      label,
      h('label', { for: 'cert-ae' }, 'AE title (optional)'),
      aeTitle,
      h('label', { for: 'cert-file' }, 'Certificate file (PEM)'),
      file,
      h('label', { for: 'cert-pem' }, 'Certificate (PEM)'),
      pem,
      h('button', { type: 'submit' }, 'Register certificate'),
    );
    onSubmit(form, signal, () =>
      change(
        () => ingestJson('POST', `${base}/dimse-certificates`, { certificate: pem.value, label: label.value.trim(), ...(aeTitle.value.trim() !== '' ? { aeTitle: aeTitle.value.trim() } : {}) }),
        `Certificate ${label.value.trim()} registered for ${clinic.code}.`,
      ),
    );
    return form;
  };

  const destinationRow = (d: JsonObject): HTMLTableRowElement => {
    const ae = str(d.aeTitle) ?? '';
    const remove = h('button', { type: 'button', class: 'link', 'data-testid': 'remove-destination' }, 'Remove');
    remove.addEventListener('click', () => change(() => ingestJson('DELETE', `${base}/dimse-destinations/${encodeURIComponent(ae)}`), `${ae} removed from ${clinic.code}.`), { signal });
    const tls = bool(d.tls) === true;
    return h(
      'tr',
      { 'data-testid': 'dimse-destination', 'data-ae': ae },
      h('td', {}, h('strong', {}, ae)),
      h('td', {}, `${str(d.host) ?? ''}:${num(d.port) ?? ''}`),
      h('td', {}, tls ? `TLS${str(d.tlsServerName) !== null ? ` (${str(d.tlsServerName) ?? ''})` : ''}` : 'no'),
      h('td', {}, str(d.commitmentReports) === 'new_association' ? 'on a new association' : 'on the same association'),
      h('td', { class: 'actions' }, remove),
    );
  };

  const destinationForm = (): HTMLFormElement => {
    const ae = h('input', { id: 'dest-ae', name: 'dest-ae', required: true, maxlength: 16, placeholder: 'e.g. LAKE_WS' });
    const host = h('input', { id: 'dest-host', name: 'dest-host', required: true, maxlength: 253, placeholder: 'e.g. 10.20.1.15' });
    const port = h('input', { id: 'dest-port', name: 'dest-port', type: 'number', min: 1, max: 65535, value: 104, required: true });
    const tls = h('input', { id: 'dest-tls', name: 'dest-tls', type: 'checkbox' });
    // A workstation with a certificate from the clinic's own CA: the name it presents and that CA.
    const serverName = h('input', { id: 'dest-tls-name', name: 'dest-tls-name', maxlength: 253, placeholder: 'optional: the name in its certificate' });
    const caPem = h('textarea', { id: 'dest-tls-ca', name: 'dest-tls-ca', rows: 3, spellcheck: false, placeholder: 'optional: -----BEGIN CERTIFICATE----- of its CA' });
    const reports = h(
      'select',
      { id: 'dest-reports', name: 'dest-reports' },
      h('option', { value: 'same_association' }, 'on the same association'),
      h('option', { value: 'new_association' }, 'on a new association'),
    );
    const form = h(
      'form',
      { 'aria-label': 'Register remote AE' },
      h('label', { for: 'dest-ae' }, 'AE title'),
      ae,
      h('label', { for: 'dest-host' }, 'Host'),
      host,
      h('label', { for: 'dest-port' }, 'Port'),
      port,
      h('label', { class: 'check' }, tls, ' DICOM TLS'),
      h('label', { for: 'dest-tls-name' }, 'TLS server name'),
      serverName,
      h('label', { for: 'dest-tls-ca' }, 'TLS CA certificate (PEM)'),
      caPem,
      h('label', { for: 'dest-reports' }, 'Storage commitment reports'),
      reports,
      h('button', { type: 'submit' }, 'Register remote AE'),
    );
    onSubmit(form, signal, () =>
      change(
        () => ingestJson('PUT', `${base}/dimse-destinations/${encodeURIComponent(ae.value.trim())}`, {
            host: host.value.trim(),
            port: Number(port.value),
            tls: tls.checked,
            tlsServerName: serverName.value.trim() === '' ? null : serverName.value.trim(),
            tlsCaPem: caPem.value.trim() === '' ? null : caPem.value,
            commitmentReports: reports.value,
          }),
        `${ae.value.trim()} registered for ${clinic.code}.`,
      ),
    );
    return form;
  };

  const table = (testId: string, headings: string[], rows: HTMLTableRowElement[], empty: string): HTMLElement =>
    rows.length > 0
      ? h('table', { class: 'data', 'data-testid': testId }, h('thead', {}, h('tr', {}, ...headings.map((t) => h('th', { scope: 'col' }, t)))), h('tbody', {}, ...rows))
      : h('p', { class: 'muted', 'data-testid': `${testId}-empty` }, empty);

  const draw = (settings: JsonObject, destinations: JsonObject[]): void => {
    const networks = arr(settings.sourceNetworks).map((n) => String(n));
    replace(
      body,
      policyForm(str(settings.dimseAuth) ?? 'credentials'),
      networksForm(settings.sourceNetworks === null ? null : networks),
      h('h3', {}, 'Device certificates (DICOM TLS)'),
      table('dimse-certificates', ['Device', 'AE title', 'SHA-256 fingerprint', 'Registered', 'State', ''], arr(settings.certificates).map(obj).map(certificateRow), 'No certificate registered.'),
      certificateForm(),
      h('h3', {}, 'Remote AEs (C-MOVE destinations, commitment reports)'),
      table('dimse-destinations', ['AE title', 'Address', 'TLS', 'Commitment reports', ''], destinations.map(destinationRow), 'No remote AE registered.'),
      destinationForm(),
    );
  };

  /** Fetches the clinic's settings and draws them; rejects when it could not. */
  async function load(): Promise<void> {
    const [settings, destinations] = await Promise.all([ingestJson('GET', `${base}/dimse`, undefined, signal), ingestJson('GET', `${base}/dimse-destinations`, undefined, signal)]);
    draw(obj(settings), arr(destinations).map(obj));
  }

  drawShowingErrors(status, signal, load);
  return section;
}
