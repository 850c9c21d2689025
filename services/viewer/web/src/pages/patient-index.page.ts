import { getJson, sendJson } from '../app/api';
import { formatDateTime, formatDicomDate, h, replace, statusLine } from '../app/dom';
import { drawShowingErrors, saveThen } from '../app/forms';
import { arr, bool, num, obj, str, strings, type JsonObject } from '../app/json';
import type { PageContext, Teardown } from '../app/router';

const REASON: Record<string, string> = {
  'identifier-demographics-differ': 'Same identifier, but the details differ',
  'identifiers-match-several': 'The identifiers point at different patients',
  'demographics-match': 'Same name, birth date and sex under another identifier',
};
const FIELD: Record<string, string> = { name: 'name', birthDate: 'birth date', sex: 'sex', identifier: 'identifier' };

/** One side of a review: who the index has, with the fields that differ drawn as such. */
function personCard(title: string, p: JsonObject, differs: readonly string[], testid: string): HTMLElement {
  const mark = (field: string, text: string): HTMLElement => h('dd', { class: differs.includes(field) ? 'differs' : '', 'data-field': field }, text || '—');
  const ids = arr(p.identifiers).map(obj);
  const studies = arr(p.studies).map(obj);
  return h(
    'div',
    { class: 'card person', 'data-testid': testid },
    h('h3', {}, title),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Name'),
      mark('name', str(p.name) ?? ''),
      h('dt', {}, 'Birth date'),
      mark('birthDate', formatDicomDate(str(p.birthDate))),
      h('dt', {}, 'Sex'),
      mark('sex', str(p.sex) ?? ''),
      h('dt', {}, 'Identifiers'),
      mark('identifier', ids.map((i) => `${str(i.value) ?? ''} (${str(i.issuer) ?? `${str(i.clinic) ?? '?'} own number`})`).join('; ')),
    ),
    h(
      'ul',
      { class: 'small' },
      ...studies.map((s) => h('li', { 'data-testid': 'person-study' }, [formatDicomDate(str(s.studyDate)) || 'date unknown', strings(s.modalities).join(' '), str(s.description) ?? '', str(s.clinic) ?? ''].filter((x) => x !== '').join(' · '))),
    ),
  );
}

/**
 * The patient index's admin queue (#20): possible duplicates side by side (the differing fields marked), to
 * merge ("same person") or keep apart, and the merge history with Unmerge. Every read and decision is
 * audited by the server.
 */
export function patientIndexPage(ctx: PageContext): Teardown {
  const controller = new AbortController();
  const status = statusLine();
  const queue = h('div', { 'data-testid': 'review-queue' });
  const history = h('div', {});
  replace(ctx.root, h('section', { class: 'page wide' }, h('h1', {}, 'Patient index'), status.el, h('h2', {}, 'To review'), queue, h('h2', {}, 'Merges'), history));

  const decide = (path: string, done: string): void => saveThen(status, () => sendJson('POST', path, {}).then(() => done), load);

  const reviewCard = (r: JsonObject): HTMLElement => {
    const id = str(r.id) ?? '';
    const differs = strings(r.differs);
    const merge = h('button', { type: 'button', class: 'primary', 'data-testid': 'merge' }, 'Same person: merge');
    const apart = h('button', { type: 'button', 'data-testid': 'keep-apart' }, 'Different people: keep apart');
    merge.addEventListener('click', () => decide(`/api/admin/patient-index/reviews/${encodeURIComponent(id)}/merge`, 'Merged. Priors now include both.'));
    apart.addEventListener('click', () => decide(`/api/admin/patient-index/reviews/${encodeURIComponent(id)}/keep-apart`, 'Kept apart.'));
    return h(
      'article',
      { class: 'review', 'data-testid': 'review', 'data-review-id': id, 'data-reason': str(r.reason) ?? '' },
      h('p', {}, h('strong', {}, REASON[str(r.reason) ?? ''] ?? str(r.reason) ?? ''), differs.length > 0 ? ` · differs: ${differs.map((d) => FIELD[d] ?? d).join(', ')}` : '', ` · raised ${formatDateTime(str(r.createdAt))}`),
      h('div', { class: 'pair' }, personCard('New study filed as', obj(r.person), differs, 'review-person'), personCard('Possibly the same as', obj(r.candidate), differs, 'review-candidate')),
      h('div', { class: 'actions' }, merge, apart),
    );
  };

  const mergeRow = (m: JsonObject): HTMLTableRowElement => {
    const id = str(m.id) ?? '';
    const undone = str(m.unmergedAt);
    const unmerge = h('button', { type: 'button', 'data-testid': 'unmerge' }, 'Unmerge');
    unmerge.addEventListener('click', () => decide(`/api/admin/patient-index/merges/${encodeURIComponent(id)}/unmerge`, 'Unmerged.'));
    return h(
      'tr',
      { 'data-testid': 'merge-row', 'data-merge-id': id, 'data-undone': String(undone !== null) },
      h('td', {}, formatDateTime(str(m.mergedAt))),
      h('td', {}, `${num(m.studiesMoved) ?? '?'} studies`),
      h('td', {}, undone ? `undone ${formatDateTime(undone)}` : 'in effect'),
      h('td', {}, undone ? '' : unmerge),
    );
  };

  /** Fetches what the page shows and draws it; rejects when it could not. */
  function load(): Promise<void> {
    return Promise.all([getJson('/api/admin/patient-index/reviews', controller.signal), getJson('/api/admin/patient-index/merges', controller.signal)])
      .then(([reviews, merges]) => {
        const open = arr(obj(reviews).reviews).map(obj).filter((r) => !(bool(r.sameNow) ?? false));
        replace(queue, ...(open.length > 0 ? open.map(reviewCard) : [h('p', { class: 'muted', 'data-testid': 'queue-empty' }, 'Nothing to review.')]));
        const rows = arr(obj(merges).merges).map(obj).map(mergeRow);
        replace(
          history,
          rows.length > 0
            ? h('table', { class: 'data', 'data-testid': 'merges' }, h('thead', {}, h('tr', {}, ...['Merged', 'Moved', 'State', ''].map((t) => h('th', { scope: 'col' }, t)))), h('tbody', {}, ...rows))
            : h('p', { class: 'muted' }, 'No merges.'),
        );
      });
  }

  /** `load`, showing in the status line why the page could not be drawn. */
  function reload(): void {
    drawShowingErrors(status, controller.signal, load);
  }
  reload();
  return () => controller.abort();
}
