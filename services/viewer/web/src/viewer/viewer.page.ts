import { errorText, getJson, sendJson } from '../app/api';
import { h, replace, statusLine } from '../app/dom';
import { obj } from '../app/json';
import type { PageContext, Teardown } from '../app/router';
import { currentResult, parseAiResults, parseNodule, type AiImage, type AiResult } from './ai-result';
import { aiPanel, drawFinding } from './ai-panel';
import { keepClaim, type ClaimRenewal } from './claim-renewal';
import { unregisterFrame } from './image-loader';
import { displayId, displayName, parseBanner, patientBanner } from './patient-banner';
import { reportForm } from './report-form';
import { bindShortcuts, SHORTCUT_HELP } from './shortcuts';
import { PriorPane } from './prior-pane';
import { parseFollowUp, parsePriors, type Priors, type PriorStudy } from './priors';
import { priorsPanel } from './priors-panel';
import { keyImagesPanel } from './key-images-panel';
import { imageSeries, seriesFrames, type FrameRef, type SeriesInfo } from './series-frames';
import { StackViewport, type DrawnBox, type Measurement, type ToolName } from './stack-viewport';

const SPEEDS = [5, 10, 15, 25, 30];

/**
 * The reading workflow for one study: the image with its tools, the AI panel and the report. It owns
 * every resource it creates and releases them when the reader leaves: cornerstone element and cached
 * frames, tool state, the cine timer, key bindings, pending requests, and the claim when unsigned.
 */
