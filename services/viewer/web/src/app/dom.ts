import { dateLocale, t } from './i18n';

/** A tiny element builder: no framework, no innerHTML (nothing from the server is ever parsed as HTML). */

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, '').toLowerCase(), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

/** YYYYMMDD -> YYYY-MM-DD; anything else as is. */
export function formatDicomDate(value: string | null): string {
  if (!value) return '';
  return /^\d{8}$/.test(value) ? `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6, 8)}` : value;
}

/**
 * A PN value made readable: "Doe^Jane" -> "Doe, Jane". A name with component groups (PS3.5 6.2.1:
 * alphabetic=ideographic=phonetic, as Chinese scanners write "Wang^Fang=王^芳") reads as the banner says it:
 * the ideographic group first, written as Chinese names are (family then given, no separator), then the
 * alphabetic one: "王芳 · Wang, Fang".
 */
export function formatPersonName(value: string | null): string {
  if (!value) return '';
  const [alphabetic = '', ideographic = ''] = value.split('=');
  const chinese = ideographic.split('^').filter((p) => p !== '').join('');
  const [family, given] = alphabetic.split('^');
  const latin = given ? `${family ?? ''}, ${given}` : (family ?? '');
  return [chinese, latin].filter((p) => p !== '').join(' · ');
}

export function formatDateTime(iso: string | null): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(dateLocale());
}

export function formatWaiting(seconds: number): string {
  if (seconds < 3600) return `${Math.max(1, Math.round(seconds / 60))} ${t('min', '分钟')}`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} ${t('h', '小时')}`;
  return `${Math.round(seconds / 86_400)} ${t('d', '天')}`;
}

/** A status line for errors and progress, announced to screen readers. */
export function statusLine(): { el: HTMLElement; set: (text: string, kind?: 'info' | 'error') => void } {
  const el = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  return {
    el,
    set: (text, kind = 'info') => {
      el.textContent = text;
      el.dataset.kind = kind;
    },
  };
}
