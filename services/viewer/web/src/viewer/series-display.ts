import { errorText } from '../app/api';
import { h, replace } from '../app/dom';
import { t } from '../app/i18n';
import type { AiImage } from './ai-result';
import type { FrameNavigation } from './frame-navigation';
import { unregisterFrame } from './image-loader';
import { seriesFrames, type SeriesInfo } from './series-frames';
import { StackViewport, type DrawnBox, type Measurement } from './stack-viewport';
import type { ViewerSession } from './viewer-session';

/** What the viewport reports back as the reader works on the image. */
export interface ViewportEvents {
  onRendered: (index: number) => void;
  onMeasurement: (m: Measurement) => void;
  onBox: (box: DrawnBox) => void;
}

export interface SeriesDisplay {
  /** The side panel's list of series, one button each. */
  readonly seriesList: HTMLUListElement;
  /** Below the image: the pixel spacing of the series on screen, or that lengths are in pixels. */
  readonly calibration: HTMLElement;
  /** Fills the series list; the study's series also go into the session. */
  listSeries: (series: SeriesInfo[]) => void;
  /** Puts `series` in the viewport at `initialIndex` (scrolls when it is already there). */
  showSeries: (series: SeriesInfo, initialIndex?: number) => Promise<void>;
  /** Shows the frame of an AI finding, switching series when it is in another one. */
  jumpTo: (image: AiImage) => void;
  /** Releases the viewport and the cached frames of the series on screen. */
  close: () => void;
}

/** The series of the study and the one on screen: loading its frames into a fresh viewport. */
export function seriesDisplay(session: ViewerSession, element: HTMLElement, navigation: FrameNavigation, events: ViewportEvents): SeriesDisplay {
  const { studyUid, signal, status } = session;
  const seriesList = h('ul', { class: 'series-list', 'aria-label': t('Series', '序列') });
  const calibration = h('span', { class: 'muted' }, '');

  async function showSeries(series: SeriesInfo, initialIndex = 0): Promise<void> {
    if (session.currentSeries === series.uid) {
      session.viewport?.scrollTo(initialIndex);
      return;
    }
    session.viewport?.destroy();
    session.viewport = null;
    for (const f of session.frames) unregisterFrame(f.imageId);
    session.currentSeries = series.uid;
    for (const li of seriesList.querySelectorAll('button')) li.setAttribute('aria-pressed', String(li.dataset.series === series.uid));
    status.set(t('Loading images…', '正在加载图像…'));
    const loaded = await seriesFrames(studyUid, series.uid, signal);
    if (signal.aborted) return;
    session.frames = loaded.frames;
    navigation.useSeriesRate(loaded.fps);
    const spacing = loaded.spacing;
    calibration.textContent = spacing
      ? t(
          ` · ${spacing.columnMm.toFixed(3)} × ${spacing.rowMm.toFixed(3)} mm/pixel (${spacing.source === 'UltrasoundRegion' ? 'ultrasound region' : 'pixel spacing'})`,
          ` · ${spacing.columnMm.toFixed(3)} × ${spacing.rowMm.toFixed(3)} mm/像素（${spacing.source === 'UltrasoundRegion' ? '超声区域校准' : '像素间距'}）`,
        )
      : t(' · not calibrated: lengths in pixels', ' · 未校准：长度以像素计');
    const viewport = new StackViewport(element, session.frames.map((f) => f.imageId), { ...events, onError: () => undefined }, navigation.speed());
    session.viewport = viewport;
    await viewport.start(initialIndex);
    navigation.enablePlay(session.frames.length);
    navigation.selectTool('Wwwc');
    status.set('');
  }

  function jumpTo(image: AiImage): void {
    const { series: infos, currentSeries } = session;
    const seriesUid = image.seriesInstanceUid ?? currentSeries;
    const series = infos.find((s) => s.uid === seriesUid) ?? infos.find((s) => s.uid === currentSeries);
    if (!series) return;
    const indexIn = (): number => session.frames.findIndex((f) => f.sopInstanceUid === image.sopInstanceUid && f.frameNumber === image.frameNumber);
    if (session.viewport?.isPlaying) navigation.togglePlay();
    if (series.uid === currentSeries) {
      const index = indexIn();
      if (index >= 0) session.viewport?.scrollTo(index);
      return;
    }
    showSeries(series)
      .then(() => {
        const index = indexIn();
        if (index >= 0) session.viewport?.scrollTo(index);
      })
      .catch((error: unknown) => status.set(errorText(error), 'error'));
  }

  function listSeries(series: SeriesInfo[]): void {
    session.series = series;
    replace(
      seriesList,
      ...series.map((s) => {
        const b = h('button', { type: 'button', class: 'link', 'data-series': s.uid }, t(`${s.modality} ${s.description || 'Series'} (${s.instances})`, `${s.modality} ${s.description || '序列'} (${s.instances})`));
        b.addEventListener('click', () => void showSeries(s).catch((error: unknown) => status.set(errorText(error), 'error')));
        return h('li', {}, b);
      }),
    );
  }

  function close(): void {
    session.viewport?.destroy();
    session.viewport = null;
    for (const f of session.frames) unregisterFrame(f.imageId);
    session.frames = [];
  }

  return { seriesList, calibration, listSeries, showSeries, jumpTo, close };
}
