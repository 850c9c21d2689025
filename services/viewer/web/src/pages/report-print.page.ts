import { errorText, getJson } from '../app/api';
import { formatDateTime, h, replace, statusLine } from '../app/dom';
import type { PageContext, Teardown } from '../app/router';
import { displayId, displayName, parseBanner, type Banner } from '../viewer/patient-banner';
import { parseReportVersions, signedVersionsView } from '../viewer/report-form';

const SEX: Record<string, string> = { F: '女 Female', M: '男 Male', O: '其他 Other' };

/** One labelled line of the document's head, Chinese first as on the share page (the client reads it). */
function headField(testId: string, zh: string, en: string, value: string): HTMLElement {
  return h('div', { class: 'print-field', 'data-testid': testId }, h('span', { class: 'print-label' }, `${zh} ${en}`), h('span', { class: 'print-value', lang: 'zh-CN' }, value));
}

function documentHead(b: Banner): HTMLElement {
  const birth = b.birthDate ? `${b.birthDate}${b.ageAtStudy ? ` (${b.ageAtStudy})` : ''}` : (b.ageAtStudy ?? '—');
  return h(
    'header',
    { class: 'print-head', 'data-testid': 'print-head' },
    h('p', { class: 'print-clinic', 'data-testid': 'print-clinic' }, b.clinic ?? ''),
    h('h1', {}, '超声检查报告 ', h('span', { class: 'muted' }, 'Ultrasound report')),
    h(
      'div',
      { class: 'print-fields' },
      headField('print-patient', '姓名', 'Name', displayName(b)),
      headField('print-id', '编号', 'Patient ID', displayId(b)),
      headField('print-sex', '性别', 'Sex', b.sex ? (SEX[b.sex] ?? b.sex) : '—'),
      headField('print-birth', '出生日期', 'Born', birth),
      headField('print-study', '检查时间', 'Study', [b.studyDate, b.studyTime].filter((p) => p).join(' ') || '—'),
      headField('print-accession', '检查号', 'Accession', b.accessionNumber ?? '—'),
      headField('print-description', '检查项目', 'Examination', b.description ?? (b.modalities.join('/') || '—')),
    ),
  );
}

/**
 * The signed report as a document to print or save as PDF (a health-check centre hands it to the client):
 * the clinic, a bilingual head with who and what (as the share page writes it), then every signed version as
 * the screen shows it (nodules, findings, impression, signer, the signature checked on display), and when it was
 * printed. Only signed versions: a draft is never printed. Print styles drop the app's header and the button.
 */
export function reportPrintPage(ctx: PageContext): Teardown {
  const controller = new AbortController();
  const { signal } = controller;
  const studyUid = ctx.params.studyUid ?? '';
  const status = statusLine();
  const body = h('div', {});
  const print = h('button', { type: 'button', class: 'primary no-print', 'data-testid': 'print' }, '打印 Print');
  print.addEventListener('click', () => window.print(), { signal });
  replace(ctx.root, h('section', { class: 'page report-print', 'data-testid': 'report-print' }, h('p', { class: 'no-print' }, print), status.el, body));

  const base = `/api/studies/${encodeURIComponent(studyUid)}/report`;
  Promise.all([getJson(`/api/studies/${encodeURIComponent(studyUid)}/banner`, signal), getJson(base, signal)])
    .then(([banner, report]) => {
      const versions = parseReportVersions(report).filter((v) => v.status === 'signed');
      if (versions.length === 0) {
        status.set('This study has no signed report yet: nothing to print.', 'error');
        return;
      }
      replace(
        body,
        documentHead(parseBanner(banner)),
        signedVersionsView(versions, base),
        h('footer', { class: 'print-foot muted small', 'data-testid': 'print-foot' }, `打印时间 Printed ${formatDateTime(new Date().toISOString())} · 云影 Yunying`),
      );
      document.title = `${displayName(parseBanner(banner))} · 超声检查报告 Ultrasound report`;
    })
    .catch((error: unknown) => {
      if (!signal.aborted) status.set(errorText(error), 'error');
    });
  return () => controller.abort();
}
