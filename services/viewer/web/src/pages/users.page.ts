import { errorText, getJson, request, sendJson } from '../app/api';
import { deviceLabel } from '../app/device';
import { formatDateTime, h, replace, statusLine } from '../app/dom';
import { drawShowingErrors, saveThen, submitWith } from '../app/forms';
import { arr, bool, num, obj, str, strings, type JsonObject } from '../app/json';
import type { PageContext, Teardown } from '../app/router';
import { roleLabel } from '../app/session';
import { t } from '../app/i18n';
import { dormancyNote } from './dormancy-note';

const ROLES = ['clinic', 'radiologist', 'auditor', 'admin'] as const;

/** A role code from the server in the reader's language; one this page does not know as it came. */
function roleText(code: string): string {
  const role = ROLES.find((r) => r === code);
  return role === undefined ? code : roleLabel(role);
}

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
  const createSection = h('section', { class: 'card', 'aria-label': t('New user', '新建用户') });
  replace(
    ctx.root,
    h(
      'section',
      { class: 'page wide users' },
      h('h1', {}, t('Users', '用户')),
      h('p', {}, t('Every change here is audited (Security Alert) and counts for four eyes.', '此处的每项更改都记入审计（安全警报事件），并受双人复核约束。')),
      status.el,
      list,
      createSection,
    ),
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
          h('thead', {}, h('tr', {}, ...[t('Signed in', '登录时间'), t('From', '来源地址'), t('Device', '设备'), t('Ends at the latest', '最迟有效至')].map((label) => h('th', { scope: 'col' }, label)))),
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
    const toggle = h('button', { type: 'button', class: 'link', 'data-testid': disabled ? 'enable' : 'disable' }, disabled ? t('Enable', '启用') : t('Disable', '停用'));
    toggle.addEventListener(
      'click',
      () => change(() => request('PATCH', `/api/admin/users/${id}`, { json: { disabled: !disabled } }), disabled ? t(`${username} enabled.`, `已启用 ${username}。`) : t(`${username} disabled.`, `已停用 ${username}。`)),
      { signal },
    );
    const resetFactor = h('button', { type: 'button', class: 'link', 'data-testid': 'reset-second-factor' }, t('Reset one-time codes', '重置动态验证码'));
    resetFactor.addEventListener(
      'click',
      () => change(() => request('DELETE', `/api/admin/users/${id}/totp`), t(`${username}'s one-time codes removed: they set them up again at the next sign-in.`, `已移除 ${username} 的动态验证码：该用户下次登录时需重新设置。`)),
      { signal },
    );
    const endSessions = h('button', { type: 'button', class: 'link', 'data-testid': 'end-sessions' }, t('End sign-ins', '结束全部登录'));
    endSessions.addEventListener(
      'click',
      () =>
        saveThen(status, async () => {
          const ended = Number(obj(await (await request('DELETE', `/api/admin/users/${id}/sessions`)).json()).ended ?? 0);
          return t(`${username}: ${ended} sign-in${ended === 1 ? '' : 's'} ended.`, `${username}：已结束 ${ended} 处登录。`);
        }, load),
      { signal },
    );
    const password = h('input', { type: 'password', autocomplete: 'new-password', 'aria-label': t(`New password for ${username}`, `${username} 的新密码`), placeholder: t('New password', '新密码') });
    const setPassword = h('button', { type: 'button', class: 'link', 'data-testid': 'set-password' }, t('Set', '设置'));
    setPassword.addEventListener(
      'click',
      () => change(() => request('PATCH', `/api/admin/users/${id}`, { json: { password: password.value } }), t(`New password set for ${username}; their sign-ins ended.`, `已为 ${username} 设置新密码；其全部登录已结束。`)),
      { signal },
    );
    const grants = strings(u.grants);
    const grantCell = h('td', {});
    if (role === 'radiologist') {
      const add = clinicSelect(`grant-${id}`, t('Add clinic', '添加机构'));
      const grant = h('button', { type: 'button', class: 'link', 'data-testid': 'grant' }, t('Grant', '授权'));
      grant.addEventListener(
        'click',
        () => {
          const code = clinicCode(add.select.value);
          change(() => sendJson('POST', '/api/admin/grants', { userId: id, clinicId: add.select.value }), t(`${username} now reads for ${code}.`, `${username} 现可为 ${code} 阅片。`));
        },
        { signal },
      );
      const granted = grants.map((clinicId) => {
        const code = clinicCode(clinicId);
        const revoke = h('button', { type: 'button', class: 'link', 'aria-label': t(`Revoke ${code}`, `撤销 ${code} 的阅片授权`) }, '×');
        revoke.addEventListener('click', () => change(() => request('DELETE', `/api/admin/grants/${id}/${clinicId}`), t(`${username} no longer reads for ${code}.`, `${username} 不再为 ${code} 阅片。`)), { signal });
        return h('span', { class: 'grant', 'data-testid': 'granted' }, clinicCode(clinicId), ' ', revoke);
      });
      grantCell.append(...granted, h('span', { class: 'add-grant' }, add.select, grant));
      add.select.setAttribute('aria-label', t(`Clinic to grant ${username}`, `授权 ${username} 阅片的机构`));
    } else {
      grantCell.append(clinicCode(str(u.clinicId)));
    }
    // Where the user is signed in, under the row: before "End sign-ins", or to answer "was that me?".
    const openButton = h('button', { type: 'button', class: 'link', 'data-testid': 'show-sessions', 'aria-expanded': 'false' }, t(`${open} open`, `${open} 处登录中`));
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
      h('td', {}, roleText(role)),
      grantCell,
      h(
        'td',
        {},
        disabled ? t('disabled', '已停用') : t('active', '正常'),
        ...(dormant ? [' ', h('span', { class: 'badge badge-priority', title: t('No sign-in for 90 days: disable it unless it is still needed', '已 90 天未登录：如已不再需要，请停用') }, t('dormant', '休眠'))] : []),
      ),
      h('td', { 'data-testid': 'last-sign-in' }, lastSignIn === null ? t('never', '从未登录') : formatDateTime(lastSignIn), ...(open > 0 ? [h('br', {}), openButton] : [])),
      h('td', { class: 'actions' }, toggle, ' · ', endSessions, ' · ', resetFactor, h('span', { class: 'set-password' }, password, setPassword)),
    );
  };

  const renderCreate = (): void => {
    const username = h('input', { id: 'new-username', name: 'new-username', autocomplete: 'off', required: true, minlength: 2, maxlength: 63 });
    const displayName = h('input', { id: 'new-display-name', name: 'new-display-name', autocomplete: 'off', maxlength: 200 });
    const role = h('select', { id: 'new-role', name: 'new-role' }, ...ROLES.map((r) => h('option', { value: r }, roleLabel(r))));
    const clinic = clinicSelect('new-clinic', t('Clinic (clinic users)', '机构（机构用户）'));
    const password = h('input', { id: 'new-password', name: 'new-password', type: 'password', autocomplete: 'new-password', required: true });
    const submit = h('button', { type: 'submit' }, t('Create user', '创建用户'));
    const formStatus = statusLine();
    const form = h(
      'form',
      { 'aria-label': t('Create user', '创建用户') },
      h('label', { for: 'new-username' }, t('User name', '用户名')),
      username,
      h('label', { for: 'new-display-name' }, t('Display name', '显示名称')),
      displayName,
      h('label', { for: 'new-role' }, t('Role', '角色')),
      role,
      clinic.label,
      clinic.select,
      h(
        'label',
        { for: 'new-password' },
        t('Initial password (give it out of band; privileged roles set up one-time codes at the first sign-in)', '初始密码（请通过其他渠道告知用户；特权角色首次登录时需设置动态验证码）'),
      ),
      password,
      submit,
      formStatus.el,
    );
    submitWith(form, { submit, status: formStatus, busy: t('Creating…', '正在创建…'), retry: password, signal }, async () => {
      const body = {
        username: username.value.trim(),
        role: role.value,
        password: password.value,
        ...(displayName.value.trim() !== '' ? { displayName: displayName.value.trim() } : {}),
        ...(role.value === 'clinic' ? { clinicId: clinic.select.value } : {}),
      };
      await sendJson('POST', '/api/admin/users', body);
      formStatus.set(t(`${body.username} created.`, `已创建 ${body.username}。`));
      form.reset();
      reload();
    });
    replace(createSection, h('h2', {}, t('New user', '新建用户')), form);
  };

  /** Fetches what the page shows and draws it; rejects when it could not. */
  function load(): Promise<void> {
    return Promise.all([getJson('/api/admin/users', signal), getJson('/api/admin/clinics', signal)])
      .then(([users, clinicList]) => {
        clinics = arr(obj(clinicList).clinics).map(obj);
        const rows = arr(obj(users).users).map(obj).map(userRow);
        replace(
          list,
          h('p', { 'data-testid': 'dormancy-note' }, dormancyNote(obj(users).dormancy)),
          h(
            'table',
            { class: 'data', 'data-testid': 'users' },
            h('thead', {}, h('tr', {}, ...[t('User', '用户'), t('Role', '角色'), t('Clinic / reads for', '机构 / 阅片机构'), t('State', '状态'), t('Last sign-in', '最近登录'), ''].map((label) => h('th', { scope: 'col' }, label)))),
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
