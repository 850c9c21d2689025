import { getJson, sendJson } from '../app/api';
import { formatDateTime, formatDicomDate, h, replace, statusLine } from '../app/dom';
import { drawShowingErrors, saveThen } from '../app/forms';
import { arr, bool, num, obj, str, strings, type JsonObject } from '../app/json';
import type { PageContext, Teardown } from '../app/router';
import { t } from '../app/i18n';

/** Why the index raised a review, in the reader's language; an unknown code as it came. */
function reasonLabel(code: string): string {
  const labels: Record<string, string> = {
    'identifier-demographics-differ': t('Same identifier, but the details differ', '标识号相同，但个人信息不一致'),
    'identifiers-match-several': t('The identifiers point at different patients', '这些标识号分别指向不同的患者'),
    'demographics-match': t('Same name, birth date and sex under another identifier', '姓名、出生日期和性别相同，但标识号不同'),
  };
  return labels[code] ?? code;
}

/** A field that differs, in the reader's language (the card's data-field keeps the code). */
function fieldLabel(code: string): string {
  const labels: Record<string, string> = { name: t('name', '姓名'), birthDate: t('birth date', '出生日期'), sex: t('sex', '性别'), identifier: t('identifier', '标识号') };
  return labels[code] ?? code;
}

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
      h('dt', {}, t('Name', '姓名')),
      mark('name', str(p.name) ?? ''),
      h('dt', {}, t('Birth date', '出生日期')),
      mark('birthDate', formatDicomDate(str(p.birthDate))),
      h('dt', {}, t('Sex', '性别')),
      mark('sex', str(p.sex) ?? ''),
      h('dt', {}, t('Identifiers', '标识号')),
      mark(
        'identifier',
        ids
          .map((i) => {
            // The issuer is the DICOM Issuer of Patient ID, shown as it is; without one, the clinic's own number.
            const value = str(i.value) ?? '';
            const issuer = str(i.issuer);
            const clinic = str(i.clinic) ?? '?';
            return issuer !== null ? t(`${value} (${issuer})`, `${value}（${issuer}）`) : t(`${value} (${clinic} own number)`, `${value}（${clinic} 本机构编号）`);
          })
          .join(t('; ', '；')),
      ),
    ),
    h(
      'ul',
      { class: 'small' },
      ...studies.map((s) => h('li', { 'data-testid': 'person-study' }, [formatDicomDate(str(s.studyDate)) || t('date unknown', '日期不详'), strings(s.modalities).join(' '), str(s.description) ?? '', str(s.clinic) ?? ''].filter((x) => x !== '').join(' · '))),
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
  replace(ctx.root, h('section', { class: 'page wide' }, h('h1', {}, t('Patient index', '患者索引')), status.el, h('h2', {}, t('To review', '待审核')), queue, h('h2', {}, t('Merges', '合并记录')), history));

  const decide = (path: string, done: string): void => saveThen(status, () => sendJson('POST', path, {}).then(() => done), load);

  const reviewCard = (r: JsonObject): HTMLElement => {
    const id = str(r.id) ?? '';
    const differs = strings(r.differs);
    const merge = h('button', { type: 'button', class: 'primary', 'data-testid': 'merge' }, t('Same person: merge', '同一人：合并'));
    const apart = h('button', { type: 'button', 'data-testid': 'keep-apart' }, t('Different people: keep apart', '不同的人：不合并'));
    merge.addEventListener('click', () => decide(`/api/admin/patient-index/reviews/${encodeURIComponent(id)}/merge`, t('Merged. Priors now include both.', '已合并。既往检查现包含双方的检查。')));
    apart.addEventListener('click', () => decide(`/api/admin/patient-index/reviews/${encodeURIComponent(id)}/keep-apart`, t('Kept apart.', '已确认为不同的人，不合并。')));
    return h(
      'article',
      { class: 'review', 'data-testid': 'review', 'data-review-id': id, 'data-reason': str(r.reason) ?? '' },
      h(
        'p',
        {},
        h('strong', {}, reasonLabel(str(r.reason) ?? '')),
        differs.length > 0 ? t(` · differs: ${differs.map(fieldLabel).join(', ')}`, ` · 不一致：${differs.map(fieldLabel).join('、')}`) : '',
        t(` · raised ${formatDateTime(str(r.createdAt))}`, ` · 发现于 ${formatDateTime(str(r.createdAt))}`),
      ),
      h(
        'div',
        { class: 'pair' },
        personCard(t('New study filed as', '新检查归入'), obj(r.person), differs, 'review-person'),
        personCard(t('Possibly the same as', '可能是同一人'), obj(r.candidate), differs, 'review-candidate'),
      ),
      h('div', { class: 'actions' }, merge, apart),
    );
  };

  const mergeRow = (m: JsonObject): HTMLTableRowElement => {
    const id = str(m.id) ?? '';
    const undone = str(m.unmergedAt);
    const unmerge = h('button', { type: 'button', 'data-testid': 'unmerge' }, t('Unmerge', '撤销合并'));
    unmerge.addEventListener('click', () => decide(`/api/admin/patient-index/merges/${encodeURIComponent(id)}/unmerge`, t('Unmerged.', '已撤销合并。')));
    return h(
      'tr',
      { 'data-testid': 'merge-row', 'data-merge-id': id, 'data-undone': String(undone !== null) },
      h('td', {}, formatDateTime(str(m.mergedAt))),
      h('td', {}, t(`${num(m.studiesMoved) ?? '?'} studies`, `${num(m.studiesMoved) ?? '?'} 项检查`)),
      h('td', {}, undone ? t(`undone ${formatDateTime(undone)}`, `已于 ${formatDateTime(undone)} 撤销`) : t('in effect', '生效中')),
      h('td', {}, undone ? '' : unmerge),
    );
  };

  /** Fetches what the page shows and draws it; rejects when it could not. */
  function load(): Promise<void> {
    return Promise.all([getJson('/api/admin/patient-index/reviews', controller.signal), getJson('/api/admin/patient-index/merges', controller.signal)])
      .then(([reviews, merges]) => {
        const open = arr(obj(reviews).reviews).map(obj).filter((r) => !(bool(r.sameNow) ?? false));
        replace(queue, ...(open.length > 0 ? open.map(reviewCard) : [h('p', { class: 'muted', 'data-testid': 'queue-empty' }, t('Nothing to review.', '暂无待审核项。'))]));
        const rows = arr(obj(merges).merges).map(obj).map(mergeRow);
        replace(
          history,
          rows.length > 0
            ? h('table', { class: 'data', 'data-testid': 'merges' }, h('thead', {}, h('tr', {}, ...[t('Merged', '合并时间'), t('Moved', '转移的检查'), t('State', '状态'), ''].map((label) => h('th', { scope: 'col' }, label)))), h('tbody', {}, ...rows))
            : h('p', { class: 'muted' }, t('No merges.', '暂无合并记录。')),
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
