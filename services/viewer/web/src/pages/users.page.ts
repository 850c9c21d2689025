import { errorText, getJson, request, sendJson } from '../app/api';
import { deviceLabel } from '../app/device';
import { formatDateTime, h, replace, statusLine } from '../app/dom';
import { drawShowingErrors, saveThen, submitWith } from '../app/forms';
import { arr, bool, num, obj, str, strings, type JsonObject } from '../app/json';
import type { PageContext, Teardown } from '../app/router';

const ROLES = ['clinic', 'radiologist', 'auditor', 'admin'] as const;

/**
 * Users, for admins (#7, #17): create an account (a clinic user belongs to one clinic), disable or enable it, end
 * all its sign-ins (a stolen device), set a new password, remove a lost one-time-code generator, and give radiologists the clinics they read for. The same
 * API as before (`/api/admin/users`, `/api/admin/grants`, `/api/admin/clinics`), which audits every change and
 * keeps four eyes (an admin cannot reset their own second factor, for one): its refusals are shown as they come.
 */
export function usersPage(ctx: PageContext): Teardown {
  const controller = new AbortController();
  const { signal } = controller;
  const status = statusLine();
  const list = h('div', {});
  const createSection = h('section', { class: 'card', 'aria-label': 'New user' });
  replace(
    ctx.root,
    h('section', { class: 'page wide users' }, h('h1', {}, 'Users'), h('p', {}, 'Every change here is audited (Security Alert) and counts for four eyes.'), status.el, list, createSection),
  );

  let clinics: JsonObject[] = [];
  const clinicCode = (id: string | null): string => (id === null ? '—' : (str(clinics.find((c) => str(c.id) === id)?.code) ?? id));
  const clinicSelect = (id: string, label: string): { label: HTMLLabelElement; select: HTMLSelectElement } => ({
    label: h('label', { for: id }, label),
    select: h('select', { id, name: id }, ...clinics.map((c) => h('option', { value: str(c.id) ?? '' }, `${str(c.code) ?? ''} · ${str(c.name) ?? ''}`))),
  });

  /** Runs one change, then shows `done` and draws the list again; a refusal is shown instead. */
  const change = (run: () => Promise<unknown>, done: string): void => saveThen(status, () => run().then(() => done), load);

  const sessionsDetail = (username: string, open: JsonObject[]): HTMLTableRowElement =>
    h(
      'tr',
      { class: 'sessions-detail', 'data-testid': 'user-sessions', 'data-username': username },
      h(
        'td',
        { colspan: 6 },
        h(
          'table',
          { class: 'data' },
          h('thead', {}, h('tr', {}, ...['Signed in', 'From', 'Device', 'Ends at the latest'].map((t) => h('th', { scope: 'col' }, t)))),
          h(
            'tbody',
            {},
            ...open.map((s) =>
              h(
                'tr',
                { 'data-testid': 'user-session' },
                h('td', {}, formatDateTime(str(s.createdAt))),
                h('td', {}, str(s.sourceIp) ?? '—'),
                h('td', { title: str(s.userAgent) ?? '' }, deviceLabel(str(s.userAgent))),
                h('td', {}, formatDateTime(str(s.expiresAt))),
              ),
            ),
          ),
        ),
      ),
    );

  const userRow = (u: JsonObject): HTMLTableRowElement => {
    const id = str(u.id) ?? '';
    const username = str(u.username) ?? '';
    const role = str(u.role) ?? '';
    const disabled = bool(u.disabled) === true;
    // How the account is used: an account nobody signs in with is a door nobody watches.
    const dormant = bool(u.dormant) === true;
    const lastSignIn = str(u.lastSignInAt);
    const open = num(u.openSessions) ?? 0;
    const toggle = h('button', { type: 'button', class: 'link', 'data-testid': disabled ? 'enable' : 'disable' }, disabled ? 'Enable' : 'Disable');
    toggle.addEventListener('click', () => change(() => request('PATCH', `/api/admin/users/${id}`, { json: { disabled: !disabled } }), `${username} ${disabled ? 'enabled' : 'disabled'}.`), { signal });
    const resetFactor = h('button', { type: 'button', class: 'link', 'data-testid': 'reset-second-factor' }, 'Reset one-time codes');
    resetFactor.addEventListener(
      'click',
      () => change(() => request('DELETE', `/api/admin/users/${id}/totp`), `${username}'s one-time codes removed: they set them up again at the next sign-in.`),
      { signal },
    );
    const endSessions = h('button', { type: 'button', class: 'link', 'data-testid': 'end-sessions' }, 'End sign-ins');
    endSessions.addEventListener(
      'click',
      () =>
        saveThen(status, async () => {
          const ended = Number(obj(await (await request('DELETE', `/api/admin/users/${id}/sessions`)).json()).ended ?? 0);
          return `${username}: ${ended} sign-in${ended === 1 ? '' : 's'} ended.`;
        }, load),
      { signal },
    );
    const password = h('input', { type: 'password', autocomplete: 'new-password', 'aria-label': `New password for ${username}`, placeholder: 'New password' });
    const setPassword = h('button', { type: 'button', class: 'link', 'data-testid': 'set-password' }, 'Set');
    setPassword.addEventListener(
      'click',
      () => change(() => request('PATCH', `/api/admin/users/${id}`, { json: { password: password.value } }), `New password set for ${username}; their sign-ins ended.`),
      { signal },
    );
    const grants = strings(u.grants);
    const grantCell = h('td', {});
    if (role === 'radiologist') {
      const add = clinicSelect(`grant-${id}`, 'Add clinic');
      const grant = h('button', { type: 'button', class: 'link', 'data-testid': 'grant' }, 'Grant');
      grant.addEventListener('click', () => change(() => sendJson('POST', '/api/admin/grants', { userId: id, clinicId: add.select.value }), `${username} now reads for ${clinicCode(add.select.value)}.`), {
        signal,
      });
      const granted = grants.map((clinicId) => {
        const revoke = h('button', { type: 'button', class: 'link', 'aria-label': `Revoke ${clinicCode(clinicId)}` }, '×');
        revoke.addEventListener('click', () => change(() => request('DELETE', `/api/admin/grants/${id}/${clinicId}`), `${username} no longer reads for ${clinicCode(clinicId)}.`), { signal });
        return h('span', { class: 'grant', 'data-testid': 'granted' }, clinicCode(clinicId), ' ', revoke);
      });
      grantCell.append(...granted, h('span', { class: 'add-grant' }, add.select, grant));
      add.select.setAttribute('aria-label', `Clinic to grant ${username}`);
    } else {
      grantCell.append(clinicCode(str(u.clinicId)));
    }
    // Where the user is signed in, under the row: before "End sign-ins", or to answer "was that me?".
    const openButton = h('button', { type: 'button', class: 'link', 'data-testid': 'show-sessions', 'aria-expanded': 'false' }, `${open} open`);
    openButton.addEventListener(
      'click',
      () => {
        const row = openButton.closest('tr');
        const shown = row?.nextElementSibling?.classList.contains('sessions-detail') === true;
        if (shown) row?.nextElementSibling?.remove();
        openButton.setAttribute('aria-expanded', String(!shown));
        if (shown || row === null) return;
        getJson(`/api/admin/users/${id}/sessions`, signal)
          .then((body) => row.after(sessionsDetail(username, arr(obj(body).sessions).map(obj))))
          .catch((error: unknown) => status.set(errorText(error), 'error'));
      },
      { signal },
    );
    return h(
      'tr',
      { 'data-testid': 'user-row', 'data-username': username, 'data-disabled': String(disabled), 'data-dormant': String(dormant), 'data-open-sessions': String(open) },
      h('td', {}, h('strong', {}, username), h('br', {}), str(u.displayName) ?? ''),
      h('td', {}, role),
      grantCell,
      h('td', {}, disabled ? 'disabled' : 'active', ...(dormant ? [' ', h('span', { class: 'badge badge-priority', title: 'No sign-in for 90 days: disable it unless it is still needed' }, 'dormant')] : [])),
      h('td', { 'data-testid': 'last-sign-in' }, lastSignIn === null ? 'never' : formatDateTime(lastSignIn), ...(open > 0 ? [h('br', {}), openButton] : [])),
      h('td', { class: 'actions' }, toggle, ' · ', endSessions, ' · ', resetFactor, h('span', { class: 'set-password' }, password, setPassword)),
    );
  };

  const renderCreate = (): void => {
    const username = h('input', { id: 'new-username', name: 'new-username', autocomplete: 'off', required: true, minlength: 2, maxlength: 63 });
    const displayName = h('input', { id: 'new-display-name', name: 'new-display-name', autocomplete: 'off', maxlength: 200 });
    const role = h('select', { id: 'new-role', name: 'new-role' }, ...ROLES.map((r) => h('option', { value: r }, r)));
    const clinic = clinicSelect('new-clinic', 'Clinic (clinic users)');
    const password = h('input', { id: 'new-password', name: 'new-password', type: 'password', autocomplete: 'new-password', required: true });
    const submit = h('button', { type: 'submit' }, 'Create user');
    const formStatus = statusLine();
    const form = h(
      'form',
      { 'aria-label': 'Create user' },
      h('label', { for: 'new-username' }, 'User name'),
      username,
      h('label', { for: 'new-display-name' }, 'Display name'),
      displayName,
      h('label', { for: 'new-role' }, 'Role'),
      role,
      clinic.label,
      clinic.select,
      h('label', { for: 'new-password' }, 'Initial password (give it out of band; privileged roles set up one-time codes at the first sign-in)'),
      password,
      submit,
      formStatus.el,
    );
    submitWith(form, { submit, status: formStatus, busy: 'Creating…', retry: password, signal }, async () => {
      const body = {
        username: username.value.trim(),
        role: role.value,
        password: password.value,
        ...(displayName.value.trim() !== '' ? { displayName: displayName.value.trim() } : {}),
        ...(role.value === 'clinic' ? { clinicId: clinic.select.value } : {}),
      };
      await sendJson('POST', '/api/admin/users', body);
      formStatus.set(`${body.username} created.`);
      form.reset();
      reload();
    });
    replace(createSection, h('h2', {}, 'New user'), form);
  };

  /** Fetches what the page shows and draws it; rejects when it could not. */
  function load(): Promise<void> {
    return Promise.all([getJson('/api/admin/users', signal), getJson('/api/admin/clinics', signal)])
      .then(([users, clinicList]) => {
        clinics = arr(obj(clinicList).clinics).map(obj);
        const rows = arr(obj(users).users).map(obj).map(userRow);
        replace(
          list,
          h(
            'table',
            { class: 'data', 'data-testid': 'users' },
            h('thead', {}, h('tr', {}, ...['User', 'Role', 'Clinic / reads for', 'State', 'Last sign-in', ''].map((t) => h('th', { scope: 'col' }, t)))),
            h('tbody', {}, ...rows),
          ),
        );
        if (createSection.childElementCount === 0) renderCreate();
      });
  }

  /** `load`, showing in the status line why the page could not be drawn. */
  function reload(): void {
    drawShowingErrors(status, signal, load);
  }

  reload();
  return () => controller.abort();
}
