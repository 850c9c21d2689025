import { errorText } from '../app/api';
import { h, replace, statusLine } from '../app/dom';
import { signIn } from '../app/session';

export function signInPage(root: HTMLElement, done: () => void): () => void {
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
  const controller = new AbortController();
  form.addEventListener(
    'submit',
    (event) => {
      event.preventDefault();
      submit.disabled = true;
      status.set('Signing in…');
      signIn(username.value, password.value)
        .then(done)
        .catch((error: unknown) => {
          status.set(errorText(error), 'error');
          submit.disabled = false;
          password.select();
        });
    },
    { signal: controller.signal },
  );
  replace(root, h('section', { class: 'page narrow' }, form));
  return () => controller.abort();
}
