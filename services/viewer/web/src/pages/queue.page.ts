import { errorText, getJson, sendJson } from '../app/api';
import { formatDicomDate, formatPersonName, formatWaiting, h, replace, statusLine } from '../app/dom';
import { arr, bool, num, obj, str, strings } from '../app/json';
import type { PageContext, Teardown } from '../app/router';
import { t, tCount } from '../app/i18n';

type Priority = 'urgent' | 'priority' | 'routine';

interface QueueItem {
  studyInstanceUid: string;
  patientName: string;
  studyDate: string;
  studyDescription: string;
  modalities: string[];
  numberOfInstances: number;
  priority: Priority;
  status: string;
  waitingSeconds: number;
  claim: { mine: boolean; username: string | null } | null;
  ai: { score: number | null; category: string | null; modelVersion: string | null } | null;
  thumbnailUrl: string | null;
}

function toPriority(value: unknown): Priority {
  return value === 'urgent' || value === 'priority' ? value : 'routine';
}

export function parseQueueItem(value: unknown): QueueItem | null {
  const o = obj(value);
  const uid = str(o.studyInstanceUid);
  if (!uid) return null;
  const claim = o.claim === null ? null : obj(o.claim);
  const ai = o.ai === null ? null : obj(o.ai);
  const thumb = str(o.thumbnailUrl);
  return {
    studyInstanceUid: uid,
    patientName: formatPersonName(str(o.patientName)),
    studyDate: formatDicomDate(str(o.studyDate)),
    studyDescription: str(o.studyDescription) ?? '',
    modalities: strings(o.modalities),
    numberOfInstances: num(o.numberOfInstances) ?? 0,
    priority: toPriority(o.priority),
    status: str(o.status) ?? '',
    waitingSeconds: num(o.waitingSeconds) ?? 0,
    claim: claim ? { mine: bool(claim.mine) === true, username: str(claim.username) } : null,
    ai: ai ? { score: num(ai.score), category: str(ai.category), modelVersion: str(ai.modelVersion) } : null,
    // Only our own relative URLs become image sources.
    thumbnailUrl: thumb?.startsWith('/dicomweb/') ? thumb : null,
  };
}

/** The priority as the reader's language names it; the class and test id keep the code. */
export function priorityLabel(priority: Priority): string {
  return { urgent: t('urgent', '紧急'), priority: t('priority', '优先'), routine: t('routine', '常规') }[priority];
}

/** The model's triage level (urgent, flagged, routine) in the reader's language; an unknown code as it came. */
export function triageLevelLabel(level: string): string {
  const labels: Record<string, string> = { urgent: t('urgent', '紧急'), flagged: t('flagged', '需关注'), routine: t('routine', '常规') };
  return labels[level] ?? level;
}

export function priorityBadge(priority: Priority): HTMLElement {
  return h('span', { class: `badge badge-${priority}`, 'data-testid': 'priority', 'data-priority': priority }, priorityLabel(priority));
}

const REFRESH_MS = 30_000;
const PAGE_SIZE = 50;

interface QueueChunk {
  items: QueueItem[];
  nextCursor: string | null;
}

async function queuePageAt(cursor: string | null, signal: AbortSignal): Promise<QueueChunk> {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE), ...(cursor !== null ? { cursor } : {}) });
  const body = obj(await getJson(`/api/queue?${query.toString()}`, signal));
  return {
    items: arr(body.items)
      .map(parseQueueItem)
      .filter((i): i is QueueItem => i !== null),
    nextCursor: str(body.nextCursor),
  };
}

/**
 * The radiologist's reading queue: triage order from the server (keyset pages of PAGE_SIZE, "More"
 * asks for the next), claim on open. The periodic refresh reloads as many pages as the reader has
 * opened, so a refresh never takes back what "More" showed.
 */
