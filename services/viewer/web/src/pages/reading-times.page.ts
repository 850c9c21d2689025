import { errorText, getJson } from '../app/api';
import { h, replace, statusLine } from '../app/dom';
import { arr, num, obj, str, type JsonObject } from '../app/json';
import type { PageContext, Teardown } from '../app/router';
import { t } from '../app/i18n';

/** Minutes and seconds: reading is meant to take about three minutes, so seconds matter. */
function duration(seconds: number | null): string {
  if (seconds === null) return '—';
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  return m > 0 ? t(`${m} min ${String(s).padStart(2, '0')} s`, `${m} 分 ${String(s).padStart(2, '0')} 秒`) : t(`${s} s`, `${s} 秒`);
}

function table(first: string, rows: HTMLTableRowElement[], testid: string): HTMLTableElement {
  const headers = [first, t('Signed reports', '已签署报告'), t('Median', '中位数'), t('90th percentile', '第 90 百分位数')];
  return h('table', { class: 'data', 'data-testid': testid }, h('thead', {}, h('tr', {}, ...headers.map((label) => h('th', { scope: 'col' }, label)))), h('tbody', {}, ...rows));
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
  const form = h(
    'form',
    { class: 'filters' },
    h('label', { for: 'rt-from' }, t('From', '开始日期')),
    from,
    h('label', { for: 'rt-to' }, t('To', '结束日期')),
    to,
    h('button', { type: 'submit' }, t('Apply', '筛选')),
  );
  replace(
    ctx.root,
    h(
      'section',
      { class: 'page wide' },
      h('h1', {}, t('Reading time', '阅片用时')),
      h('p', {}, t('From opening a study for reading (claim) to signing its report; days in China Standard Time.', '从打开检查开始阅片（领取）到签署报告的用时；日期按北京时间计。')),
      form,
      status.el,
      h('h2', {}, t('By radiologist', '按放射科医师')),
      readers,
      h('h2', {}, t('By day', '按日')),
      days,
    ),
  );
  const load = (): void => {
    const q = new URLSearchParams(Object.entries({ from: from.value, to: to.value }).filter(([, v]) => v !== ''));
    status.set(t('Loading…', '正在加载…'));
    getJson(`/api/reading-times${q.size > 0 ? `?${q.toString()}` : ''}`, controller.signal)
      .then((body) => {
        const b = obj(body);
        const byReader = arr(b.byReader).map(obj);
        const byDay = arr(b.byDay).map(obj);
        replace(readers, table(t('Radiologist', '放射科医师'), byReader.map((r) => row(str(r.displayName) || (str(r.username) ?? ''), r, 'reader-row')), 'reading-times-readers'));
        replace(days, table(t('Day', '日期'), byDay.map((d) => row(str(d.day) ?? '', d, 'day-row')), 'reading-times-days'));
        const signed = byReader.reduce((n, r) => n + (num(r.count) ?? 0), 0);
        status.set(byReader.length === 0 ? t('No signed reports in this period', '此期间没有已签署的报告') : t(`${signed} signed reports`, `共 ${signed} 份已签署报告`));
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
