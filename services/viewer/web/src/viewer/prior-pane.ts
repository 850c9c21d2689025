import { h } from '../app/dom';
import { t } from '../app/i18n';
import { unregisterFrame } from './image-loader';
import { syncedIndex, type PriorStudy } from './priors';
import { imageSeries, seriesFrames, type FrameRef } from './series-frames';
import { StackViewport } from './stack-viewport';

/**
 * The prior study opened beside the current one: its own cornerstone element and frames, stepped with
 * the current study's frame (one way: the reader reads the current study; the prior follows). Owns what
 * it creates and releases it on close() and destroy().
 */
export class PriorPane {
  readonly el: HTMLElement;
  private readonly element: HTMLElement;
  private readonly label: HTMLElement;
  private viewport: StackViewport | null = null;
  private frames: FrameRef[] = [];
  private opened: string | null = null;
  private wanted = { index: 0, count: 1 };
  private title = '';

  constructor(private readonly signal: AbortSignal) {
    this.element = h('div', { class: 'viewport', 'data-testid': 'prior-viewport', tabindex: -1, 'aria-label': t('Prior study image', '既往检查图像') });
    this.label = h('div', { class: 'pane-label', 'data-testid': 'prior-label' }, '');
    this.el = h('div', { class: 'prior-area', 'data-testid': 'prior-area' }, this.element, this.label);
  }

  get studyUid(): string | null {
    return this.opened;
  }

  /** Shows `prior`'s first image series of `modality` (else its first image series). */
  async open(prior: PriorStudy, modality: string | null): Promise<void> {
    if (this.opened === prior.studyInstanceUid) return;
    this.close();
    this.opened = prior.studyInstanceUid;
    this.title = [t('Prior', '既往检查'), prior.studyDate ?? t('date unknown', '日期未知'), [...prior.modalities, ...prior.bodyParts].join(' '), prior.clinic].filter((p) => p !== '').join(' · ');
    this.label.textContent = `${this.title} · ${t('loading…', '正在加载…')}`;
    const series = await imageSeries(prior.studyInstanceUid, this.signal);
    const chosen = series.find((s) => s.modality === modality) ?? series[0];
    if (this.signal.aborted || this.opened !== prior.studyInstanceUid) return;
    if (!chosen) {
      this.label.textContent = `${this.title} · ${t('no images', '无图像')}`;
      return;
    }
    const loaded = await seriesFrames(prior.studyInstanceUid, chosen.uid, this.signal);
    if (this.signal.aborted || this.opened !== prior.studyInstanceUid) return;
    this.frames = loaded.frames;
    const count = this.frames.length;
    this.viewport = new StackViewport(
      this.element,
      this.frames.map((f) => f.imageId),
      { onRendered: (index) => (this.label.textContent = `${this.title} · ${t(`Frame ${index + 1} / ${count}`, `帧 ${index + 1} / ${count}`)}`), onMeasurement: () => undefined, onError: () => undefined },
      15,
      'prior',
    );
    await this.viewport.start(syncedIndex(this.wanted.index, this.wanted.count, count));
  }

  /** The current study shows frame `index` of `count`: bring the prior to the same place in its clip. */
  follow(index: number, count: number): void {
    this.wanted = { index, count };
    const viewport = this.viewport;
    if (!viewport) return;
    const target = syncedIndex(index, count, viewport.count);
    if (target !== viewport.currentIndex) viewport.scrollTo(target);
  }

  close(): void {
    this.viewport?.destroy();
    this.viewport = null;
    for (const f of this.frames) unregisterFrame(f.imageId);
    this.frames = [];
    this.opened = null;
    this.label.textContent = '';
  }

  destroy(): void {
    this.close();
  }
}
