import { errorText, getJson } from '../app/api';
import { h } from '../app/dom';
import { t } from '../app/i18n';
import { PriorPane } from './prior-pane';
import { parseFollowUp, parsePriors, type Priors, type PriorStudy } from './priors';
import { priorsPanel } from './priors-panel';
import type { ViewerSession } from './viewer-session';

export interface PriorComparison {
  /** The image row: the current image area and, beside it, the prior. */
  readonly imageRow: HTMLElement;
  /** The toolbar's Prior button, hidden until there is a prior to show. */
  readonly toggleButton: HTMLButtonElement;
  /** The side panel listing the priors and the nodule follow-up. */
  readonly panel: HTMLElement;
  togglePrior: () => void;
  /** Keeps the prior on the frame matching the current one. */
  follow: (index: number, frameCount: number) => void;
  /** Lists the priors and opens the relevant one (on a phone: once the reader asks). */
  load: () => Promise<void>;
  destroy: () => void;
}

/**
 * Priors side by side: beside the image on a wide screen; on a phone the prior takes the image's place
 * while the Prior button is pressed. `imageArea` is the current study's image.
 */
export function priorComparison(session: ViewerSession, imageArea: HTMLElement): PriorComparison {
  const { studyUid, signal, status } = session;
  const toggleButton = h('button', { type: 'button', 'data-testid': 'prior-toggle', 'aria-pressed': 'false', title: t('Show the prior study (C)', '显示既往检查（C）'), hidden: true }, t('Prior', '既往检查'));
  const prior = new PriorPane(signal);
  const panel = priorsPanel((study) => openPrior(study, true));
  const narrow = window.matchMedia('(max-width: 700px)');
  const imageRow = h('div', { class: 'image-row', 'data-prior': 'closed' }, imageArea, prior.el);

  function showPrior(show: boolean): void {
    toggleButton.setAttribute('aria-pressed', String(show));
    imageRow.setAttribute('data-prior', show ? 'open' : 'closed');
  }

  /** Opens `study` beside the current one (on a phone: in its place, until the reader switches back). */
  function openPrior(study: PriorStudy, show: boolean): void {
    toggleButton.hidden = false;
    panel.markOpen(study.studyInstanceUid);
    showPrior(show);
    const modality = session.series.find((s) => s.uid === session.currentSeries)?.modality ?? null;
    prior.open(study, modality).catch((error: unknown) => status.set(t(`Prior: ${errorText(error)}`, `既往检查：${errorText(error)}`), 'error'));
  }

  function togglePrior(): void {
    if (toggleButton.hidden) return;
    showPrior(toggleButton.getAttribute('aria-pressed') !== 'true');
  }
  toggleButton.addEventListener('click', togglePrior);

  async function load(): Promise<void> {
    let found: Priors;
    try {
      found = parsePriors(await getJson(`/api/studies/${encodeURIComponent(studyUid)}/priors`, signal));
    } catch (error) {
      if (!signal.aborted) panel.showPriors(null, errorText(error));
      return;
    }
    panel.showPriors(found);
    const relevant = found.studies.find((s) => s.studyInstanceUid === found.relevantPrior);
    // A phone loads the prior's frames only when the reader asks for it: mobile data, and one image at a time.
    if (relevant && narrow.matches) {
      toggleButton.hidden = false;
      toggleButton.addEventListener('click', () => void (prior.studyUid === null && openPrior(relevant, true)), { once: true });
    } else if (relevant) openPrior(relevant, true);
    if (found.studies.some((s) => s.earlier && s.thyroid)) {
      getJson(`/api/studies/${encodeURIComponent(studyUid)}/nodule-follow-up`, signal).then(
        (body) => panel.showFollowUp(parseFollowUp(body)),
        (error: unknown) => {
          if (!signal.aborted) panel.showFollowUp(null, errorText(error));
        },
      );
    }
  }

  return {
    imageRow,
    toggleButton,
    panel: panel.el,
    togglePrior,
    follow: (index, frameCount) => prior.follow(index, frameCount),
    load,
    destroy: () => prior.destroy(),
  };
}
