import { errorText, getJson } from '../app/api';
import { t } from '../app/i18n';
import type { AiWiring } from './ai-panel-wiring';
import { keepClaim } from './claim-renewal';
import type { KeyImageMarking } from './key-image-marking';
import { displayId, displayName, parseBanner, type patientBanner } from './patient-banner';
import type { PriorComparison } from './prior-comparison';
import type { reportForm } from './report-form';
import { firstSeries } from './first-view';
import { imageSeries } from './series-frames';
import type { SeriesDisplay } from './series-display';
import type { ViewerSession } from './viewer-session';

/** The parts of the page that fill themselves from the server when the study opens. */
export interface StudyParts {
  ai: Pick<AiWiring, 'load'>;
  report: Pick<ReturnType<typeof reportForm>, 'load' | 'setPatient' | 'prefill'>;
  keyImages: Pick<KeyImageMarking, 'load'>;
  banner: Pick<ReturnType<typeof patientBanner>, 'show' | 'failed'>;
  display: Pick<SeriesDisplay, 'listSeries' | 'showSeries'>;
  priors: Pick<PriorComparison, 'load'>;
}

/**
 * Opens the study: series, AI result, report, key images and patient banner together; then claims it
 * when unsigned, shows the series of the AI's best finding (else the first), and last the priors.
 */
export async function loadStudy(session: ViewerSession, parts: StudyParts): Promise<void> {
  const { studyUid, signal, status } = session;
  const { report } = parts;
  const [series] = await Promise.all([
    imageSeries(studyUid, signal),
    parts.ai.load(),
    report.load(signal),
    parts.keyImages.load(signal).catch(() => undefined),
    getJson(`/api/studies/${encodeURIComponent(studyUid)}/banner`, signal)
      .then((body) => {
        const b = parseBanner(body);
        parts.banner.show(b);
        report.setPatient(displayName(b), displayId(b));
      })
      .catch((error: unknown) => {
        if (!signal.aborted) parts.banner.failed(errorText(error));
      }),
  ]);
  if (!session.signed && !signal.aborted) {
    const claim = keepClaim(studyUid, signal, (message) => status.set(message, 'error'));
    session.claim = claim;
    // The AI's findings go into the form once the study is the reader's: a draft cannot be saved before.
    void claim.claimed.then((ok) => {
      if (ok && !signal.aborted) report.prefill(session.ai);
    });
  }
  parts.display.listSeries(series);
  const first = firstSeries(series, session.ai);
  if (!first) {
    status.set(t('This study has no images to show.', '该检查没有可显示的图像。'), 'error');
    return;
  }
  await parts.display.showSeries(first);
  await parts.priors.load();
}
