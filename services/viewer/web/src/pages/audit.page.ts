import { errorText, getJson } from '../app/api';
import { formatDateTime, h, replace, statusLine } from '../app/dom';
import { arr, bool, num, obj, str, strings, type JsonObject } from '../app/json';
import type { PageContext, Teardown } from '../app/router';
import { roleLabel } from '../app/session';
import { t } from '../app/i18n';
import { riskLabel } from './retention-risk';

/** The actor's role code in the reader's language; a code that is no user role (a service) as it came. */
function actorRoleLabel(code: string): string {
  return code === 'clinic' || code === 'radiologist' || code === 'auditor' || code === 'admin' ? roleLabel(code) : code;
}

function table(headers: string[], rows: HTMLTableRowElement[], testid: string): HTMLTableElement {
  return h('table', { class: 'data', 'data-testid': testid }, h('thead', {}, h('tr', {}, ...headers.map((label) => h('th', { scope: 'col' }, label)))), h('tbody', {}, ...rows));
}

function td(text: string | number | null, attrs: Record<string, string> = {}): HTMLTableCellElement {
  return h('td', attrs, text === null ? '—' : String(text));
}

function date(value: unknown): string {
  const s = str(value);
  return s ? formatDateTime(s) : '—';
}

function query(params: Record<string, string>): string {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== ''));
  const s = q.toString();
  return s ? `?${s}` : '';
}

const RETENTION_PAGE = 200;

function retentionRow(s: JsonObject): HTMLTableRowElement {
  const risks = strings(s.risks);
  return h(
    'tr',
    { class: risks.length > 0 ? 'at-risk' : '', 'data-study-uid': str(s.studyInstanceUid) ?? '', 'data-testid': 'retention-study' },
    h('td', { class: 'uid' }, h('a', { href: `/audit/studies/${encodeURIComponent(str(s.studyInstanceUid) ?? '')}`, 'data-link': true, 'data-testid': 'study-record-link' }, str(s.studyInstanceUid) ?? '—')),
    td(str(s.clinicCode)),
    td(`${num(s.copiesPresent) ?? 0}/${num(s.copiesRequired) ?? 3}`, { 'data-testid': 'copies' }),
    td(date(s.lastVerifiedAt)),
    td(date(s.retainUntil)),
    td(strings(s.lockModes).join(', ') || '—'),
    td(bool(s.legalHold) ? t('yes', '是') : t('no', '否')),
    td(risks.map(riskLabel).join(t('; ', '；')) || t('none', '无')),
  );
}

/**
 * Retention per clinic and per study (at risk first), with CSV export (issue #7). Studies come in pages
 * of RETENTION_PAGE (the API pages by offset and tells the total); "More" appends the next.
 */
