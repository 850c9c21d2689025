import { errorText } from './api';
import { t } from './i18n';

/** Where a page says how its last action went (dom.ts statusLine). */
export interface StatusSetter {
  set: (text: string, kind?: 'info' | 'error') => void;
}

/**
 * One change made from a button (an admin's disable, grant, revoke…): "Saving…", then `after` (the page fetches
 * and draws itself again), then the message `run` resolved with, so that the status line never says "disabled"
 * above a row that still shows the user enabled. A refusal from the server is shown instead, as it came; a change
 * made whose page could not be drawn again says both.
 */
export function saveThen(status: StatusSetter, run: () => Promise<string>, after: () => Promise<void> = () => Promise.resolve()): void {
  status.set(t('Saving…', '正在保存…'));
  run().then(
    async (done) => {
      try {
        await after();
      } catch (error: unknown) {
        status.set(`${done} ${errorText(error)}`, 'error');
        return;
      }
      status.set(done);
    },
    (error: unknown) => status.set(errorText(error), 'error'),
  );
}

/** Runs a page's `load`; when it fails, the status line says why (not when the page was left meanwhile). */
export function drawShowingErrors(status: StatusSetter, signal: AbortSignal, load: () => Promise<void>): void {
  load().catch((error: unknown) => {
    if (!signal.aborted) status.set(errorText(error), 'error');
  });
}

/**
 * Runs `action` when `form` is submitted, one at a time: the button disabled and `busy` in the status line
 * meanwhile; a failure is shown there, the button enabled again and `retry` (the field to correct) selected.
 * On success the action says what happens next (it may replace the form).
 */
export function submitWith(
  form: HTMLFormElement,
  parts: { submit: HTMLButtonElement; status: StatusSetter; busy: string; retry: HTMLInputElement; signal: AbortSignal },
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
