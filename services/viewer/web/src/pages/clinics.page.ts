import { getJson, request, sendJson } from '../app/api';
import { formatDateTime, h, replace, statusLine } from '../app/dom';
import { drawShowingErrors, saveThen, submitWith } from '../app/forms';
import { arr, num, obj, str, strings, type JsonObject } from '../app/json';
import type { PageContext, Teardown } from '../app/router';
import { clinicDimseSettings } from './clinic-dimse';

/** `YYYY-MM-DD` of the browser's own calendar day (what a date input shows and takes). */
function localDate(d: Date): string {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
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
  const createClinic = h('section', { class: 'card', 'aria-label': 'New clinic' });
  const createKey = h('section', { class: 'card', 'aria-label': 'New device key' });
  replace(
    ctx.root,
    h(
      'section',
      { class: 'page wide clinics' },
      h('h1', {}, 'Clinics'),
      h('p', {}, 'Centres, the AE titles of their modalities, and the API keys their gateways upload with. Every change is audited.'),
      status.el,
      clinicList,
      dimseDetail,
      h('h2', {}, 'Device keys'),
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
  const showKey = (created: unknown, what: string): void => {
    const body = obj(created);
    replace(
      shownKey,
      h(
        'p',
        { class: 'new-key', role: 'status' },
        `${what} for ${codeOf(str(body.clinicId))} (${str(body.name) ?? ''}): `,
        h('code', { 'data-testid': 'new-api-key' }, str(body.key) ?? ''),
        ' — copy it into the gateway now; it is not shown again.',
      ),
    );
  };

  const clinicRow = (c: JsonObject): HTMLTableRowElement => {
    const id = str(c.id) ?? '';
    const code = str(c.code) ?? '';
    const titles = strings(c.aeTitles).map((ae) => {
      const remove = h('button', { type: 'button', class: 'link', 'aria-label': `Remove ${ae}` }, '×');
      remove.addEventListener('click', () => change(() => request('DELETE', `/api/admin/clinics/${id}/ae-titles/${encodeURIComponent(ae)}`), `${ae} removed from ${code}.`), { signal });
      return h('span', { class: 'ae', 'data-testid': 'ae-title' }, ae, ' ', remove);
    });
    const newAe = h('input', { 'aria-label': `New AE title for ${code}`, placeholder: 'AE title', maxlength: 16, size: 10 });
    const add = h('button', { type: 'button', class: 'link', 'data-testid': 'add-ae-title' }, 'Add');
    add.addEventListener(
      'click',
      () => change(() => request('PUT', `/api/admin/clinics/${id}/ae-titles/${encodeURIComponent(newAe.value.trim())}`), `${newAe.value.trim()} registered for ${code}.`),
      { signal },
    );
    // Certificates, source networks and remote AEs open below the table, one clinic at a time.
    const settings = h('button', { type: 'button', class: 'link', 'data-testid': 'open-dimse-settings' }, 'Settings');
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
      h('td', {}, `${num(c.retentionYears) ?? '?'} years`),
      h('td', {}, ...titles, h('span', { class: 'add-ae' }, newAe, add)),
      h('td', {}, str(c.dimseAuth) === 'ae_only' ? 'AE title alone' : 'credentials', ' · ', settings),
    );
  };

  const keyRow = (k: JsonObject): HTMLTableRowElement => {
    const id = str(k.id) ?? '';
    const revokedAt = str(k.revokedAt);
    const expiresAt = str(k.expiresAt);
    const state = revokedAt !== null ? (str(k.replacedBy) !== null ? 'replaced' : 'revoked') : expiresAt !== null && new Date(expiresAt).getTime() < Date.now() ? 'expired' : 'active';
    const actions = h('td', { class: 'actions' });
    if (state === 'active') {
      const rotate = h('button', { type: 'button', class: 'link', 'data-testid': 'rotate-key' }, 'Rotate');
      rotate.addEventListener(
        'click',
        () =>
          saveThen(
            status,
            async () => {
              showKey(await (await request('POST', `/api/admin/api-keys/${id}/rotate`)).json(), 'New key');
              return 'Key rotated: the old one no longer works.';
            },
            load,
          ),
        { signal },
      );
      const revoke = h('button', { type: 'button', class: 'link', 'data-testid': 'revoke-key' }, 'Revoke');
      revoke.addEventListener('click', () => change(() => request('DELETE', `/api/admin/api-keys/${id}`), 'Key revoked.'), { signal });
      actions.append(rotate, ' · ', revoke);
    }
    return h(
      'tr',
      { 'data-testid': 'key-row', 'data-prefix': str(k.keyPrefix) ?? '', 'data-state': state },
      h('td', {}, codeOf(str(k.clinicId))),
      h('td', {}, str(k.name) ?? ''),
      h('td', {}, h('code', {}, `yy_${str(k.keyPrefix) ?? ''}_…`)),
      h('td', {}, formatDateTime(str(k.lastUsedAt))),
      h('td', { 'data-testid': 'key-expires' }, expiresAt ? formatDateTime(expiresAt) : 'never'),
      h('td', {}, state),
      actions,
    );
  };

  const clinicOptions = (): HTMLOptionElement[] => clinics.map((c) => h('option', { value: str(c.id) ?? '' }, `${str(c.code) ?? ''} · ${str(c.name) ?? ''}`));

  // The key form's clinic list follows the table (a clinic created here can get its key at once).
  const keyClinic = h('select', { id: 'key-clinic', name: 'key-clinic' });
  const renderForms = (): void => {
    const keyName = h('input', { id: 'key-name', name: 'key-name', required: true, maxlength: 100, placeholder: 'e.g. front-desk gateway' });
    // A key for a loaned or temporary device can end by itself; the server refuses a day already past.
    const keyExpires = h('input', { id: 'key-expires', name: 'key-expires', type: 'date', min: localDate(new Date(Date.now() + 86_400_000)) });
    const keySubmit = h('button', { type: 'submit' }, 'Issue key');
    const keyStatus = statusLine();
    const keyForm = h(
      'form',
      { 'aria-label': 'Issue device key' },
      h('label', { for: 'key-clinic' }, 'Clinic'),
      keyClinic,
      h('label', { for: 'key-name' }, 'Device'),
      keyName,
      h('label', { for: 'key-expires' }, 'Expires at the end of (optional; a rotated key keeps it)'),
      keyExpires,
      keySubmit,
      keyStatus.el,
    );
    submitWith(keyForm, { submit: keySubmit, status: keyStatus, busy: 'Issuing…', retry: keyName, signal }, async () => {
      const expiry = keyExpires.value === '' ? {} : { expiresAt: new Date(`${keyExpires.value}T23:59:59`).toISOString() };
      showKey(await sendJson('POST', '/api/admin/api-keys', { clinicId: keyClinic.value, name: keyName.value.trim(), ...expiry }), 'New key');
      keyStatus.set('');
      keyForm.reset();
      reload();
    });
    replace(createKey, h('h2', {}, 'New device key'), keyForm);

    const code = h('input', { id: 'clinic-code', name: 'clinic-code', required: true, minlength: 2, maxlength: 63, placeholder: 'e.g. lakeside-hz' });
    const name = h('input', { id: 'clinic-name', name: 'clinic-name', required: true, maxlength: 200 });
    const years = h('input', { id: 'clinic-years', name: 'clinic-years', type: 'number', min: 15, value: 15, required: true });
    const aeTitles = h('input', { id: 'clinic-ae', name: 'clinic-ae', placeholder: 'e.g. LAKE_US1, LAKE_US2' });
    const dimse = h('select', { id: 'clinic-dimse', name: 'clinic-dimse' }, h('option', { value: 'credentials' }, 'credentials (TLS certificate or user identity)'), h('option', { value: 'ae_only' }, 'AE title alone (a gateway on a trusted network)'));
    const submit = h('button', { type: 'submit' }, 'Create clinic');
    const formStatus = statusLine();
    const form = h(
      'form',
      { 'aria-label': 'Create clinic' },
      h('label', { for: 'clinic-code' }, 'Code'),
      code,
      h('label', { for: 'clinic-name' }, 'Name'),
      name,
      h('label', { for: 'clinic-years' }, 'Retention (years; at least the archive minimum)'),
      years,
      h('label', { for: 'clinic-ae' }, 'AE titles of its modalities (comma-separated)'),
      aeTitles,
      h('label', { for: 'clinic-dimse' }, 'DICOM associations must show'),
      dimse,
      submit,
      formStatus.el,
    );
    submitWith(form, { submit, status: formStatus, busy: 'Creating…', retry: code, signal }, async () => {
      const titles = aeTitles.value
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t !== '');
      await sendJson('POST', '/api/admin/clinics', { code: code.value.trim(), name: name.value.trim(), retentionYears: Number(years.value), aeTitles: titles, dimseAuth: dimse.value });
      formStatus.set(`${code.value.trim()} created.`);
      form.reset();
      reload();
    });
    replace(createClinic, h('h2', {}, 'New clinic'), form);
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
            h('thead', {}, h('tr', {}, ...['Clinic', 'Retention', 'AE titles', 'DICOM associations'].map((t) => h('th', { scope: 'col' }, t)))),
            h('tbody', {}, ...clinics.map(clinicRow)),
          ),
        );
        replace(
          keyList,
          h(
            'table',
            { class: 'data', 'data-testid': 'api-keys' },
            h('thead', {}, h('tr', {}, ...['Clinic', 'Device', 'Key', 'Last used', 'Expires', 'State', ''].map((t) => h('th', { scope: 'col' }, t)))),
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
