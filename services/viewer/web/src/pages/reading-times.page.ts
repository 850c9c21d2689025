import { errorText, getJson } from '../app/api';
import { h, replace, statusLine } from '../app/dom';
import { arr, num, obj, str, type JsonObject } from '../app/json';
import type { PageContext, Teardown } from '../app/router';

/** Minutes and seconds: reading is meant to take about three minutes, so seconds matter. */
function duration(seconds: number | null): string {
  if (seconds === null) return '—';
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  return m > 0 ? `${m} min ${String(s).padStart(2, '0')} s` : `${s} s`;
}

function table(first: string, rows: HTMLTableRowElement[], testid: string): HTMLTableElement {
  const headers = [first, 'Signed reports', 'Median', '90th percentile'];
  return h('table', { class: 'data', 'data-testid': testid }, h('thead', {}, h('tr', {}, ...headers.map((t) => h('th', { scope: 'col' }, t)))), h('tbody', {}, ...rows));
}

function row(label: string, s: JsonObject, testid: string): HTMLTableRowElement {
  return h(
    'tr',
    { 'data-testid': testid },
    h('td', {}, label),
    h('td', {}, String(num(s.count) ?? 0)),
    h('td', { 'data-testid': 'median' }, duration(num(s.medianSeconds))),
    h('td', { 'data-testid': 'p90' }, duration(num(s.p90Seconds))),
  );
}

/** Reading time (open -> sign) per radiologist and per day (#20), for admins: GET /api/reading-times. */
export function readingTimesPage(ctx: PageContext): Teardown {
  const controller = new AbortController();
  const status = statusLine();
  const from = h('input', { type: 'date', id: 'rt-from' });
  const to = h('input', { type: 'date', id: 'rt-to' });
  const readers = h('div', {});
  const days = h('div', {});
  const form = h('form', { class: 'filters' }, h('label', { for: 'rt-from' }, 'From'), from, h('label', { for: 'rt-to' }, 'To'), to, h('button', { type: 'submit' }, 'Apply'));
  replace(
    ctx.root,
    h('section', { class: 'page wide' }, h('h1', {}, 'Reading time'), h('p', {}, 'From opening a study for reading (claim) to signing its report; days in China Standard Time.'), form, status.el, h('h2', {}, 'By radiologist'), readers, h('h2', {}, 'By day'), days),
  );
  const load = (): void => {
    const q = new URLSearchParams(Object.entries({ from: from.value, to: to.value }).filter(([, v]) => v !== ''));
    status.set('Loading…');
    getJson(`/api/reading-times${q.size > 0 ? `?${q.toString()}` : ''}`, controller.signal)
      .then((body) => {
        const b = obj(body);
        const byReader = arr(b.byReader).map(obj);
        const byDay = arr(b.byDay).map(obj);
        replace(readers, table('Radiologist', byReader.map((r) => row(str(r.displayName) || (str(r.username) ?? ''), r, 'reader-row')), 'reading-times-readers'));
        replace(days, table('Day', byDay.map((d) => row(str(d.day) ?? '', d, 'day-row')), 'reading-times-days'));
        status.set(byReader.length === 0 ? 'No signed reports in this period' : `${byReader.reduce((n, r) => n + (num(r.count) ?? 0), 0)} signed reports`);
      })
      .catch((error: unknown) => {
        if (!controller.signal.aborted) status.set(errorText(error), 'error');
      });
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    load();
  });
  load();
  return () => controller.abort();
}
