import { errorText } from '../app/api';
import { append, h, replace, statusLine } from '../app/dom';
import { submitWith } from '../app/forms';
import { t } from '../app/i18n';
import { codeStepOf, newRecoveryCodes, signIn, signInWithCode, type CodeStep, type SignInOutcome } from '../app/session';

/**
 * The QR code of a key being set up, drawn when its code has loaded: the QR encoder is its own chunk, which only a
 * first sign-in with a one-time code needs (the key and the link beside it work without it).
 */
function qrParagraph(uri: string): HTMLElement {
  const paragraph = h('p', { class: 'qr' });
  void import('../app/qr')
    .then(({ qrImage }) => paragraph.append(qrImage(uri, t('QR code of the key, for an authenticator app', '密钥二维码，供身份验证器应用扫描'))))
    .catch(() => undefined);
  return paragraph;
}

/** The key in groups of four, as authenticator apps show it, for typing it in by hand. */
export function groupedKey(secret: string): string {
  return (secret.match(/.{1,4}/g) ?? []).join(' ');
}

/** The recovery codes, shown once (at the enrolment that made them, or when the user makes a new set). */
export function recoveryCodesCard(codes: readonly string[], done: () => void): HTMLElement {
  const next = h('button', { type: 'button', autofocus: true }, t('I have saved them, continue', '我已保存，继续'));
  next.addEventListener('click', done, { once: true });
  return h(
    'section',
    { class: 'card sign-in', 'aria-label': t('Recovery codes', '恢复码') },
    h('h1', {}, t('Save your recovery codes', '请保存您的恢复码')),
    h('p', {}, t(
      'If you lose your phone, each of these codes signs you in once in place of the one-time code. Keep them somewhere safe (printed, or in a password manager): they are not shown again.',
      '手机丢失时，每个恢复码可代替动态验证码登录一次。请妥善保存（打印，或存入密码管理器）：恢复码不会再次显示。',
    )),
    h('ul', { class: 'recovery-codes', 'data-testid': 'recovery-codes' }, ...codes.map((code) => h('li', {}, h('code', {}, code)))),
    next,
  );
}

/** After a sign-in with a recovery code: how many are left, and a new set for the password (the old set stops working). */
function recoveryUsedCard(left: number, done: () => void, signal: AbortSignal): HTMLElement {
  const card = h('section', { class: 'card sign-in', 'aria-label': t('Recovery code used', '已使用恢复码') });
  const password = h('input', { id: 'current-password', name: 'current-password', type: 'password', autocomplete: 'current-password', required: true });
  const make = h('button', { type: 'submit' }, t('Make a new set', '生成新的一组'));
  const later = h('button', { type: 'button', class: 'link' }, left > 0 ? t('Not now, continue', '暂不，继续') : t('Continue', '继续'));
  later.addEventListener('click', done, { signal, once: true });
  const status = statusLine();
  const form = h('form', { 'aria-label': t('New recovery codes', '新的恢复码') }, h('label', { for: 'current-password' }, t('Password', '密码')), password, make, status.el);
  submitWith(form, { submit: make, status, busy: t('Making new codes…', '正在生成…'), retry: password, signal }, async () => {
    card.replaceWith(recoveryCodesCard(await newRecoveryCodes(password.value), done));
  });
  append(
    card,
    h('h1', {}, t('Recovery code used', '已使用恢复码')),
    h('p', { 'data-testid': 'recovery-codes-left' }, t(`You signed in with a recovery code; ${left} ${left === 1 ? 'code is' : 'codes are'} left. Each works once.`, `您已使用恢复码登录；还剩 ${left} 个，每个只能使用一次。`)),
    h('p', {}, left <= 3
        ? t('Make a new set now (your password is asked again), or ask an administrator to reset your second factor if the phone is lost for good.', '请现在生成新的一组（需再次输入密码）；如手机确已丢失，请联系管理员重置第二因素。')
        : t('You can make a new set at any time.', '您可以随时生成新的一组。')),
    form,
    later,
  );
  return card;
}

/**
 * Sign-in: user name and password, then, for a role that needs a second factor (#17), the one-time code;
 * at a first sign-in of such a user, the key to add to an authenticator app (and an otpauth: link for a
 * phone) comes first, and the first code confirms it. The password is not kept for the code step: the
 * server's challenge stands in for it. The first code of an enrolment makes the recovery codes, shown once;
 * a recovery code is accepted in place of the app's code, and the page then says how many are left.
 */
