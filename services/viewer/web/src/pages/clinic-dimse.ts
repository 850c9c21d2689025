import { formatDateTime, h, replace, statusLine } from '../app/dom';
import { drawShowingErrors, saveThen } from '../app/forms';
import { ingestJson } from '../app/ingest-api';
import { arr, bool, num, obj, str, type JsonObject } from '../app/json';
import { t } from '../app/i18n';

/** The association policies (the value is the code the API takes), named in the reader's language. */
function policies(): { value: 'credentials' | 'ae_only'; text: string }[] {
  return [
    { value: 'credentials', text: t('credentials (TLS certificate or user identity)', '凭据（TLS 证书或用户身份）') },
    { value: 'ae_only', text: t('AE title alone (a gateway on a trusted network)', '仅 AE 称号（位于可信网络中的网关）') },
  ];
}

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
  const close = h('button', { type: 'button', class: 'link close', 'data-testid': 'close-dimse-settings' }, t('Close', '关闭'));
  const section = h(
    'section',
    { class: 'card dimse-settings', 'aria-label': t(`DICOM settings of ${clinic.code}`, `${clinic.code} 的 DICOM 设置`), 'data-testid': 'dimse-settings', 'data-code': clinic.code },
    h('h2', {}, t(`DICOM settings of ${clinic.code} `, `${clinic.code} 的 DICOM 设置 `), close),
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
    const select = h('select', { id: 'dimse-policy', name: 'dimse-policy' }, ...policies().map((p) => h('option', { value: p.value }, p.text)));
    select.value = current;
    const form = h(
      'form',
      { 'aria-label': t('DICOM association policy', 'DICOM 关联策略') },
      h('label', { for: 'dimse-policy' }, t('Associations must show', '关联须出示')),
      select,
      h('button', { type: 'submit' }, t('Save policy', '保存策略')),
    );
    onSubmit(form, signal, () =>
      change(
        () => ingestJson('PUT', `${base}/dimse-auth`, { dimseAuth: select.value }),
        select.value === 'ae_only'
          ? t(`${clinic.code}: associations now need the AE title alone.`, `${clinic.code}：关联现在仅需 AE 称号。`)
          : t(`${clinic.code}: associations now need a credential.`, `${clinic.code}：关联现在须出示凭据。`),
        onPolicyChanged,
      ),
    );
    return form;
  };

  const networksForm = (current: string[] | null): HTMLFormElement => {
    const input = h('input', { id: 'dimse-networks', name: 'dimse-networks', value: current?.join(', ') ?? '', placeholder: t('any address, e.g. 10.20.0.0/16, 192.168.5.0/24', '任意地址，例如 10.20.0.0/16, 192.168.5.0/24') });
    const form = h(
      'form',
      { 'aria-label': t('DICOM source networks', 'DICOM 源网络') },
      h('label', { for: 'dimse-networks' }, t('Associations only from these networks (CIDR; empty: any address)', '仅接受来自以下网络的关联（CIDR 格式；留空则不限地址）')),
      input,
      h('button', { type: 'submit' }, t('Save networks', '保存源网络')),
    );
    onSubmit(form, signal, () => {
      const networks = networksTyped(input.value);
      change(
        () => ingestJson('PUT', `${base}/dimse-source-networks`, { sourceNetworks: networks }),
        networks === null
          ? t(`${clinic.code}: associations accepted from any address.`, `${clinic.code}：接受来自任意地址的关联。`)
          : t(`${clinic.code}: associations accepted from ${networks.join(', ')}.`, `${clinic.code}：接受来自 ${networks.join(', ')} 的关联。`),
      );
    });
    return form;
  };

  const certificateRow = (c: JsonObject): HTMLTableRowElement => {
    const fingerprint = str(c.fingerprintSha256) ?? '';
    const label = str(c.label) ?? '';
    const revoked = str(c.revokedAt) !== null;
    const actions = h('td', { class: 'actions' });
    if (!revoked) {
      const revoke = h('button', { type: 'button', class: 'link', 'data-testid': 'revoke-certificate' }, t('Revoke', '撤销'));
      revoke.addEventListener(
        'click',
        () => change(() => ingestJson('POST', `/api/admin/dimse-certificates/${encodeURIComponent(fingerprint)}/revoke`), t(`Certificate ${label} revoked.`, `证书 ${label} 已撤销。`)),
        { signal },
      );
      actions.append(revoke);
    }
    return h(
      'tr',
      { 'data-testid': 'dimse-certificate', 'data-fingerprint': fingerprint, 'data-state': revoked ? 'revoked' : 'active' },
      h('td', {}, label),
      h('td', {}, str(c.aeTitle) ?? t('any of its AE titles', '该机构的任一 AE 称号')),
      h('td', {}, h('code', { class: 'fingerprint' }, fingerprint)),
      h('td', {}, formatDateTime(str(c.createdAt))),
      h('td', {}, revoked ? t(`revoked ${formatDateTime(str(c.revokedAt))}`, `已于 ${formatDateTime(str(c.revokedAt))} 撤销`) : t('active', '有效')),
      actions,
    );
  };

  const certificateForm = (): HTMLFormElement => {
    const label = h('input', { id: 'cert-label', name: 'cert-label', required: true, maxlength: 128, placeholder: t('e.g. US room 2, Mindray DC-80', '例如：超声 2 室，迈瑞 DC-80') });
    const aeTitle = h('input', { id: 'cert-ae', name: 'cert-ae', maxlength: 16, placeholder: t('optional: only this AE title', '可选：仅限此 AE 称号') });
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
      { 'aria-label': t('Register device certificate', '登记设备证书') },
      h('label', { for: 'cert-label' }, t('Device', '设备')),
      label,
      h('label', { for: 'cert-ae' }, t('AE title (optional)', 'AE 称号（可选）')),
      aeTitle,
      h('label', { for: 'cert-file' }, t('Certificate file (PEM)', '证书文件（PEM）')),
      file,
      h('label', { for: 'cert-pem' }, t('Certificate (PEM)', '证书（PEM）')),
      pem,
      h('button', { type: 'submit' }, t('Register certificate', '登记证书')),
    );
    onSubmit(form, signal, () =>
      change(
        () => ingestJson('POST', `${base}/dimse-certificates`, { certificate: pem.value, label: label.value.trim(), ...(aeTitle.value.trim() !== '' ? { aeTitle: aeTitle.value.trim() } : {}) }),
        t(`Certificate ${label.value.trim()} registered for ${clinic.code}.`, `已为 ${clinic.code} 登记证书 ${label.value.trim()}。`),
      ),
    );
    return form;
  };

  const destinationRow = (d: JsonObject): HTMLTableRowElement => {
    const ae = str(d.aeTitle) ?? '';
    const remove = h('button', { type: 'button', class: 'link', 'data-testid': 'remove-destination' }, t('Remove', '移除'));
    remove.addEventListener('click', () => change(() => ingestJson('DELETE', `${base}/dimse-destinations/${encodeURIComponent(ae)}`), t(`${ae} removed from ${clinic.code}.`, `已从 ${clinic.code} 移除 ${ae}。`)), { signal });
    const tls = bool(d.tls) === true;
    return h(
      'tr',
      { 'data-testid': 'dimse-destination', 'data-ae': ae },
      h('td', {}, h('strong', {}, ae)),
      h('td', {}, `${str(d.host) ?? ''}:${num(d.port) ?? ''}`),
      h('td', {}, tls ? `TLS${str(d.tlsServerName) !== null ? t(` (${str(d.tlsServerName) ?? ''})`, `（${str(d.tlsServerName) ?? ''}）`) : ''}` : t('no', '否')),
      h('td', {}, str(d.commitmentReports) === 'new_association' ? t('on a new association', '通过新关联发送') : t('on the same association', '在同一关联上发送')),
      h('td', { class: 'actions' }, remove),
    );
  };

  const destinationForm = (): HTMLFormElement => {
    const ae = h('input', { id: 'dest-ae', name: 'dest-ae', required: true, maxlength: 16, placeholder: t('e.g. LAKE_WS', '例如：LAKE_WS') });
    const host = h('input', { id: 'dest-host', name: 'dest-host', required: true, maxlength: 253, placeholder: t('e.g. 10.20.1.15', '例如：10.20.1.15') });
    const port = h('input', { id: 'dest-port', name: 'dest-port', type: 'number', min: 1, max: 65535, value: 104, required: true });
    const tls = h('input', { id: 'dest-tls', name: 'dest-tls', type: 'checkbox' });
    // A workstation with a certificate from the clinic's own CA: the name it presents and that CA.
    const serverName = h('input', { id: 'dest-tls-name', name: 'dest-tls-name', maxlength: 253, placeholder: t('optional: the name in its certificate', '可选：其证书中的名称') });
    const caPem = h('textarea', { id: 'dest-tls-ca', name: 'dest-tls-ca', rows: 3, spellcheck: false, placeholder: t('optional: -----BEGIN CERTIFICATE----- of its CA', '可选：其 CA 证书的 -----BEGIN CERTIFICATE-----') });
    const reports = h(
      'select',
      { id: 'dest-reports', name: 'dest-reports' },
      h('option', { value: 'same_association' }, t('on the same association', '在同一关联上发送')),
      h('option', { value: 'new_association' }, t('on a new association', '通过新关联发送')),
    );
    const form = h(
      'form',
      { 'aria-label': t('Register remote AE', '登记远程 AE') },
      h('label', { for: 'dest-ae' }, t('AE title', 'AE 称号')),
      ae,
      h('label', { for: 'dest-host' }, t('Host', '主机')),
      host,
      h('label', { for: 'dest-port' }, t('Port', '端口')),
      port,
      h('label', { class: 'check' }, tls, ' DICOM TLS'),
      h('label', { for: 'dest-tls-name' }, t('TLS server name', 'TLS 服务器名称')),
      serverName,
      h('label', { for: 'dest-tls-ca' }, t('TLS CA certificate (PEM)', 'TLS CA 证书（PEM）')),
      caPem,
      h('label', { for: 'dest-reports' }, t('Storage commitment reports', '存储确认报告')),
      reports,
      h('button', { type: 'submit' }, t('Register remote AE', '登记远程 AE')),
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
        t(`${ae.value.trim()} registered for ${clinic.code}.`, `已为 ${clinic.code} 登记 ${ae.value.trim()}。`),
      ),
    );
    return form;
  };

  const table = (testId: string, headings: string[], rows: HTMLTableRowElement[], empty: string): HTMLElement =>
    rows.length > 0
      ? h('table', { class: 'data', 'data-testid': testId }, h('thead', {}, h('tr', {}, ...headings.map((heading) => h('th', { scope: 'col' }, heading)))), h('tbody', {}, ...rows))
      : h('p', { class: 'muted', 'data-testid': `${testId}-empty` }, empty);

  const draw = (settings: JsonObject, destinations: JsonObject[]): void => {
    const networks = arr(settings.sourceNetworks).map((n) => String(n));
    replace(
      body,
      policyForm(str(settings.dimseAuth) ?? 'credentials'),
      networksForm(settings.sourceNetworks === null ? null : networks),
      h('h3', {}, t('Device certificates (DICOM TLS)', '设备证书（DICOM TLS）')),
      table(
        'dimse-certificates',
        [t('Device', '设备'), t('AE title', 'AE 称号'), t('SHA-256 fingerprint', 'SHA-256 指纹'), t('Registered', '登记时间'), t('State', '状态'), ''],
        arr(settings.certificates).map(obj).map(certificateRow),
        t('No certificate registered.', '尚未登记证书。'),
      ),
      certificateForm(),
      h('h3', {}, t('Remote AEs (C-MOVE destinations, commitment reports)', '远程 AE（C-MOVE 目标，存储确认报告）')),
      table(
        'dimse-destinations',
        [t('AE title', 'AE 称号'), t('Address', '地址'), 'TLS', t('Commitment reports', '存储确认报告'), ''],
        destinations.map(destinationRow),
        t('No remote AE registered.', '尚未登记远程 AE。'),
      ),
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
