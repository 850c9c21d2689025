import { errorText, sendJson } from '../app/api';
import { formatDateTime, h, replace } from '../app/dom';
import { obj, str } from '../app/json';
import { t } from '../app/i18n';

/**
 * "Share" on a reported study (#20, 云胶片): creates a link for the client or another hospital and shows
 * it with its access code once (the server keeps neither); "Revoke" withdraws it at once.
 */
export function sharePanel(studyUid: string): HTMLElement {
  const base = `/api/studies/${encodeURIComponent(studyUid)}/shares`;
  const withCode = h('input', { type: 'checkbox', checked: true });
  const create = h('button', { type: 'button', 'data-testid': 'share-create' }, t('Share link', '分享链接'));
  const out = h('div', { class: 'share-out', 'data-testid': 'share-out' });
  create.addEventListener('click', () => {
    create.disabled = true;
    sendJson('POST', base, { accessCode: withCode.checked })
      .then((body) => {
        const b = obj(body);
        const id = str(b.id) ?? '';
        const link = `${location.origin}${str(b.path) ?? ''}`;
        const code = str(b.code);
        const revoke = h('button', { type: 'button', 'data-testid': 'share-revoke' }, t('Revoke', '撤销'));
        revoke.addEventListener('click', () => {
          revoke.disabled = true;
          sendJson('POST', `${base}/${encodeURIComponent(id)}/revoke`)
            .then(() => replace(out, h('p', { 'data-testid': 'share-revoked' }, t('Link revoked: it no longer opens.', '链接已撤销，无法再打开。'))))
            .catch((error: unknown) => replace(out, h('p', { class: 'error' }, errorText(error))));
        });
        replace(
          out,
          h('p', {}, t('Give this link to the client; it is shown only now. ', '请将此链接交给受检者；链接仅在此时显示。'), h('a', { href: link, 'data-testid': 'share-link', target: '_blank', rel: 'noreferrer' }, link)),
          code !== null ? h('p', {}, t('Access code (send it separately): ', '访问码（请另行发送）：'), h('strong', { 'data-testid': 'share-code' }, code)) : '',
          h('p', { class: 'muted' }, t(`Valid until ${formatDateTime(str(b.expiresAt))}`, `有效期至 ${formatDateTime(str(b.expiresAt))}`)),
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