export function queuePage(ctx: PageContext): Teardown {
  const list = h('ol', { class: 'queue', 'aria-label': t('Studies to read', '待阅检查'), 'data-testid': 'queue' });
  const status = statusLine();
  const more = h('button', { type: 'button', hidden: true, 'data-testid': 'more' }, t('More studies', '更多检查'));
  replace(ctx.root, h('section', { class: 'page' }, h('h1', {}, t('Reading queue', '阅片队列')), status.el, list, more));
  const controller = new AbortController();

  const open = (item: QueueItem): void => {
    status.set(t('Claiming the study…', '正在领取检查…'));
    sendJson('POST', `/api/queue/${encodeURIComponent(item.studyInstanceUid)}/claim`)
      .then(() => ctx.navigate(`/read/${encodeURIComponent(item.studyInstanceUid)}`))
      .catch((error: unknown) => status.set(errorText(error), 'error'));
  };

  const card = (item: QueueItem): HTMLElement => {
    const takenByOther = item.claim !== null && !item.claim.mine;
    const button = h('button', { type: 'button', 'data-testid': 'open-study', disabled: takenByOther }, item.claim?.mine ? t('Continue', '继续阅片') : t('Read', '阅片'));
    button.addEventListener('click', () => open(item));
    const score = item.ai?.score;
    return h(
      'li',
      { class: `queue-item priority-${item.priority}`, 'data-study-uid': item.studyInstanceUid, 'data-testid': 'queue-item' },
      item.thumbnailUrl ? h('img', { class: 'thumb', src: item.thumbnailUrl, alt: t('Thumbnail', '缩略图'), loading: 'lazy', width: 80, height: 80 }) : h('div', { class: 'thumb empty' }),
      h(
        'div',
        { class: 'meta' },
        h('div', { class: 'line' }, priorityBadge(item.priority), h('strong', {}, item.patientName || t('Unnamed', '未记录姓名')), h('span', { class: 'muted' }, item.studyDate)),
        h('div', { class: 'line muted' }, [item.modalities.join('/'), item.studyDescription, tCount(item.numberOfInstances, ['image', 'images'], '幅图像')].filter(Boolean).join(' · ')),
        h(
          'div',
          { class: 'line muted' },
          t(`waiting ${formatWaiting(item.waitingSeconds)}`, `已等待 ${formatWaiting(item.waitingSeconds)}`),
          score !== null && score !== undefined ? ` · AI ${(score * 100).toFixed(0)}%${item.ai?.category ? ` ${triageLevelLabel(item.ai.category)}` : ''}` : '',
          item.claim ? ` · ${item.claim.mine ? t('claimed by you', '您正在阅片') : t(`being read by ${item.claim.username ?? 'someone'}`, `${item.claim.username ?? '他人'} 正在阅片`)}` : '',
        ),
      ),
      button,
    );
  };

  let pages = 1;
  let nextCursor: string | null = null;
  let busy = false;

  const show = (items: QueueItem[]): void => {
    // Pages fetched at different moments may overlap when the order changed in between.
    const unique = [...new Map(items.map((i) => [i.studyInstanceUid, i])).values()];
    replace(list, ...unique.map(card));
    more.hidden = nextCursor === null;
    status.set(unique.length === 0 ? t('Nothing to read.', '暂无待阅检查。') : `${tCount(unique.length, ['study', 'studies'], '项检查')}${nextCursor !== null ? t(' (more available)', '（还有更多）') : ''}`);
  };

  let shown: QueueItem[] = [];
  const run = (work: () => Promise<void>): void => {
    if (busy) return;
    busy = true;
    more.disabled = true;
    work()
      .catch((error: unknown) => {
        if (!controller.signal.aborted) status.set(errorText(error), 'error');
      })
      .finally(() => {
        busy = false;
        more.disabled = false;
      });
  };

  const refresh = (): void =>
    run(async () => {
      const items: QueueItem[] = [];
      let cursor: string | null = null;
      for (let i = 0; i < pages; i++) {
        const chunk = await queuePageAt(cursor, controller.signal);
        items.push(...chunk.items);
        cursor = chunk.nextCursor;
        if (cursor === null) break;
      }
      nextCursor = cursor;
      shown = items;
      show(shown);
    });

  more.addEventListener('click', () =>
    run(async () => {
      if (nextCursor === null) return;
      const chunk = await queuePageAt(nextCursor, controller.signal);
      pages += 1;
      nextCursor = chunk.nextCursor;
      shown = [...shown, ...chunk.items];
      show(shown);
    }),
  );
  refresh();
  const timer = window.setInterval(refresh, REFRESH_MS);
  return () => {
    window.clearInterval(timer);
    controller.abort();
  };
}
