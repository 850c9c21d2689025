import { errorText, getJson } from '../app/api';
import { formatDateTime, h, replace, statusLine } from '../app/dom';
import { arr, num, obj, str, type JsonObject } from '../app/json';
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

/** The key images the reader marked, rendered by the archive (WADO-RS rendered, JPEG), two to a row. */
function keyImagesFigure(studyUid: string, images: JsonObject[]): HTMLElement | null {
  if (images.length === 0) return null;
  const study = encodeURIComponent(studyUid);
  return h(
    'section',
    { class: 'print-images', 'data-testid': 'print-images' },
    h('h2', {}, '关键影像 ', h('span', { class: 'muted' }, 'Key images')),
    h(
      'div',
      { class: 'print-image-grid' },
      ...images.map((image, i) => {
        const series = encodeURIComponent(str(image.seriesInstanceUid) ?? '');
        const instance = encodeURIComponent(str(image.sopInstanceUid) ?? '');
        const frame = num(image.frameNumber) ?? 1;
        return h(
          'figure',
          {},
          h('img', { src: `/dicomweb/studies/${study}/series/${series}/instances/${instance}/frames/${frame}/rendered`, alt: `关键影像 Key image ${i + 1}`, 'data-testid': 'print-key-image' }),
          h('figcaption', { class: 'muted small' }, `${i + 1} / ${images.length}${num(image.frameNumber) !== null ? ` · 帧 frame ${frame}` : ''}`),
        );
      }),
    ),
  );
}

/**
 * The signed report as a document to print or save as PDF (a health-check centre hands it to the client):
 * the clinic, a bilingual head with who and what (as the share page writes it), then every signed version as
 * the screen shows it (nodules, findings, impression, signer, the signature checked on display), the reader's key
 * images, and when it was printed. Only signed versions: a draft is never printed. Print styles drop the app's header and the button.
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
  // The reader's key images print with the report; a report without them prints without them.
  const keyImages = getJson(`/api/studies/${encodeURIComponent(studyUid)}/key-images`, signal).catch(() => null);
  Promise.all([getJson(`/api/studies/${encodeURIComponent(studyUid)}/banner`, signal), getJson(base, signal), keyImages])
    .then(([banner, report, marked]) => {
      const versions = parseReportVersions(report).filter((v) => v.status === 'signed');
      if (versions.length === 0) {
        status.set('此检查尚无已签署的报告，无可打印内容。This study has no signed report yet: nothing to print.', 'error');
        return;
      }
      replace(
        body,
        documentHead(parseBanner(banner)),
        keyImagesFigure(studyUid, arr(obj(marked).images).map(obj)),
        signedVersionsView(versions, base, true),
        h('footer', { class: 'print-foot muted small', 'data-testid': 'print-foot' }, `打印时间 Printed ${formatDateTime(new Date().toISOString())} · 云影 Yunying`),
      );
      document.title = `${displayName(parseBanner(banner))} · 超声检查报告 Ultrasound report`;
    })
    .catch((error: unknown) => {
      if (!signal.aborted) status.set(errorText(error), 'error');
    });
  return () => controller.abort();
}
