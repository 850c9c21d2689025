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

/** PN in DICOM JSON form or plain text, made readable ("Doe^Jane" -> "Doe, Jane"). */
export function formatPersonName(value: string | null): string {
  if (!value) return '';
  const [family, given] = value.split('^');
  return given ? `${family ?? ''}, ${given}` : (family ?? '');
}

export function formatDateTime(iso: string | null): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function formatWaiting(seconds: number): string {
  if (seconds < 3600) return `${Math.max(1, Math.round(seconds / 60))} min`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
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
