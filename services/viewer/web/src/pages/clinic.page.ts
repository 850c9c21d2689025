import { errorText, getJson } from '../app/api';
import { formatDateTime, formatDicomDate, formatPersonName, h, replace, statusLine } from '../app/dom';
import { arr, bool, num, obj, str, strings, type JsonObject } from '../app/json';
import type { PageContext, Teardown } from '../app/router';
import { parseReportVersions, signedVersionsView } from '../viewer/report-form';
import { sharePanel } from './share-panel';
import { t, tCount } from '../app/i18n';

/** A study's reading status in the clinic's language (the badge's class keeps the code). */
function statusLabel(state: string): string {
  const labels: Record<string, string> = { new: t('Received', '已接收'), triaged: t('Waiting for reading', '待阅片'), in_reading: t('Being read', '阅片中'), reported: t('Reported', '已出报告') };
  return labels[state] ?? state;
}
const PAGE_SIZE = 50;

/** The clinic's studies, newest first, with reading status and every signed report version (addenda too). */
export function clinicStudiesPage(ctx: PageContext): Teardown {
  const controller = new AbortController();
  const status = statusLine();
  const list = h('ul', { class: 'studies', 'data-testid': 'clinic-studies' });
  const more = h('button', { type: 'button', hidden: true, 'data-testid': 'more' }, t('More studies', '更多检查'));
  replace(ctx.root, h('section', { class: 'page' }, h('h1', {}, t('Studies', '检查')), h('p', {}, h('a', { href: '/upload', 'data-link': true }, t('Upload studies', '上传检查'))), status.el, list, more));

  const studyItem = (item: JsonObject): HTMLElement => {
    const uid = str(item.studyInstanceUid) ?? '';
    const state = str(item.status) ?? '';
    const reportBox = h('div', { class: 'report-box' });
    if (bool(item.signedReport) === true) {
      reportBox.textContent = t('Loading report…', '正在加载报告…');
      const base = `/api/studies/${encodeURIComponent(uid)}/report`;
      getJson(base, controller.signal)
        .then((r) => replace(reportBox, signedVersionsView(parseReportVersions(r), base)))
        .catch((error: unknown) => {
          reportBox.textContent = errorText(error);
        });
    }
    return h(
      'li',
      { class: 'study', 'data-study-uid': uid, 'data-testid': 'clinic-study' },
      h(
        'div',
        { class: 'line' },
        h('span', { class: `badge status-${state}`, 'data-testid': 'study-status' }, statusLabel(state)),
        h('strong', {}, formatPersonName(str(item.patientName)) || t('Unnamed', '未记录姓名')),
        h('span', { class: 'muted' }, formatDicomDate(str(item.studyDate))),
      ),
      h('div', { class: 'line muted' }, [strings(item.modalities).join('/'), str(item.studyDescription), tCount(num(item.numberOfInstances) ?? 0, ['image', 'images'], '幅图像'), t(`received ${formatDateTime(str(item.receivedAt))}`, `接收于 ${formatDateTime(str(item.receivedAt))}`)].filter(Boolean).join(' · ')),
      reportBox,
      // The signed report as a document for the client (print, or save as PDF).
      bool(item.signedReport) === true ? h('p', {}, h('a', { href: `/report/${encodeURIComponent(uid)}`, 'data-link': true, 'data-testid': 'print-report' }, '打印报告 Print report')) : '',
      // Only a reported study is worth sharing: the link shows the signed report with the images.
      bool(item.signedReport) === true ? sharePanel(uid) : '',
    );
  };

  let cursor: string | null = null;
  let shown = 0;
  const load = (): void => {
    more.disabled = true;
    const page = new URLSearchParams({ limit: String(PAGE_SIZE), ...(cursor !== null ? { cursor } : {}) });
    getJson(`/api/clinic/studies?${page.toString()}`, controller.signal)
      .then((body) => {
        const b = obj(body);
        const items = arr(b.items).map(obj);
        list.append(...items.map(studyItem));
        shown += items.length;
        cursor = str(b.nextCursor);
        more.hidden = cursor === null;
        more.disabled = false;
        status.set(shown === 0 ? t('No studies yet.', '暂无检查。') : `${tCount(shown, ['study', 'studies'], '项检查')}${cursor !== null ? t(' (more available)', '（还有更多）') : ''}`);
      })
      .catch((error: unknown) => {
        more.disabled = false;
        if (!controller.signal.aborted) status.set(errorText(error), 'error');
      });
  };
  more.addEventListener('click', load);
  load();
  return () => controller.abort();
}
