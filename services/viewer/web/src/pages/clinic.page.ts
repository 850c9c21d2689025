import { errorText, getJson } from '../app/api';
import { formatDateTime, formatDicomDate, formatPersonName, h, replace, statusLine } from '../app/dom';
import { arr, bool, num, obj, str, strings } from '../app/json';
import type { PageContext, Teardown } from '../app/router';
import { parseReportVersions, signedReportView } from '../viewer/report-form';

const STATUS_LABEL: Record<string, string> = { new: 'Received', triaged: 'Waiting for reading', in_reading: 'Being read', reported: 'Reported' };

/** The clinic's studies, newest first, with reading status and the signed report versions. */
export function clinicStudiesPage(ctx: PageContext): Teardown {
  const controller = new AbortController();
  const status = statusLine();
  const list = h('ul', { class: 'studies', 'data-testid': 'clinic-studies' });
  replace(ctx.root, h('section', { class: 'page' }, h('h1', {}, 'Studies'), h('p', {}, h('a', { href: '/upload', 'data-link': true }, 'Upload studies')), status.el, list));

  getJson('/api/clinic/studies?limit=100', controller.signal)
    .then((body) => {
      const items = arr(obj(body).items).map(obj);
      status.set(items.length === 0 ? 'No studies yet.' : `${items.length} studies`);
      replace(
        list,
        ...items.map((item) => {
          const uid = str(item.studyInstanceUid) ?? '';
          const state = str(item.status) ?? '';
          const reportBox = h('div', { class: 'report-box' });
          if (bool(item.signedReport) === true) {
            reportBox.textContent = 'Loading report…';
            getJson(`/api/studies/${encodeURIComponent(uid)}/report`, controller.signal)
              .then((r) => replace(reportBox, ...parseReportVersions(r).filter((v) => v.status === 'signed').map(signedReportView)))
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
              h('span', { class: `badge status-${state}`, 'data-testid': 'study-status' }, STATUS_LABEL[state] ?? state),
              h('strong', {}, formatPersonName(str(item.patientName)) || 'Unnamed'),
              h('span', { class: 'muted' }, formatDicomDate(str(item.studyDate))),
            ),
            h('div', { class: 'line muted' }, [strings(item.modalities).join('/'), str(item.studyDescription), `${num(item.numberOfInstances) ?? 0} images`, `received ${formatDateTime(str(item.receivedAt))}`].filter(Boolean).join(' · ')),
            reportBox,
          );
        }),
      );
    })
    .catch((error: unknown) => {
      if (!controller.signal.aborted) status.set(errorText(error), 'error');
    });
  return () => controller.abort();
}
