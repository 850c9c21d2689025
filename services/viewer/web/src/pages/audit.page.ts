import { errorText, getJson } from '../app/api';
import { formatDateTime, h, replace, statusLine } from '../app/dom';
import { arr, bool, num, obj, str, strings, type JsonObject } from '../app/json';
import type { PageContext, Teardown } from '../app/router';

const RISK_LABEL: Record<string, string> = {
  'copies-missing': 'copies missing',
  'verification-stale': 'not verified recently',
  'copy-retention-short': 'a copy retained too briefly',
  'retention-below-policy': 'retention below policy',
  'copy-unlocked': 'a copy is not locked',
};

function table(headers: string[], rows: HTMLTableRowElement[], testid: string): HTMLTableElement {
  return h('table', { class: 'data', 'data-testid': testid }, h('thead', {}, h('tr', {}, ...headers.map((t) => h('th', { scope: 'col' }, t)))), h('tbody', {}, ...rows));
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
    td(bool(s.legalHold) ? 'yes' : 'no'),
    td(risks.map((r) => RISK_LABEL[r] ?? r).join('; ') || 'none'),
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
  const study = h('input', { id: 'study-filter', placeholder: 'Study Instance UID', pattern: '[0-9.]+' });
  const csv = h('a', { class: 'button', href: '/api/audit/retention.csv', download: true, 'data-testid': 'retention-csv' }, 'Export CSV');
  const clinics = h('div', {});
  const studies = h('div', {});
  const more = h('button', { type: 'button', hidden: true, 'data-testid': 'more' }, 'More studies');
  const form = h('form', { class: 'filters' }, h('label', { for: 'study-filter' }, 'Study'), study, h('label', { for: 'at-risk' }, atRisk, ' At risk only'), h('button', { type: 'submit' }, 'Apply'), csv);
  replace(ctx.root, h('section', { class: 'page wide' }, h('h1', {}, 'Retention'), form, status.el, h('h2', {}, 'Clinics'), clinics, h('h2', {}, 'Studies'), studies, more));

  let rows: HTMLTableRowElement[] = [];
  // The filter of the rows shown: "More" continues it even if the form was edited without applying.
  let params: Record<string, string> = {};
  let generation = 0;
  const load = (append: boolean): void => {
    const mine = ++generation;
    if (!append) params = { study: study.value.trim(), atRisk: atRisk.checked ? 'true' : '' };
    csv.href = `/api/audit/retention.csv${query(params)}`;
    more.disabled = true;
    status.set('Loading…');
    getJson(`/api/audit/retention${query({ ...params, limit: String(RETENTION_PAGE), offset: append ? String(rows.length) : '' })}`, controller.signal)
      .then((body) => {
        if (mine !== generation) return;
        const b = obj(body);
        replace(
          clinics,
          table(
            ['Clinic', 'Studies', 'At risk', 'Fewest copies', 'Oldest verification', 'Earliest retain-until', 'Legal holds'],
            arr(b.clinics)
              .map(obj)
              .map((c) => h('tr', {}, td(`${str(c.clinicCode) ?? ''} ${str(c.clinicName) ?? ''}`), td(num(c.studies)), td(num(c.studiesAtRisk)), td(num(c.minCopiesPresent) === null ? null : `${num(c.minCopiesPresent)}/3`), td(date(c.oldestVerificationAt)), td(date(c.earliestRetainUntil)), td(num(c.legalHolds)))),
            'retention-clinics',
          ),
        );
        const page = arr(b.studies).map(obj).map(retentionRow);
        rows = append ? [...rows, ...page] : page;
        replace(studies, table(['Study', 'Clinic', 'Copies', 'Last verified', 'Retain until', 'Lock', 'Legal hold', 'Risks'], rows, 'retention-studies'));
        const total = num(b.total) ?? rows.length;
        more.hidden = page.length === 0 || rows.length >= total;
        more.disabled = false;
        status.set(`${total} studies, ${num(b.atRisk) ?? 0} at risk${rows.length < total ? ` (showing ${rows.length})` : ''}`);
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
  const verify = h('p', { class: 'verify', 'data-testid': 'chain-verification', role: 'status' }, 'Verifying the audit chain…');
  const study = h('input', { id: 'ev-study', placeholder: 'Study Instance UID' });
  const user = h('input', { id: 'ev-user', placeholder: 'User name' });
  const from = h('input', { id: 'ev-from', type: 'datetime-local' });
  const to = h('input', { id: 'ev-to', type: 'datetime-local' });
  const csv = h('a', { class: 'button', href: '/api/audit/events.csv', download: true, 'data-testid': 'events-csv' }, 'Export CSV');
  const results = h('div', {});
  const more = h('button', { type: 'button', hidden: true, 'data-testid': 'more' }, 'More events');
  const form = h(
    'form',
    { class: 'filters' },
    h('label', { for: 'ev-study' }, 'Study'),
    study,
    h('label', { for: 'ev-user' }, 'User'),
    user,
    h('label', { for: 'ev-from' }, 'From'),
    from,
    h('label', { for: 'ev-to' }, 'To'),
    to,
    h('button', { type: 'submit' }, 'Search'),
    csv,
  );
  const initialStudy = ctx.query.get('study');
  if (initialStudy) study.value = initialStudy;
  replace(ctx.root, h('section', { class: 'page wide' }, h('h1', {}, 'Access history'), verify, form, status.el, results, more));

  getJson('/api/audit/verify', controller.signal)
    .then((body) => {
      const b = obj(body);
      if (bool(b.ok) === true) {
        verify.textContent = `Audit chain verified: ${num(b.count) ?? 0} records intact, head #${num(b.headSeq) ?? 0} (${date(b.verifiedAt)}).`;
        verify.dataset.ok = 'true';
      } else {
        verify.textContent = `Audit chain BROKEN at record #${num(b.firstBadSeq) ?? '?'}: ${str(b.problem) ?? ''} — ${str(b.detail) ?? ''}`;
        verify.dataset.ok = 'false';
      }
    })
    .catch((error: unknown) => {
      verify.textContent = `Verification failed: ${errorText(error)}`;
    });

  let cursor: number | null = null;
  let rows: HTMLTableRowElement[] = [];
  const params = (): Record<string, string> => ({ study: study.value.trim(), user: user.value.trim(), from: isoFromLocal(from.value), to: isoFromLocal(to.value) });
  const load = (append: boolean): void => {
    const p = params();
    csv.href = `/api/audit/events.csv${query(p)}`;
    status.set('Loading…');
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
              td(num(e.outcome) === 0 ? 'success' : `failure ${num(e.outcome) ?? ''}`),
              td(`${str(e.actorUsername) ?? ''}${str(e.actorRole) ? ` (${str(e.actorRole)})` : ''}`, { 'data-testid': 'actor' }),
              td(str(e.studyInstanceUid), { class: 'uid' }),
              td(str(obj(e.details).what) ?? str(obj(e.details).action) ?? ''),
            ),
          );
        rows = append ? [...rows, ...page] : page;
        cursor = num(b.nextCursor);
        more.hidden = cursor === null;
        replace(results, table(['#', 'When', 'Event', 'Action', 'Outcome', 'Who', 'Study', 'What'], rows, 'audit-events'));
        status.set(`${rows.length} events${cursor !== null ? ' (more available)' : ''}`);
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
