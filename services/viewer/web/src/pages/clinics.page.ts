import { getJson, request, sendJson } from '../app/api';
import { formatDateTime, h, replace, statusLine } from '../app/dom';
import { drawShowingErrors, saveThen, submitWith } from '../app/forms';
import { arr, num, obj, str, strings, type JsonObject } from '../app/json';
import type { PageContext, Teardown } from '../app/router';
import { clinicDimseSettings } from './clinic-dimse';
import { t } from '../app/i18n';

/** `YYYY-MM-DD` of the browser's own calendar day (what a date input shows and takes). */
function localDate(d: Date): string {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

type KeyState = 'active' | 'expired' | 'revoked' | 'replaced';

/** A key's state in the reader's language (the row's data-state keeps the code). */
function keyStateLabel(state: KeyState): string {
  return { active: t('active', '有效'), expired: t('expired', '已到期'), revoked: t('revoked', '已撤销'), replaced: t('replaced', '已轮换') }[state];
}

/**
 * Clinics and their devices, for admins: onboard a centre (code, name, retention, its modalities' AE titles, how
 * DICOM associations must authenticate), add or remove an AE title when a machine is replaced, its DICOM settings
 * (clinic-dimse.ts: policy, source networks, TLS device certificates, remote AEs), and issue, rotate or
 * revoke the API keys its gateways upload with. A new key is shown once (only its hash is kept). The same API as
 * before (`/api/admin/clinics`, `/api/admin/api-keys`), which audits every change.
 */
export function clinicsPage(ctx: PageContext): Teardown {
  const controller = new AbortController();
  const { signal } = controller;
  const status = statusLine();
  const clinicList = h('div', {});
  const dimseDetail = h('div', {});
  const keyList = h('div', {});
  const shownKey = h('div', { 'aria-live': 'polite' });
  const createClinic = h('section', { class: 'card', 'aria-label': t('New clinic', '新建机构') });
  const createKey = h('section', { class: 'card', 'aria-label': t('New device key', '新建设备密钥') });
  replace(
    ctx.root,
    h(
      'section',
      { class: 'page wide clinics' },
      h('h1', {}, t('Clinics', '机构')),
      h(
        'p',
        {},
        t(
          'Centres, the AE titles of their modalities, and the API keys their gateways upload with. Every change is audited.',
          '各体检中心、其检查设备的 AE 称号，以及其网关上传所用的设备密钥（API 密钥）。每项更改都记入审计。',
        ),
      ),
      status.el,
      clinicList,
      dimseDetail,
      h('h2', {}, t('Device keys', '设备密钥')),
      shownKey,
      keyList,
      createKey,
      createClinic,
    ),
  );

  let clinics: JsonObject[] = [];
  const codeOf = (id: string | null): string => str(clinics.find((c) => str(c.id) === id)?.code) ?? id ?? '—';

  const change = (run: () => Promise<unknown>, done: string): void => {
    // A key shown once is not left on screen past the next change (a revoked one least of all).
    replace(shownKey);
    saveThen(status, () => run().then(() => done), load);
  };

  /** A new key, shown once: the admin copies it into the gateway's configuration now. */
  const showKey = (created: unknown): void => {
    const body = obj(created);
    const clinic = codeOf(str(body.clinicId));
    const device = str(body.name) ?? '';
    replace(
      shownKey,
      h(
        'p',
        { class: 'new-key', role: 'status' },
        t(`New key for ${clinic} (${device}): `, `${clinic}（${device}）的新密钥：`),
        h('code', { 'data-testid': 'new-api-key' }, str(body.key) ?? ''),
        t(' — copy it into the gateway now; it is not shown again.', ' — 请立即复制到网关配置中；此密钥不会再次显示。'),
      ),
    );
  };

  const clinicRow = (c: JsonObject): HTMLTableRowElement => {
    const id = str(c.id) ?? '';
    const code = str(c.code) ?? '';
    const titles = strings(c.aeTitles).map((ae) => {
      const remove = h('button', { type: 'button', class: 'link', 'aria-label': t(`Remove ${ae}`, `移除 ${ae}`) }, '×');
      remove.addEventListener('click', () => change(() => request('DELETE', `/api/admin/clinics/${id}/ae-titles/${encodeURIComponent(ae)}`), t(`${ae} removed from ${code}.`, `已从 ${code} 移除 ${ae}。`)), { signal });
      return h('span', { class: 'ae', 'data-testid': 'ae-title' }, ae, ' ', remove);
    });
    const newAe = h('input', { 'aria-label': t(`New AE title for ${code}`, `${code} 的新 AE 称号`), placeholder: t('AE title', 'AE 称号'), maxlength: 16, size: 10 });
    const add = h('button', { type: 'button', class: 'link', 'data-testid': 'add-ae-title' }, t('Add', '添加'));
    add.addEventListener(
      'click',
      () => {
        const ae = newAe.value.trim();
        change(() => request('PUT', `/api/admin/clinics/${id}/ae-titles/${encodeURIComponent(ae)}`), t(`${ae} registered for ${code}.`, `已为 ${code} 登记 ${ae}。`));
      },
      { signal },
    );
    // Certificates, source networks and remote AEs open below the table, one clinic at a time.
    const settings = h('button', { type: 'button', class: 'link', 'data-testid': 'open-dimse-settings' }, t('Settings', '设置'));
    settings.addEventListener(
      'click',
      () => {
        replace(dimseDetail, clinicDimseSettings({ id, code }, signal, reload));
        dimseDetail.scrollIntoView({ block: 'nearest' });
      },
      { signal },
    );
    return h(
      'tr',
      { 'data-testid': 'clinic-row', 'data-code': code },
      h('td', {}, h('strong', {}, code), h('br', {}), str(c.name) ?? ''),
      h('td', {}, t(`${num(c.retentionYears) ?? '?'} years`, `${num(c.retentionYears) ?? '?'} 年`)),
      h('td', {}, ...titles, h('span', { class: 'add-ae' }, newAe, add)),
      h('td', {}, str(c.dimseAuth) === 'ae_only' ? t('AE title alone', '仅 AE 称号') : t('credentials', '凭据'), ' · ', settings),
    );
  };

  const keyRow = (k: JsonObject): HTMLTableRowElement => {
    const id = str(k.id) ?? '';
    const revokedAt = str(k.revokedAt);
    const expiresAt = str(k.expiresAt);
    const state: KeyState = revokedAt !== null ? (str(k.replacedBy) !== null ? 'replaced' : 'revoked') : expiresAt !== null && new Date(expiresAt).getTime() < Date.now() ? 'expired' : 'active';
    const actions = h('td', { class: 'actions' });
    if (state === 'active') {
      const rotate = h('button', { type: 'button', class: 'link', 'data-testid': 'rotate-key' }, t('Rotate', '轮换'));
      rotate.addEventListener(
        'click',
        () =>
          saveThen(
            status,
            async () => {
              showKey(await (await request('POST', `/api/admin/api-keys/${id}/rotate`)).json());
              return t('Key rotated: the old one no longer works.', '密钥已轮换：旧密钥已失效。');
            },
            load,
          ),
        { signal },
      );
      const revoke = h('button', { type: 'button', class: 'link', 'data-testid': 'revoke-key' }, t('Revoke', '撤销'));
      revoke.addEventListener('click', () => change(() => request('DELETE', `/api/admin/api-keys/${id}`), t('Key revoked.', '密钥已撤销。')), { signal });
      actions.append(rotate, ' · ', revoke);
    }
    return h(
      'tr',
      { 'data-testid': 'key-row', 'data-prefix': str(k.keyPrefix) ?? '', 'data-state': state },
      h('td', {}, codeOf(str(k.clinicId))),
      h('td', {}, str(k.name) ?? ''),
      h('td', {}, h('code', {}, `yy_${str(k.keyPrefix) ?? ''}_…`)),
      h('td', {}, formatDateTime(str(k.lastUsedAt))),
      h('td', { 'data-testid': 'key-expires' }, expiresAt ? formatDateTime(expiresAt) : t('never', '永不到期')),
      h('td', {}, keyStateLabel(state)),
      actions,
    );
  };

  const clinicOptions = (): HTMLOptionElement[] => clinics.map((c) => h('option', { value: str(c.id) ?? '' }, `${str(c.code) ?? ''} · ${str(c.name) ?? ''}`));

  // The key form's clinic list follows the table (a clinic created here can get its key at once).
  const keyClinic = h('select', { id: 'key-clinic', name: 'key-clinic' });
  const renderForms = (): void => {
    const keyName = h('input', { id: 'key-name', name: 'key-name', required: true, maxlength: 100, placeholder: t('e.g. front-desk gateway', '例如：前台网关') });
    // A key for a loaned or temporary device can end by itself; the server refuses a day already past.
    const keyExpires = h('input', { id: 'key-expires', name: 'key-expires', type: 'date', min: localDate(new Date(Date.now() + 86_400_000)) });
    const keySubmit = h('button', { type: 'submit' }, t('Issue key', '签发密钥'));
    const keyStatus = statusLine();
    const keyForm = h(
      'form',
      { 'aria-label': t('Issue device key', '签发设备密钥') },
      h('label', { for: 'key-clinic' }, t('Clinic', '机构')),
      keyClinic,
      h('label', { for: 'key-name' }, t('Device', '设备')),
      keyName,
      h('label', { for: 'key-expires' }, t('Expires at the end of (optional; a rotated key keeps it)', '到期日（当天结束时到期；可选，轮换后的密钥沿用此日期）')),
      keyExpires,
      keySubmit,
      keyStatus.el,
    );
    submitWith(keyForm, { submit: keySubmit, status: keyStatus, busy: t('Issuing…', '正在签发…'), retry: keyName, signal }, async () => {
      const expiry = keyExpires.value === '' ? {} : { expiresAt: new Date(`${keyExpires.value}T23:59:59`).toISOString() };
      showKey(await sendJson('POST', '/api/admin/api-keys', { clinicId: keyClinic.value, name: keyName.value.trim(), ...expiry }));
      keyStatus.set('');
      keyForm.reset();
      reload();
    });
    replace(createKey, h('h2', {}, t('New device key', '新建设备密钥')), keyForm);

    const code = h('input', { id: 'clinic-code', name: 'clinic-code', required: true, minlength: 2, maxlength: 63, placeholder: t('e.g. lakeside-hz', '例如：lakeside-hz') });
    const name = h('input', { id: 'clinic-name', name: 'clinic-name', required: true, maxlength: 200 });
    const years = h('input', { id: 'clinic-years', name: 'clinic-years', type: 'number', min: 15, value: 15, required: true });
    const aeTitles = h('input', { id: 'clinic-ae', name: 'clinic-ae', placeholder: t('e.g. LAKE_US1, LAKE_US2', '例如：LAKE_US1, LAKE_US2') });
    const dimse = h(
      'select',
      { id: 'clinic-dimse', name: 'clinic-dimse' },
      h('option', { value: 'credentials' }, t('credentials (TLS certificate or user identity)', '凭据（TLS 证书或用户身份）')),
      h('option', { value: 'ae_only' }, t('AE title alone (a gateway on a trusted network)', '仅 AE 称号（位于可信网络中的网关）')),
    );
    const submit = h('button', { type: 'submit' }, t('Create clinic', '创建机构'));
    const formStatus = statusLine();
    const form = h(
      'form',
      { 'aria-label': t('Create clinic', '创建机构') },
      h('label', { for: 'clinic-code' }, t('Code', '机构代码')),
      code,
      h('label', { for: 'clinic-name' }, t('Name', '名称')),
      name,
      h('label', { for: 'clinic-years' }, t('Retention (years; at least the archive minimum)', '保存期限（年；不少于归档的最低年限）')),
      years,
      h('label', { for: 'clinic-ae' }, t('AE titles of its modalities (comma-separated)', '检查设备的 AE 称号（以逗号分隔）')),
      aeTitles,
      h('label', { for: 'clinic-dimse' }, t('DICOM associations must show', 'DICOM 关联须出示')),
      dimse,
      submit,
      formStatus.el,
    );
    submitWith(form, { submit, status: formStatus, busy: t('Creating…', '正在创建…'), retry: code, signal }, async () => {
      const titles = aeTitles.value
        .split(',')
        .map((title) => title.trim())
        .filter((title) => title !== '');
      await sendJson('POST', '/api/admin/clinics', { code: code.value.trim(), name: name.value.trim(), retentionYears: Number(years.value), aeTitles: titles, dimseAuth: dimse.value });
      formStatus.set(t(`${code.value.trim()} created.`, `已创建 ${code.value.trim()}。`));
      form.reset();
      reload();
    });
    replace(createClinic, h('h2', {}, t('New clinic', '新建机构')), form);
  };

  /** Fetches what the page shows and draws it; rejects when it could not. */
  function load(): Promise<void> {
    return Promise.all([getJson('/api/admin/clinics', signal), getJson('/api/admin/api-keys', signal)])
      .then(([clinicBody, keyBody]) => {
        clinics = arr(obj(clinicBody).clinics).map(obj);
        replace(
          clinicList,
          h(
            'table',
            { class: 'data', 'data-testid': 'clinics' },
            h('thead', {}, h('tr', {}, ...[t('Clinic', '机构'), t('Retention', '保存期限'), t('AE titles', 'AE 称号'), t('DICOM associations', 'DICOM 关联')].map((label) => h('th', { scope: 'col' }, label)))),
            h('tbody', {}, ...clinics.map(clinicRow)),
          ),
        );
        replace(
          keyList,
          h(
            'table',
            { class: 'data', 'data-testid': 'api-keys' },
            h('thead', {}, h('tr', {}, ...[t('Clinic', '机构'), t('Device', '设备'), t('Key', '密钥'), t('Last used', '最近使用时间'), t('Expires', '到期时间'), t('State', '状态'), ''].map((label) => h('th', { scope: 'col' }, label)))),
            h('tbody', {}, ...arr(obj(keyBody).apiKeys).map(obj).map(keyRow)),
          ),
        );
        const chosen = keyClinic.value;
        replace(keyClinic, ...clinicOptions());
        if (chosen !== '') keyClinic.value = chosen;
        if (createClinic.childElementCount === 0) renderForms();
      });
  }

  /** `load`, showing in the status line why the page could not be drawn. */
  function reload(): void {
    drawShowingErrors(status, signal, load);
  }

  reload();
  return () => controller.abort();
}
