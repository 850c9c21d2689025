import { errorText } from '../app/api';
import { h, replace, statusLine } from '../app/dom';
import { codeStepOf, signIn, signInWithCode, type CodeStep, type SignInOutcome } from '../app/session';

/** The key in groups of four, as authenticator apps show it, for typing it in by hand. */
function groupedKey(secret: string): string {
  return (secret.match(/.{1,4}/g) ?? []).join(' ');
}

/**
 * Sign-in: user name and password, then, for a role that needs a second factor (#17), the one-time code;
 * at a first sign-in of such a user, the key to add to an authenticator app (and an otpauth: link for a
 * phone) comes first, and the first code confirms it. The password is not kept for the code step: the
 * server's challenge stands in for it.
 */
export function signInPage(root: HTMLElement, done: () => void): () => void {
  const controller = new AbortController();
  const { signal } = controller;

  const codeForm = (step: CodeStep): HTMLFormElement => {
    let challenge = step.challenge;
    const code = h('input', { id: 'totp', name: 'totp', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: 6, required: true, autofocus: true });
    const submit = h('button', { type: 'submit' }, step.enrolment ? 'Confirm and sign in' : 'Sign in');
    const status = statusLine();
    const enrolment = step.enrolment
      ? h(
          'section',
          { 'aria-label': 'Set up a one-time code generator', class: 'totp-enrolment' },
          h('p', {}, 'Your role needs a one-time code at every sign-in. Add this account to an authenticator app (open the link on your phone, or type the key), then enter the code it shows.'),
          h('p', {}, 'Key: ', h('code', { 'data-testid': 'totp-secret' }, groupedKey(step.enrolment.secret))),
          h('p', {}, h('a', { href: step.enrolment.uri, 'data-testid': 'totp-uri' }, 'Add to an authenticator app')),
        )
      : null;
    const form = h(
      'form',
      { class: 'card sign-in', 'aria-label': 'Second factor' },
      h('h1', {}, step.enrolment ? 'Set up a second factor' : 'One-time code'),
      enrolment,
      h('label', { for: 'totp' }, 'One-time code'),
      code,
      submit,
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
    if (outcome.kind === 'signed-in') done();
    else replace(root, h('section', { class: 'page narrow' }, codeForm(outcome)));
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
