import { errorText } from '../app/api';
import { append, h, replace, statusLine } from '../app/dom';
import { submitWith } from '../app/forms';
import { qrImage } from '../app/qr';
import { codeStepOf, newRecoveryCodes, signIn, signInWithCode, type CodeStep, type SignInOutcome } from '../app/session';

/** The key in groups of four, as authenticator apps show it, for typing it in by hand. */
export function groupedKey(secret: string): string {
  return (secret.match(/.{1,4}/g) ?? []).join(' ');
}

/** The recovery codes, shown once (at the enrolment that made them, or when the user makes a new set). */
export function recoveryCodesCard(codes: readonly string[], done: () => void): HTMLElement {
  const next = h('button', { type: 'button', autofocus: true }, 'I have saved them, continue');
  next.addEventListener('click', done, { once: true });
  return h(
    'section',
    { class: 'card sign-in', 'aria-label': 'Recovery codes' },
    h('h1', {}, 'Save your recovery codes'),
    h('p', {}, 'If you lose your phone, each of these codes signs you in once in place of the one-time code. Keep them somewhere safe (printed, or in a password manager): they are not shown again.'),
    h('ul', { class: 'recovery-codes', 'data-testid': 'recovery-codes' }, ...codes.map((code) => h('li', {}, h('code', {}, code)))),
    next,
  );
}

/** After a sign-in with a recovery code: how many are left, and a new set for the password (the old set stops working). */
function recoveryUsedCard(left: number, done: () => void, signal: AbortSignal): HTMLElement {
  const card = h('section', { class: 'card sign-in', 'aria-label': 'Recovery code used' });
  const password = h('input', { id: 'current-password', name: 'current-password', type: 'password', autocomplete: 'current-password', required: true });
  const make = h('button', { type: 'submit' }, 'Make a new set');
  const later = h('button', { type: 'button', class: 'link' }, left > 0 ? 'Not now, continue' : 'Continue');
  later.addEventListener('click', done, { signal, once: true });
  const status = statusLine();
  const form = h('form', { 'aria-label': 'New recovery codes' }, h('label', { for: 'current-password' }, 'Password'), password, make, status.el);
  submitWith(form, { submit: make, status, busy: 'Making new codes…', retry: password, signal }, async () => {
    card.replaceWith(recoveryCodesCard(await newRecoveryCodes(password.value), done));
  });
  append(
    card,
    h('h1', {}, 'Recovery code used'),
    h('p', { 'data-testid': 'recovery-codes-left' }, `You signed in with a recovery code; ${left} ${left === 1 ? 'code is' : 'codes are'} left. Each works once.`),
    h('p', {}, left <= 3 ? 'Make a new set now (your password is asked again), or ask an administrator to reset your second factor if the phone is lost for good.' : 'You can make a new set at any time.'),
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
    const codeLabel = h('label', { for: 'totp' }, 'One-time code');
    // A lost phone: one of the recovery codes (letters and digits, xxxxx-xxxxx) in place of the app's code.
    const useRecovery = step.enrolment
      ? null
      : h('button', { type: 'button', class: 'link', 'data-testid': 'use-recovery-code' }, 'Use a recovery code instead');
    useRecovery?.addEventListener(
      'click',
      () => {
        codeLabel.textContent = 'Recovery code';
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
    const submit = h('button', { type: 'submit' }, step.enrolment ? 'Confirm and sign in' : 'Sign in');
    const status = statusLine();
    const enrolment = step.enrolment
      ? h(
          'section',
          { 'aria-label': 'Set up a one-time code generator', class: 'totp-enrolment' },
          h('p', {}, 'Your role needs a one-time code at every sign-in. Add this account to an authenticator app (scan the code with your phone, open the link on it, or type the key), then enter the code it shows.'),
          h('p', { class: 'qr' }, qrImage(step.enrolment.uri, 'QR code of the key, for an authenticator app')),
          h('p', {}, 'Key: ', h('code', { 'data-testid': 'totp-secret' }, groupedKey(step.enrolment.secret))),
          h('p', {}, h('a', { href: step.enrolment.uri, 'data-testid': 'totp-uri' }, 'Add to an authenticator app')),
        )
      : null;
    const form = h(
      'form',
      { class: 'card sign-in', 'aria-label': 'Second factor' },
      h('h1', {}, step.enrolment ? 'Set up a second factor' : 'One-time code'),
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
        status.set('Checking…');
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
    const submit = h('button', { type: 'submit' }, 'Sign in');
    const status = statusLine();
    const form = h(
      'form',
      { class: 'card sign-in', 'aria-label': 'Sign in' },
      h('h1', {}, 'Sign in'),
      h('label', { for: 'username' }, 'User name'),
      username,
      h('label', { for: 'password' }, 'Password'),
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
        status.set('Signing in…');
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
