import { errorText } from '../app/api';
import { h, statusLine } from '../app/dom';
import { t } from '../app/i18n';
import type { PageContext, Teardown } from '../app/router';
import { aiPanelWiring } from './ai-panel-wiring';
import { frameNavigation } from './frame-navigation';
import { keyImageMarking } from './key-image-marking';
import { measurementList } from './measurement-list';
import { patientBanner } from './patient-banner';
import { priorComparison } from './prior-comparison';
import { reportForm } from './report-form';
import { seriesDisplay } from './series-display';
import { bindShortcuts } from './shortcuts';
import { loadStudy } from './study-loading';
import { renderViewerLayout } from './viewer-layout';
import { newViewerSession } from './viewer-session';

export { loadViewportTools } from './stack-viewport';

/**
 * The reading workflow for one study: the image with its tools, the AI panel and the report. It owns
 * every resource it creates and releases them when the reader leaves: cornerstone element and cached
 * frames, tool state, the cine timer, key bindings, pending requests, and the claim when unsigned.
 */
export function viewerPage(ctx: PageContext): Teardown {
  const controller = new AbortController();
  const session = newViewerSession(ctx.params.studyUid ?? '', controller.signal, statusLine());
  const { studyUid, signal, status } = session;

  const element = h('div', { class: 'viewport', 'data-testid': 'viewport', tabindex: 0, 'aria-label': t('Image. Use the arrow keys to scroll through frames.', '图像。使用方向键逐帧浏览。') });
  const frameLabel = h('span', { 'data-testid': 'frame-index' }, '');
  const navigation = frameNavigation(session);
  const keyImages = keyImageMarking(session, frameLabel);
  const priors = priorComparison(session, h('div', { class: 'image-area', 'data-testid': 'image-area' }, element));
  const report = reportForm(studyUid, () => session.ai, (justSigned) => {
    session.signed = true;
    // Signing released the claim on the server; a signed study is not claimed again (addenda need none).
    session.claim?.stop();
    session.claim = null;
    if (justSigned) status.set(t('Report signed.', '报告已签署。'));
  });
  const measurements = measurementList(session, report.useLongAxis);
  const ai = aiPanelWiring(session, element, (image) => display.jumpTo(image));
  const display = seriesDisplay(session, element, navigation, {
    onRendered: (index) => {
      frameLabel.textContent = t(`Frame ${index + 1} / ${session.frames.length}`, `帧 ${index + 1} / ${session.frames.length}`);
      keyImages.showKeyState();
      priors.follow(index, session.frames.length);
      ai.drawOn(index);
    },
    onMeasurement: measurements.add,
    onBox: ai.scoreBox,
  });
  const banner = patientBanner();

  renderViewerLayout(ctx.root, {
    banner: banner.el,
    status: status.el,
    toolbar: [...navigation.controls, ai.outlineButton, keyImages.toggleButton, priors.toggleButton],
    imageRow: priors.imageRow,
    frameLabel,
    calibration: display.calibration,
    measurements: measurements.el,
    seriesList: display.seriesList,
    panels: [keyImages.panel, ai.panel, priors.panel, report.el],
  });

  bindShortcuts(signal, {
    scroll: (d) => session.viewport?.scrollBy(d),
    togglePlay: navigation.togglePlay,
    tool: navigation.selectTool,
    reset: () => session.viewport?.reset(),
    jump: () => {
      const best = session.ai?.images[0];
      if (best) display.jumpTo(best);
    },
    toggleOutline: ai.toggleOutline,
    togglePrior: priors.togglePrior,
    toggleKeyImage: keyImages.toggleKeyImage,
  });

  loadStudy(session, { ai, report, keyImages, banner, display, priors }).catch((error: unknown) => {
    if (!signal.aborted) status.set(errorText(error), 'error');
  });

  return () => {
    controller.abort();
    session.claim?.stop();
    session.claim = null;
    priors.destroy();
    display.close();
    if (!session.signed) {
      // keepalive: the request outlives the page when the reader closes the tab.
      void fetch(`/api/queue/${encodeURIComponent(studyUid)}/release`, { method: 'POST', credentials: 'same-origin', keepalive: true, headers: { 'content-type': 'application/json' }, body: '{}' }).catch(() => undefined);
    }
  };
}
