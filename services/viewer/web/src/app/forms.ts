import { errorText } from './api';

/**
 * Runs `action` when `form` is submitted, one at a time: the button disabled and `busy` in the status line
 * meanwhile; a failure is shown there, the button enabled again and `retry` (the field to correct) selected.
 * On success the action says what happens next (it may replace the form).
 */
export function submitWith(
  form: HTMLFormElement,
  parts: { submit: HTMLButtonElement; status: { set: (text: string, kind?: 'info' | 'error') => void }; busy: string; retry: HTMLInputElement; signal: AbortSignal },
  action: () => Promise<void>,
): void {
  form.addEventListener(
    'submit',
    (event) => {
      event.preventDefault();
      parts.submit.disabled = true;
      parts.status.set(parts.busy);
      action()
        .then(() => {
          parts.submit.disabled = false;
        })
        .catch((error: unknown) => {
          parts.status.set(errorText(error), 'error');
          parts.submit.disabled = false;
          parts.retry.select();
        });
    },
    { signal: parts.signal },
  );
}