export function retentionPage(ctx: PageContext): Teardown {
  const controller = new AbortController();
  const status = statusLine();
  const atRisk = h('input', { type: 'checkbox', id: 'at-risk' });
  const study = h('input', { id: 'study-filter', placeholder: t('Study Instance UID', '检查实例 UID'), pattern: '[0-9.]+' });
  const csv = h('a', { class: 'button', href: '/api/audit/retention.csv', download: true, 'data-testid': 'retention-csv' }, t('Export CSV', '导出 CSV'));
  const clinics = h('div', {});
  const studies = h('div', {});
  const more = h('button', { type: 'button', hidden: true, 'data-testid': 'more' }, t('More studies', '更多检查'));
  const form = h(
    'form',
    { class: 'filters' },
    h('label', { for: 'study-filter' }, t('Study', '检查')),
    study,
    h('label', { for: 'at-risk' }, atRisk, t(' At risk only', ' 仅显示有风险的检查')),
    h('button', { type: 'submit' }, t('Apply', '筛选')),
    csv,
  );
  replace(ctx.root, h('section', { class: 'page wide' }, h('h1', {}, t('Retention', '保存期限')), form, status.el, h('h2', {}, t('Clinics', '机构')), clinics, h('h2', {}, t('Studies', '检查')), studies, more));

  let rows: HTMLTableRowElement[] = [];
  // The filter of the rows shown: "More" continues it even if the form was edited without applying.
  let params: Record<string, string> = {};
  let generation = 0;
  const load = (append: boolean): void => {
    const mine = ++generation;
    if (!append) params = { study: study.value.trim(), atRisk: atRisk.checked ? 'true' : '' };
    csv.href = `/api/audit/retention.csv${query(params)}`;
    more.disabled = true;
    status.set(t('Loading…', '正在加载…'));
    getJson(`/api/audit/retention${query({ ...params, limit: String(RETENTION_PAGE), offset: append ? String(rows.length) : '' })}`, controller.signal)
      .then((body) => {
        if (mine !== generation) return;
        const b = obj(body);
        replace(
          clinics,
          table(
            [
              t('Clinic', '机构'),
              t('Studies', '检查数'),
              t('At risk', '有风险'),
              t('Fewest copies', '最少副本数'),
              t('Oldest verification', '最早一次校验'),
              t('Earliest retain-until', '最早保存截止'),
              t('Legal holds', '法律保留数'),
            ],
            arr(b.clinics)
              .map(obj)
              .map((c) => h('tr', {}, td(`${str(c.clinicCode) ?? ''} ${str(c.clinicName) ?? ''}`), td(num(c.studies)), td(num(c.studiesAtRisk)), td(num(c.minCopiesPresent) === null ? null : `${num(c.minCopiesPresent)}/3`), td(date(c.oldestVerificationAt)), td(date(c.earliestRetainUntil)), td(num(c.legalHolds)))),
            'retention-clinics',
          ),
        );
        const page = arr(b.studies).map(obj).map(retentionRow);
        rows = append ? [...rows, ...page] : page;
        replace(
          studies,
          table(
            [t('Study', '检查'), t('Clinic', '机构'), t('Copies', '副本'), t('Last verified', '最近校验'), t('Retain until', '保存至'), t('Lock', '留存锁'), t('Legal hold', '法律保留'), t('Risks', '风险')],
            rows,
            'retention-studies',
          ),
        );
        const total = num(b.total) ?? rows.length;
        more.hidden = page.length === 0 || rows.length >= total;
        more.disabled = false;
        const risky = num(b.atRisk) ?? 0;
        status.set(
          t(
            `${total} studies, ${risky} at risk${rows.length < total ? ` (showing ${rows.length})` : ''}`,
            `共 ${total} 项检查，${risky} 项有风险${rows.length < total ? `（已显示 ${rows.length} 项）` : ''}`,
          ),
        );
      })
      .catch((error: unknown) => {
        more.disabled = false;
        if (!controller.signal.aborted) status.set(errorText(error), 'error');
      });
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    load(false);
  });
  more.addEventListener('click', () => load(true));
  load(false);
  return () => controller.abort();
}