export function signInPage(root: HTMLElement, done: () => void): () => void {
  const controller = new AbortController();
  const { signal } = controller;

  const codeForm = (step: CodeStep): HTMLFormElement => {
    let challenge = step.challenge;
    const code = h('input', { id: 'totp', name: 'totp', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: 6, required: true, autofocus: true });
    const codeLabel = h('label', { for: 'totp' }, t('One-time code', '动态验证码'));
    // A lost phone: one of the recovery codes (letters and digits, xxxxx-xxxxx) in place of the app's code.
    const useRecovery = step.enrolment
      ? null
      : h('button', { type: 'button', class: 'link', 'data-testid': 'use-recovery-code' }, t('Use a recovery code instead', '改用恢复码'));
    useRecovery?.addEventListener(
      'click',
      () => {
        codeLabel.textContent = t('Recovery code', '恢复码');
        code.removeAttribute('inputmode');
        code.setAttribute('autocomplete', 'off');
        code.setAttribute('pattern', '[0-9A-Za-z -]{10,13}');
        code.setAttribute('maxlength', '13');
        code.value = '';
        code.focus();
        useRecovery.remove();
      },
      { signal },
    );
    const submit = h('button', { type: 'submit' }, step.enrolment ? t('Confirm and sign in', '确认并登录') : t('Sign in', '登录'));
    const status = statusLine();
    const enrolment = step.enrolment
      ? h(
          'section',
          { 'aria-label': t('Set up a one-time code generator', '设置动态验证码'), class: 'totp-enrolment' },
          h('p', {}, t(
              'Your role needs a one-time code at every sign-in. Add this account to an authenticator app (scan the code with your phone, open the link on it, or type the key), then enter the code it shows.',
              '您的角色每次登录都需要动态验证码。请将此账户添加到身份验证器应用（用手机扫描二维码、在手机上打开链接，或手动输入密钥），然后输入应用显示的验证码。',
            )),
          qrParagraph(step.enrolment.uri),
          h('p', {}, t('Key: ', '密钥：'), h('code', { 'data-testid': 'totp-secret' }, groupedKey(step.enrolment.secret))),
          h('p', {}, h('a', { href: step.enrolment.uri, 'data-testid': 'totp-uri' }, t('Add to an authenticator app', '添加到身份验证器应用'))),
        )
      : null;
    const form = h(
      'form',
      { class: 'card sign-in', 'aria-label': t('Second factor', '第二因素') },
      h('h1', {}, step.enrolment ? t('Set up a second factor', '设置第二因素') : t('One-time code', '动态验证码')),
      enrolment,
      codeLabel,
      code,
      submit,
      useRecovery,
      status.el,
    );
    form.addEventListener(
      'submit',
      (event) => {
        event.preventDefault();
        submit.disabled = true;
        status.set(t('Checking…', '正在验证…'));
        signInWithCode(challenge, code.value.trim())
          .then(finish)
          .catch((error: unknown) => {
            // A wrong code comes with a fresh challenge; an expired sign-in without one starts over.
            const next = codeStepOf(error);
            if (next === null) {
              showPasswordForm(errorText(error));
              return;
            }
            challenge = next.challenge;
            status.set(errorText(error), 'error');
            submit.disabled = false;
            code.select();
          });
      },
      { signal },
    );
    return form;
  };

  const finish = (outcome: SignInOutcome): void => {
    if (outcome.kind === 'code') replace(root, h('section', { class: 'page narrow' }, codeForm(outcome)));
    else if (outcome.recoveryCodes !== null) replace(root, h('section', { class: 'page narrow' }, recoveryCodesCard(outcome.recoveryCodes, done)));
    else if (outcome.recoveryCodesLeft !== null) replace(root, h('section', { class: 'page narrow' }, recoveryUsedCard(outcome.recoveryCodesLeft, done, signal)));
    else done();
  };

  const showPasswordForm = (message?: string): void => {
    const username = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, autofocus: true });
    const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
    const submit = h('button', { type: 'submit' }, t('Sign in', '登录'));
    const status = statusLine();
    const form = h(
      'form',
      { class: 'card sign-in', 'aria-label': t('Sign in', '登录') },
      h('h1', {}, t('Sign in', '登录')),
      h('label', { for: 'username' }, t('User name', '用户名')),
      username,
      h('label', { for: 'password' }, t('Password', '密码')),
      password,
      submit,
      status.el,
    );
    if (message !== undefined) status.set(message, 'error');
    form.addEventListener(
      'submit',
      (event) => {
        event.preventDefault();
        submit.disabled = true;
        status.set(t('Signing in…', '正在登录…'));
        signIn(username.value, password.value)
          .then(finish)
          .catch((error: unknown) => {
            status.set(errorText(error), 'error');
            submit.disabled = false;
            password.select();
          });
      },
      { signal },
    );
    replace(root, h('section', { class: 'page narrow' }, form));
  };

  showPasswordForm();
  return () => controller.abort();
}