export function viewerPage(ctx: PageContext): Teardown {
  const studyUid = ctx.params.studyUid ?? '';
  const controller = new AbortController();
  const { signal } = controller;
  let viewport: StackViewport | null = null;
  let frames: FrameRef[] = [];
  let ai: AiResult | null = null;
  let signed = false;
  let showOutline = true;
  let currentSeries: string | null = null;
  let claim: ClaimRenewal | null = null;

  const status = statusLine();
  const element = h('div', { class: 'viewport', 'data-testid': 'viewport', tabindex: 0, 'aria-label': 'Image. Use the arrow keys to scroll through frames.' });
  const frameLabel = h('span', { 'data-testid': 'frame-index' }, '');
  const calibration = h('span', { class: 'muted' }, '');
  const measurements = h('ul', { class: 'measurements', 'aria-label': 'Measurements', 'data-testid': 'measurements' });
  const seriesList = h('ul', { class: 'series-list', 'aria-label': 'Series' });

  const toolButtons = new Map<ToolName, HTMLButtonElement>();
  const toolButton = (tool: ToolName, label: string, key: string): HTMLButtonElement => {
    const b = h('button', { type: 'button', 'data-tool': tool, 'aria-pressed': tool === 'Wwwc' ? 'true' : 'false', title: `${label} (${key})` }, label);
    b.addEventListener('click', () => selectTool(tool));
    toolButtons.set(tool, b);
    return b;
  };
  const play = h('button', { type: 'button', 'data-testid': 'cine-toggle', title: 'Play / pause (Space)', disabled: true }, 'Play');
  const speed = h('select', { 'aria-label': 'Cine speed', 'data-testid': 'cine-speed' }, ...SPEEDS.map((s) => h('option', { value: s }, `${s} fps`)));
  speed.value = '15';
  const prev = h('button', { type: 'button', title: 'Previous frame (↑ / ←)', 'aria-label': 'Previous frame' }, '‹');
  const next = h('button', { type: 'button', title: 'Next frame (↓ / →)', 'aria-label': 'Next frame' }, '›');
  const reset = h('button', { type: 'button', title: 'Reset (R)' }, 'Reset');
  const outline = h('button', { type: 'button', 'aria-pressed': 'true', title: 'Show the AI outline (O)' }, 'Outline');
  const keyToggle = h('button', { type: 'button', 'data-testid': 'key-image-toggle', 'aria-pressed': 'false', title: 'Mark this frame as a key image (K)' }, '★ Key');
  const keyImages = keyImagesPanel(
    studyUid,
    (m) => {
      const index = frames.findIndex((f) => f.sopInstanceUid === m.sopInstanceUid && f.frameNumber === m.frameNumber);
      return index >= 0 ? `Frame ${index + 1} / ${frames.length}` : 'A frame of another series';
    },
    () => showKeyState(),
  );
  // Beside the image on a wide screen; on a phone the prior takes the image's place while pressed.
  const priorToggle = h('button', { type: 'button', 'data-testid': 'prior-toggle', 'aria-pressed': 'false', title: 'Show the prior study (C)', hidden: true }, 'Prior');
  const prior = new PriorPane(signal);
  const priors$ = priorsPanel((study) => openPrior(study, true));
  const narrow = window.matchMedia('(max-width: 700px)');
  const imageRow = h('div', { class: 'image-row', 'data-prior': 'closed' }, h('div', { class: 'image-area', 'data-testid': 'image-area' }, element), prior.el);
  const toolbar = h(
    'div',
    { class: 'toolbar', role: 'toolbar', 'aria-label': 'Image tools' },
    toolButton('Wwwc', 'W/L', 'W'),
    toolButton('Zoom', 'Zoom', 'Z'),
    toolButton('Pan', 'Pan', 'P'),
    toolButton('Length', 'Measure', 'M'),
    toolButton('RectangleRoi', 'AI on box', 'B'),
    reset,
    prev,
    play,
    next,
    speed,
    outline,
    keyToggle,
    priorToggle,
  );
  const ai$ = aiPanel((image) => jumpTo(image));
  const report = reportForm(studyUid, () => ai, (justSigned) => {
    signed = true;
    // Signing released the claim on the server; a signed study is not claimed again (addenda need none).
    claim?.stop();
    claim = null;
    if (justSigned) status.set('Report signed.');
  });
  const back = h('a', { href: '/queue', 'data-link': true, class: 'back' }, '← Queue');
  const banner = patientBanner();

  replace(
    ctx.root,
    h(
      'section',
      { class: 'viewer-page' },
      banner.el,
      h('div', { class: 'viewer-bar' }, back, status.el),
      h(
        'div',
        { class: 'viewer-layout' },
        h('div', { class: 'image-column' }, toolbar, imageRow, h('div', { class: 'image-info' }, frameLabel, calibration), measurements, h('p', { class: 'muted small shortcuts' }, SHORTCUT_HELP)),
        h('aside', { class: 'side-column' }, h('section', { class: 'panel' }, h('h2', {}, 'Series'), seriesList), keyImages.el, ai$.el, priors$.el, report.el),
      ),
    ),
  );

  function selectTool(tool: ToolName): void {
    viewport?.setTool(tool);
    for (const [name, button] of toolButtons) button.setAttribute('aria-pressed', String(name === tool));
  }

  function togglePlay(): void {
    if (!viewport) return;
    if (viewport.isPlaying) viewport.pause();
    else viewport.play(Number(speed.value));
    play.textContent = viewport.isPlaying ? 'Pause' : 'Play';
    play.setAttribute('aria-pressed', String(viewport.isPlaying));
  }

  function findingOn(index: number): AiImage | null {
    const frame = frames[index];
    if (!ai || !frame || !showOutline) return null;
    return ai.images.find((i) => i.sopInstanceUid === frame.sopInstanceUid && i.frameNumber === frame.frameNumber) ?? null;
  }

  /** Whether the frame on screen is a key image: the toolbar button and the frame label say so. */
  function showKeyState(): void {
    const frame = viewport ? frames[viewport.currentIndex] : undefined;
    const marked = frame !== undefined && keyImages.isMarked(frame);
    keyToggle.setAttribute('aria-pressed', String(marked));
    if (viewport) frameLabel.textContent = `Frame ${viewport.currentIndex + 1} / ${frames.length}${marked ? ' · ★ key image' : ''}`;
  }

  function toggleKeyImage(): void {
    const frame = viewport ? frames[viewport.currentIndex] : undefined;
    if (frame) keyImages.toggle(frame);
  }

  function onRendered(index: number): void {
    frameLabel.textContent = `Frame ${index + 1} / ${frames.length}`;
    showKeyState();
    prior.follow(index, frames.length);
    const finding = findingOn(index);
    if (finding) drawFinding(element, finding);
  }

  /** Reader-guided scoring: the model on the box the reader drew; the answer joins the AI panel. */
  function onBox(box: DrawnBox): void {
    const frame = frames[box.index];
    if (!frame) return;
    ai$.showReader(null, 'Scoring the box…');
    sendJson('POST', `/api/studies/${encodeURIComponent(studyUid)}/ai/nodules`, {
      sopInstanceUid: frame.sopInstanceUid,
      frameNumber: frame.frameNumber,
      box: { x: box.x, y: box.y, width: box.width, height: box.height },
    }).then(
      (body) => ai$.showReader(parseNodule(obj(body).finding), null),
      (error: unknown) => ai$.showReader(null, errorText(error)),
    );
  }

  function onMeasurement(m: Measurement): void {
    const text = m.lengthMm === null ? `${m.lengthPx.toFixed(1)} px (no calibration)` : `${m.lengthMm.toFixed(1)} mm`;
    const item = h('li', { 'data-testid': 'measurement' }, `Length ${text} · frame ${m.index + 1}`);
    const frame = frames[m.index];
    // A calibrated caliper can be a nodule's long axis; the signed SR then says on which image and frame.
    if (m.lengthMm !== null && m.points !== null && frame) {
      const lengthMm = m.lengthMm;
      const line = { sopInstanceUid: frame.sopInstanceUid, frameNumber: frame.frameNumber, points: m.points };
      const use = h('button', { type: 'button', class: 'link', 'data-testid': 'measurement-to-nodule' }, 'Use as nodule long axis');
      use.addEventListener('click', () => {
        if (!report.useLongAxis(lengthMm, line)) status.set('The report is signed: add an addendum instead.', 'error');
      });
      item.append(' · ', use);
    }
    measurements.append(item);
  }

  async function showSeries(series: SeriesInfo, initialIndex = 0): Promise<void> {
    if (currentSeries === series.uid) {
      viewport?.scrollTo(initialIndex);
      return;
    }
    viewport?.destroy();
    viewport = null;
    for (const f of frames) unregisterFrame(f.imageId);
    currentSeries = series.uid;
    for (const li of seriesList.querySelectorAll('button')) li.setAttribute('aria-pressed', String(li.dataset.series === series.uid));
    status.set('Loading images…');
    const loaded = await seriesFrames(studyUid, series.uid, signal);
    if (signal.aborted) return;
    frames = loaded.frames;
    if (loaded.fps && SPEEDS.includes(loaded.fps)) speed.value = String(loaded.fps);
    calibration.textContent = loaded.spacing
      ? ` · ${loaded.spacing.columnMm.toFixed(3)} × ${loaded.spacing.rowMm.toFixed(3)} mm/pixel (${loaded.spacing.source === 'UltrasoundRegion' ? 'ultrasound region' : 'pixel spacing'})`
      : ' · not calibrated: lengths in pixels';
    viewport = new StackViewport(element, frames.map((f) => f.imageId), { onRendered, onMeasurement, onBox, onError: () => undefined }, Number(speed.value));
    await viewport.start(initialIndex);
    play.disabled = frames.length < 2;
    selectTool('Wwwc');
    status.set('');
  }

  function jumpTo(image: AiImage): void {
    const seriesUid = image.seriesInstanceUid ?? currentSeries;
    const series = seriesInfos.find((s) => s.uid === seriesUid) ?? seriesInfos.find((s) => s.uid === currentSeries);
    if (!series) return;
    const indexIn = (): number => frames.findIndex((f) => f.sopInstanceUid === image.sopInstanceUid && f.frameNumber === image.frameNumber);
    if (viewport?.isPlaying) togglePlay();
    if (series.uid === currentSeries) {
      const index = indexIn();
      if (index >= 0) viewport?.scrollTo(index);
      return;
    }
    showSeries(series)
      .then(() => {
        const index = indexIn();
        if (index >= 0) viewport?.scrollTo(index);
      })
      .catch((error: unknown) => status.set(errorText(error), 'error'));
  }

  let seriesInfos: SeriesInfo[] = [];

  function showPrior(show: boolean): void {
    priorToggle.setAttribute('aria-pressed', String(show));
    imageRow.setAttribute('data-prior', show ? 'open' : 'closed');
  }

  /** Opens `study` beside the current one (on a phone: in its place, until the reader switches back). */
  function openPrior(study: PriorStudy, show: boolean): void {
    priorToggle.hidden = false;
    priors$.markOpen(study.studyInstanceUid);
    showPrior(show);
    const modality = seriesInfos.find((s) => s.uid === currentSeries)?.modality ?? null;
    prior.open(study, modality).catch((error: unknown) => status.set(`Prior: ${errorText(error)}`, 'error'));
  }

  function togglePrior(): void {
    if (priorToggle.hidden) return;
    showPrior(priorToggle.getAttribute('aria-pressed') !== 'true');
  }
  priorToggle.addEventListener('click', togglePrior);

  async function loadPriors(): Promise<void> {
    let found: Priors;
    try {
      found = parsePriors(await getJson(`/api/studies/${encodeURIComponent(studyUid)}/priors`, signal));
    } catch (error) {
      if (!signal.aborted) priors$.showPriors(null, errorText(error));
      return;
    }
    priors$.showPriors(found);
    const relevant = found.studies.find((s) => s.studyInstanceUid === found.relevantPrior);
    // A phone loads the prior's frames only when the reader asks for it: mobile data, and one image at a time.
    if (relevant && narrow.matches) {
      priorToggle.hidden = false;
      priorToggle.addEventListener('click', () => void (prior.studyUid === null && openPrior(relevant, true)), { once: true });
    } else if (relevant) openPrior(relevant, true);
    if (found.studies.some((s) => s.earlier && s.thyroid)) {
      getJson(`/api/studies/${encodeURIComponent(studyUid)}/nodule-follow-up`, signal).then(
        (body) => priors$.showFollowUp(parseFollowUp(body)),
        (error: unknown) => {
          if (!signal.aborted) priors$.showFollowUp(null, errorText(error));
        },
      );
    }
  }

  play.addEventListener('click', togglePlay);
  speed.addEventListener('change', () => viewport?.setSpeed(Number(speed.value)));
  prev.addEventListener('click', () => viewport?.scrollBy(-1));
  next.addEventListener('click', () => viewport?.scrollBy(1));
  reset.addEventListener('click', () => viewport?.reset());
  const toggleOutline = (): void => {
    showOutline = !showOutline;
    outline.setAttribute('aria-pressed', String(showOutline));
    viewport?.scrollBy(0);
  };
  outline.addEventListener('click', toggleOutline);
  keyToggle.addEventListener('click', toggleKeyImage);

  bindShortcuts(signal, {
    scroll: (d) => viewport?.scrollBy(d),
    togglePlay,
    tool: selectTool,
    reset: () => viewport?.reset(),
    jump: () => {
      const best = ai?.images[0];
      if (best) jumpTo(best);
    },
    toggleOutline,
    togglePrior,
    toggleKeyImage,
  });

  const start = async (): Promise<void> => {
    const [series] = await Promise.all([
      imageSeries(studyUid, signal),
      getJson(`/api/studies/${encodeURIComponent(studyUid)}/ai`, signal)
        .then((body) => {
          ai = currentResult(parseAiResults(body));
          ai$.show(ai);
        })
        .catch(() => ai$.show(null)),
      report.load(signal),
      keyImages.load(signal).catch(() => undefined),
      getJson(`/api/studies/${encodeURIComponent(studyUid)}/banner`, signal)
        .then((body) => {
          const b = parseBanner(body);
          banner.show(b);
          report.setPatient(displayName(b), displayId(b));
        })
        .catch((error: unknown) => {
          if (!signal.aborted) banner.failed(errorText(error));
        }),
    ]);
    if (!signed && !signal.aborted) {
      claim = keepClaim(studyUid, signal, (message) => status.set(message, 'error'));
      // The AI's findings go into the form once the study is the reader's: a draft cannot be saved before.
      void claim.claimed.then((ok) => {
        if (ok && !signal.aborted) report.prefill(ai);
      });
    }
    seriesInfos = series;
    replace(
      seriesList,
      ...seriesInfos.map((s) => {
        const b = h('button', { type: 'button', class: 'link', 'data-series': s.uid }, `${s.modality} ${s.description || 'Series'} (${s.instances})`);
        b.addEventListener('click', () => void showSeries(s).catch((error: unknown) => status.set(errorText(error), 'error')));
        return h('li', {}, b);
      }),
    );
    const best = ai?.images[0];
    const first = seriesInfos.find((s) => s.uid === best?.seriesInstanceUid) ?? seriesInfos[0];
    if (!first) {
      status.set('This study has no images to show.', 'error');
      return;
    }
    await showSeries(first);
    await loadPriors();
  };
  start().catch((error: unknown) => {
    if (!signal.aborted) status.set(errorText(error), 'error');
  });

  return () => {
    controller.abort();
    claim?.stop();
    claim = null;
    viewport?.destroy();
    viewport = null;
    prior.destroy();
    for (const f of frames) unregisterFrame(f.imageId);
    frames = [];
    if (!signed) {
      // keepalive: the request outlives the page when the reader closes the tab.
      void fetch(`/api/queue/${encodeURIComponent(studyUid)}/release`, { method: 'POST', credentials: 'same-origin', keepalive: true, headers: { 'content-type': 'application/json' }, body: '{}' }).catch(() => undefined);
    }
  };
}