/** ISO 8601 with offset from a datetime-local input, or ''. */
function isoFromLocal(value: string): string {
  if (!value) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

/** Access history by study, user and time range, the audit chain's verification, CSV export (issue #7). */
export function accessPage(ctx: PageContext): Teardown {
  const controller = new AbortController();
  const status = statusLine();
  const verify = h('p', { class: 'verify', 'data-testid': 'chain-verification', role: 'status' }, t('Verifying the audit chain…', '正在校验审计链…'));
  const study = h('input', { id: 'ev-study', placeholder: t('Study Instance UID', '检查实例 UID') });
  const user = h('input', { id: 'ev-user', placeholder: t('User name', '用户名') });
  const from = h('input', { id: 'ev-from', type: 'datetime-local' });
  const to = h('input', { id: 'ev-to', type: 'datetime-local' });
  const csv = h('a', { class: 'button', href: '/api/audit/events.csv', download: true, 'data-testid': 'events-csv' }, t('Export CSV', '导出 CSV'));
  const results = h('div', {});
  const more = h('button', { type: 'button', hidden: true, 'data-testid': 'more' }, t('More events', '更多记录'));
  const form = h(
    'form',
    { class: 'filters' },
    h('label', { for: 'ev-study' }, t('Study', '检查')),
    study,
    h('label', { for: 'ev-user' }, t('User', '用户')),
    user,
    h('label', { for: 'ev-from' }, t('From', '开始时间')),
    from,
    h('label', { for: 'ev-to' }, t('To', '结束时间')),
    to,
    h('button', { type: 'submit' }, t('Search', '查询')),
    csv,
  );
  const initialStudy = ctx.query.get('study');
  if (initialStudy) study.value = initialStudy;
  replace(ctx.root, h('section', { class: 'page wide' }, h('h1', {}, t('Access history', '访问记录')), verify, form, status.el, results, more));

  getJson('/api/audit/verify', controller.signal)
    .then((body) => {
      const b = obj(body);
      if (bool(b.ok) === true) {
        const count = num(b.count) ?? 0;
        const head = num(b.headSeq) ?? 0;
        verify.textContent = t(`Audit chain verified: ${count} records intact, head #${head} (${date(b.verifiedAt)}).`, `审计链校验通过：${count} 条记录完整，最新记录 #${head}（${date(b.verifiedAt)}）。`);
        verify.dataset.ok = 'true';
      } else {
        // What is wrong is the server's text, shown as it came.
        const at = num(b.firstBadSeq) ?? '?';
        const problem = `${str(b.problem) ?? ''} — ${str(b.detail) ?? ''}`;
        verify.textContent = t(`Audit chain BROKEN at record #${at}: ${problem}`, `审计链已断裂，断点在记录 #${at}：${problem}`);
        verify.dataset.ok = 'false';
      }
    })
    .catch((error: unknown) => {
      verify.textContent = t(`Verification failed: ${errorText(error)}`, `校验失败：${errorText(error)}`);
    });

  let cursor: number | null = null;
  let rows: HTMLTableRowElement[] = [];
  const params = (): Record<string, string> => ({ study: study.value.trim(), user: user.value.trim(), from: isoFromLocal(from.value), to: isoFromLocal(to.value) });
  const load = (append: boolean): void => {
    const p = params();
    csv.href = `/api/audit/events.csv${query(p)}`;
    status.set(t('Loading…', '正在加载…'));
    getJson(`/api/audit/events${query({ ...p, limit: '100', ...(append && cursor !== null ? { cursor: String(cursor) } : {}) })}`, controller.signal)
      .then((body) => {
        const b = obj(body);
        const page = arr(b.events)
          .map(obj)
          .map((e) =>
            h(
              'tr',
              { 'data-testid': 'audit-event' },
              td(num(e.seq)),
              td(date(e.occurredAt)),
              td(str(e.eventType)),
              td(str(e.action)),
              td(num(e.outcome) === 0 ? t('success', '成功') : t(`failure ${num(e.outcome) ?? ''}`, `失败 ${num(e.outcome) ?? ''}`)),
              td(`${str(e.actorUsername) ?? ''}${str(e.actorRole) ? t(` (${actorRoleLabel(str(e.actorRole) ?? '')})`, `（${actorRoleLabel(str(e.actorRole) ?? '')}）`) : ''}`, { 'data-testid': 'actor' }),
              td(str(e.studyInstanceUid), { class: 'uid' }),
              td(str(obj(e.details).what) ?? str(obj(e.details).action) ?? ''),
            ),
          );
        rows = append ? [...rows, ...page] : page;
        cursor = num(b.nextCursor);
        more.hidden = cursor === null;
        replace(results, table(['#', t('When', '时间'), t('Event', '事件'), t('Action', '操作'), t('Outcome', '结果'), t('Who', '操作人'), t('Study', '检查'), t('What', '内容')], rows, 'audit-events'));
        status.set(`${t(`${rows.length} events`, `${rows.length} 条记录`)}${cursor !== null ? t(' (more available)', '（还有更多）') : ''}`);
      })
      .catch((error: unknown) => {
        if (!controller.signal.aborted) status.set(errorText(error), 'error');
      });
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    load(false);
  });
  more.addEventListener('click', () => load(true));
  load(false);
  return () => controller.abort();
}
