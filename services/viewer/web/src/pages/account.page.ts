import { errorText, getJson, rememberAccessToken, request, sendJson } from '../app/api';
import { deviceLabel } from '../app/device';
import { submitWith } from '../app/forms';
import { append, formatDateTime, h, replace, statusLine } from '../app/dom';
import { arr, bool, num, obj, str, strings } from '../app/json';
import { qrImage } from '../app/qr';
import type { PageContext, Teardown } from '../app/router';
import { newRecoveryCodes, roleLabel } from '../app/session';
import { groupedKey, recoveryCodesCard } from './sign-in.page';
import { t } from '../app/i18n';

/** A password field with its label (ids unique on the page). */
function passwordField(id: string, label: string, autocomplete: 'current-password' | 'new-password'): { label: HTMLLabelElement; input: HTMLInputElement } {
  return { label: h('label', { for: id }, label), input: h('input', { id, name: id, type: 'password', autocomplete, required: true }) };
}

/**
 * The user's own account (every role): change the password, see and end the own sign-ins, set up the one-time
 * code generator (a QR code to scan) and its recovery codes. The same API as before (#17), now with a page:
 * POST /api/auth/password, GET|DELETE /api/auth/sessions, GET /api/auth/second-factor, POST /api/auth/totp,
 * POST /api/auth/totp/confirm, POST /api/auth/recovery-codes. Every change asks for the current password.
 */
