import { errorText, sendJson } from '../app/api';
import { formatDateTime, h, replace } from '../app/dom';
import { obj, str } from '../app/json';

/**
 * "Share" on a reported study (#20, 云胶片): creates a link for the client or another hospital and shows
 * it with its access code once (the server keeps neither); "Revoke" withdraws it at once.
 */
export function sharePanel(studyUid: string): HTMLElement {
  const base = `/api/studies/${encodeURIComponent(studyUid)}/shares`;
  const withCode = h('input', { type: 'checkbox', checked: true });
  const create = h('button', { type: 'button', 'data-testid': 'share-create' }, 'Share link');
  const out = h('div', { class: 'share-out', 'data-testid': 'share-out' });
  create.addEventListener('click', () => {
    create.disabled = true;
    sendJson('POST', base, { accessCode: withCode.checked })
      .then((body) => {
        const b = obj(body);
        const id = str(b.id) ?? '';
        const link = `${location.origin}${str(b.path) ?? ''}`;
        const code = str(b.code);
        const revoke = h('button', { type: 'button', 'data-testid': 'share-revoke' }, 'Revoke');
        revoke.addEventListener('click', () => {
          revoke.disabled = true;
          sendJson('POST', `${base}/${encodeURIComponent(id)}/revoke`)
            .then(() => replace(out, h('p', { 'data-testid': 'share-revoked' }, 'Link revoked: it no longer opens.')))
            .catch((error: unknown) => replace(out, h('p', { class: 'error' }, errorText(error))));
        });
        replace(
          out,
          h('p', {}, 'Give this link to the client; it is shown only now. ', h('a', { href: link, 'data-testid': 'share-link', target: '_blank', rel: 'noreferrer' }, link)),
          code !== null ? h('p', {}, 'Access code (send it separately): ', h('strong', { 'data-testid': 'share-code' }, code)) : '',
          h('p', { class: 'muted' }, `Valid until ${formatDateTime(str(b.expiresAt))}`),
          revoke,
        );
      })
      .catch((error: unknown) => replace(out, h('p', { class: 'error' }, errorText(error))))
      .finally(() => {
        create.disabled = false;
      });
  });
  return h('div', { class: 'share-panel' }, h('label', {}, withCode, ' with access code'), ' ', create, out);
}
