import { errorText, getJson, rememberAccessToken, request, sendJson } from '../app/api';
import { deviceLabel } from '../app/device';
import { submitWith } from '../app/forms';
import { append, formatDateTime, h, replace, statusLine } from '../app/dom';
import { arr, bool, num, obj, str, strings } from '../app/json';
import { qrImage } from '../app/qr';
import type { PageContext, Teardown } from '../app/router';
import { newRecoveryCodes } from '../app/session';
import { groupedKey, recoveryCodesCard } from './sign-in.page';

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
  const passwordSection = h('section', { class: 'card', 'aria-label': 'Password' });
  const sessionsSection = h('section', { class: 'card', 'aria-label': 'Sign-ins' });
  const factorSection = h('section', { class: 'card', 'aria-label': 'One-time codes' });
  replace(
    ctx.root,
    h('section', { class: 'page narrow account' }, h('h1', {}, 'Account'), h('p', {}, `Signed in as ${ctx.me.displayName ?? ctx.me.username} (${ctx.me.role}).`), passwordSection, sessionsSection, factorSection),
  );

  // ---- password ----------------------------------------------------------------------------------
  const renderPassword = (): void => {
    const current = passwordField('pw-current', 'Current password', 'current-password');
    const next = passwordField('pw-new', 'New password', 'new-password');
    const again = passwordField('pw-again', 'New password again', 'new-password');
    const submit = h('button', { type: 'submit' }, 'Change password');
    const status = statusLine();
    const form = h('form', { 'aria-label': 'Change password' }, current.label, current.input, next.label, next.input, again.label, again.input, submit, status.el);
    submitWith(form, { submit, status, busy: 'Changing…', retry: current.input, signal }, async () => {
      if (next.input.value !== again.input.value) throw new Error('The new password and its repetition differ');
      const body = await sendJson('POST', '/api/auth/password', { currentPassword: current.input.value, newPassword: next.input.value });
      // The session's access cookie was replaced; a token kept for another origin is stale now.
      rememberAccessToken(null);
      const revoked = num(obj(body).otherSessionsRevoked) ?? 0;
      form.reset();
      status.set(`Password changed${revoked > 0 ? `; ${revoked} other sign-in${revoked === 1 ? '' : 's'} ended` : ''}.`);
      loadSessions();
    });
    replace(passwordSection, h('h2', {}, 'Password'), h('p', {}, 'A long passphrase of several words is best; common and breached passwords are refused.'), form);
  };

  // ---- sign-ins (sessions) -----------------------------------------------------------------------
  const sessionsBody = h('div', {});
  const sessionsStatus = statusLine();
  replace(sessionsSection, h('h2', {}, 'Sign-ins'), h('p', {}, 'Where this account is signed in. End any you do not recognise, then change the password.'), sessionsBody, sessionsStatus.el);
  const loadSessions = (): void => {
    getJson('/api/auth/sessions', signal)
      .then((body) => {
        const rows = arr(obj(body).sessions).map(obj);
        replace(
          sessionsBody,
          h(
            'table',
            { class: 'data', 'data-testid': 'own-sessions' },
            h('thead', {}, h('tr', {}, ...['Device', 'Signed in', 'From', 'Until', ''].map((t) => h('th', { scope: 'col' }, t)))),
            h(
              'tbody',
              {},
              ...rows.map((row) => {
                const id = str(row.id) ?? '';
                const current = bool(row.current) === true;
                const end = current ? h('span', { class: 'muted' }, 'this browser') : h('button', { type: 'button', class: 'link', 'data-testid': 'end-session' }, 'Sign out there');
                if (!current) {
                  end.addEventListener(
                    'click',
                    () => {
                      request('DELETE', `/api/auth/sessions/${encodeURIComponent(id)}`)
                        .then(() => {
                          sessionsStatus.set('Signed out there.');
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
    const field = passwordField(id, 'Current password', 'current-password');
    const submit = h('button', { type: 'submit' }, button);
    const status = statusLine();
    const form = h('form', { 'aria-label': button }, field.label, field.input, submit, status.el);
    submitWith(form, { submit, status, busy: 'Checking…', retry: field.input, signal }, () => action(field.input.value));
    return form;
  };

  const confirmStep = (secret: string, uri: string): void => {
    const code = h('input', { id: 'totp-confirm', name: 'totp-confirm', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: 6, required: true, autofocus: true });
    const submit = h('button', { type: 'submit' }, 'Turn on');
    const status = statusLine();
    const form = h('form', { 'aria-label': 'Confirm the one-time code' }, h('label', { for: 'totp-confirm' }, 'One-time code'), code, submit, status.el);
    submitWith(form, { submit, status, busy: 'Checking…', retry: code, signal }, async () => {
      showCodes(strings(obj(await sendJson('POST', '/api/auth/totp/confirm', { code: code.value.trim() })).recoveryCodes));
    });
    replace(
      factorSection,
      h('h2', {}, 'Set up one-time codes'),
      h('p', {}, 'Scan the code with an authenticator app on your phone (or open the link on it, or type the key), then enter the six digits it shows.'),
      h('p', { class: 'qr' }, qrImage(uri, 'QR code of the key, for an authenticator app')),
      h('p', {}, 'Key: ', h('code', { 'data-testid': 'totp-secret' }, groupedKey(secret))),
      h('p', {}, h('a', { href: uri, 'data-testid': 'totp-uri' }, 'Add to an authenticator app')),
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
            h('h2', {}, 'One-time codes'),
            h('p', { 'data-testid': 'second-factor-state' }, `On: every sign-in asks for the code from your authenticator app. ${left} recovery code${left === 1 ? '' : 's'} left.`),
            h('p', {}, left <= 3 ? 'Few recovery codes are left: make a new set (the old ones stop working).' : 'A new set of recovery codes replaces the old one.'),
            passwordThen('rc-password', 'Make new recovery codes', async (password) => showCodes(await newRecoveryCodes(password))),
          );
          return;
        }
        replace(
          factorSection,
          h('h2', {}, 'One-time codes'),
          h(
            'p',
            { 'data-testid': 'second-factor-state' },
            required ? 'Your role needs a one-time code at every sign-in: set it up now (the next sign-in asks for it anyway).' : 'Off. With one-time codes on, a stolen password alone no longer signs in to this account.',
          ),
          passwordThen('totp-password', 'Set up one-time codes', async (password) => {
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