export function accountPage(ctx: PageContext): Teardown {
  const controller = new AbortController();
  const { signal } = controller;
  const passwordSection = h('section', { class: 'card', 'aria-label': t('Password', '密码') });
  const sessionsSection = h('section', { class: 'card', 'aria-label': t('Sign-ins', '登录记录') });
  const factorSection = h('section', { class: 'card', 'aria-label': t('One-time codes', '动态验证码') });
  replace(
    ctx.root,
    h('section', { class: 'page narrow account' }, h('h1', {}, t('Account', '账户')), h('p', {}, t(`Signed in as ${ctx.me.displayName ?? ctx.me.username} (${roleLabel(ctx.me.role)}).`, `当前登录：${ctx.me.displayName ?? ctx.me.username}（${roleLabel(ctx.me.role)}）。`)), passwordSection, sessionsSection, factorSection),
  );

  // ---- password ----------------------------------------------------------------------------------
  const renderPassword = (): void => {
    const current = passwordField('pw-current', t('Current password', '当前密码'), 'current-password');
    const next = passwordField('pw-new', t('New password', '新密码'), 'new-password');
    const again = passwordField('pw-again', t('New password again', '再次输入新密码'), 'new-password');
    const submit = h('button', { type: 'submit' }, t('Change password', '修改密码'));
    const status = statusLine();
    const form = h('form', { 'aria-label': t('Change password', '修改密码') }, current.label, current.input, next.label, next.input, again.label, again.input, submit, status.el);
    submitWith(form, { submit, status, busy: t('Changing…', '正在修改…'), retry: current.input, signal }, async () => {
      if (next.input.value !== again.input.value) throw new Error(t('The new password and its repetition differ', '两次输入的新密码不一致'));
      const body = await sendJson('POST', '/api/auth/password', { currentPassword: current.input.value, newPassword: next.input.value });
      // The session's access cookie was replaced; a token kept for another origin is stale now.
      rememberAccessToken(null);
      const revoked = num(obj(body).otherSessionsRevoked) ?? 0;
      form.reset();
      status.set(t(`Password changed${revoked > 0 ? `; ${revoked} other sign-in${revoked === 1 ? '' : 's'} ended` : ''}.`, `密码已修改${revoked > 0 ? `；已结束其他 ${revoked} 处登录` : ''}。`));
      loadSessions();
    });
    replace(passwordSection, h('h2', {}, t('Password', '密码')), h('p', {}, t('A long passphrase of several words is best; common and breached passwords are refused.', '建议使用由多个词组成的长口令；常见密码和已泄露的密码会被拒绝。')), form);
  };

  // ---- sign-ins (sessions) -----------------------------------------------------------------------
  const sessionsBody = h('div', {});
  const sessionsStatus = statusLine();
  replace(sessionsSection, h('h2', {}, t('Sign-ins', '登录记录')), h('p', {}, t('Where this account is signed in. End any you do not recognise, then change the password.', '此账户当前的登录位置。如有不认识的，请结束该登录，然后修改密码。')), sessionsBody, sessionsStatus.el);
  const loadSessions = (): void => {
    getJson('/api/auth/sessions', signal)
      .then((body) => {
        const rows = arr(obj(body).sessions).map(obj);
        replace(
          sessionsBody,
          h(
            'table',
            { class: 'data', 'data-testid': 'own-sessions' },
            h('thead', {}, h('tr', {}, ...[t('Device', '设备'), t('Signed in', '登录时间'), t('From', '来源地址'), t('Until', '有效至'), ''].map((label) => h('th', { scope: 'col' }, label)))),
            h(
              'tbody',
              {},
              ...rows.map((row) => {
                const id = str(row.id) ?? '';
                const current = bool(row.current) === true;
                const end = current ? h('span', { class: 'muted' }, t('this browser', '本浏览器')) : h('button', { type: 'button', class: 'link', 'data-testid': 'end-session' }, t('Sign out there', '在该处退出'));
                if (!current) {
                  end.addEventListener(
                    'click',
                    () => {
                      request('DELETE', `/api/auth/sessions/${encodeURIComponent(id)}`)
                        .then(() => {
                          sessionsStatus.set(t('Signed out there.', '已在该处退出。'));
                          loadSessions();
                        })
                        .catch((error: unknown) => sessionsStatus.set(errorText(error), 'error'));
                    },
                    { signal },
                  );
                }
                return h(
                  'tr',
                  { 'data-testid': current ? 'session-current' : 'session' },
                  h('td', { 'data-testid': 'session-device', title: str(row.userAgent) ?? '' }, deviceLabel(str(row.userAgent))),
                  h('td', {}, formatDateTime(str(row.createdAt))),
                  h('td', {}, str(row.sourceIp) ?? '—'),
                  h('td', {}, formatDateTime(str(row.expiresAt))),
                  h('td', {}, end),
                );
              }),
            ),
          ),
        );
      })
      .catch((error: unknown) => {
        if (!signal.aborted) sessionsStatus.set(errorText(error), 'error');
      });
  };

  // ---- one-time codes (TOTP) and recovery codes --------------------------------------------------
  const showCodes = (codes: string[]): void => {
    replace(factorSection, recoveryCodesCard(codes, loadFactor));
  };

  /** A form that asks for the password, then runs `action` with it. */
  const passwordThen = (id: string, button: string, action: (password: string) => Promise<void>): HTMLFormElement => {
    const field = passwordField(id, t('Current password', '当前密码'), 'current-password');
    const submit = h('button', { type: 'submit' }, button);
    const status = statusLine();
    const form = h('form', { 'aria-label': button }, field.label, field.input, submit, status.el);
    submitWith(form, { submit, status, busy: t('Checking…', '正在验证…'), retry: field.input, signal }, () => action(field.input.value));
    return form;
  };

  const confirmStep = (secret: string, uri: string): void => {
    const code = h('input', { id: 'totp-confirm', name: 'totp-confirm', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: 6, required: true, autofocus: true });
    const submit = h('button', { type: 'submit' }, t('Turn on', '启用'));
    const status = statusLine();
    const form = h('form', { 'aria-label': t('Confirm the one-time code', '确认动态验证码') }, h('label', { for: 'totp-confirm' }, t('One-time code', '动态验证码')), code, submit, status.el);
    submitWith(form, { submit, status, busy: t('Checking…', '正在验证…'), retry: code, signal }, async () => {
      showCodes(strings(obj(await sendJson('POST', '/api/auth/totp/confirm', { code: code.value.trim() })).recoveryCodes));
    });
    replace(
      factorSection,
      h('h2', {}, t('Set up one-time codes', '设置动态验证码')),
      h('p', {}, t('Scan the code with an authenticator app on your phone (or open the link on it, or type the key), then enter the six digits it shows.', '请用手机上的身份验证器应用扫描二维码（或在手机上打开链接，或手动输入密钥），然后输入应用显示的六位数字。')),
      h('p', { class: 'qr' }, qrImage(uri, t('QR code of the key, for an authenticator app', '密钥二维码，供身份验证器应用扫描'))),
      h('p', {}, t('Key: ', '密钥：'), h('code', { 'data-testid': 'totp-secret' }, groupedKey(secret))),
      h('p', {}, h('a', { href: uri, 'data-testid': 'totp-uri' }, t('Add to an authenticator app', '添加到身份验证器应用'))),
      form,
    );
    code.focus();
  };

  const loadFactor = (): void => {
    getJson('/api/auth/second-factor', signal)
      .then((body) => {
        const status = obj(body);
        const totp = str(status.totp);
        const required = bool(status.required) === true;
        const left = num(obj(status.recoveryCodes).remaining) ?? 0;
        if (totp === 'confirmed') {
          replace(
            factorSection,
            h('h2', {}, t('One-time codes', '动态验证码')),
            h(
              'p',
              { 'data-testid': 'second-factor-state' },
              t(`On: every sign-in asks for the code from your authenticator app. ${left} recovery code${left === 1 ? '' : 's'} left.`, `已启用：每次登录都需输入身份验证器应用中的验证码。还剩 ${left} 个恢复码。`),
            ),
            h('p', {}, left <= 3 ? t('Few recovery codes are left: make a new set (the old ones stop working).', '恢复码所剩不多：请生成新的一组（旧的将失效）。') : t('A new set of recovery codes replaces the old one.', '新的一组恢复码将替换旧的。')),
            passwordThen('rc-password', t('Make new recovery codes', '生成新的恢复码'), async (password) => showCodes(await newRecoveryCodes(password))),
          );
          return;
        }
        replace(
          factorSection,
          h('h2', {}, t('One-time codes', '动态验证码')),
          h(
            'p',
            { 'data-testid': 'second-factor-state' },
            required
              ? t('Your role needs a one-time code at every sign-in: set it up now (the next sign-in asks for it anyway).', '您的角色每次登录都需要动态验证码：请现在设置（下次登录时也会要求）。')
              : t('Off. With one-time codes on, a stolen password alone no longer signs in to this account.', '未启用。启用动态验证码后，仅凭被盗的密码无法登录此账户。'),
          ),
          passwordThen('totp-password', t('Set up one-time codes', '设置动态验证码'), async (password) => {
            const started = obj(await sendJson('POST', '/api/auth/totp', { currentPassword: password }));
            confirmStep(str(started.secret) ?? '', str(started.uri) ?? '');
          }),
        );
      })
      .catch((error: unknown) => {
        if (!signal.aborted) append(factorSection, h('p', { class: 'status', 'data-kind': 'error' }, errorText(error)));
      });
  };

  renderPassword();
  loadSessions();
  loadFactor();
  return () => controller.abort();
}
