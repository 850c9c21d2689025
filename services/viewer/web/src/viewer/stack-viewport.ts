import * as cornerstone from 'cornerstone-core';
import { t } from '../app/i18n';
import { loadImage, SCHEME } from './image-loader';
import type { attachTools, ToolName, ViewportTools } from './viewport-tools';

export type { ToolName } from './viewport-tools';

/** The DOM event end-to-end tests wait on: one per cornerstone IMAGE_RENDERED. */
export const RENDERED_EVENT = 'yunying:rendered';
export interface RenderedDetail {
  imageId: string;
  index: number;
  /** Which viewport rendered: 'current' (the study being read) or 'prior' (the one opened beside it). */
  viewport: string;
}

export interface Measurement {
  lengthMm: number | null;
  lengthPx: number;
  index: number;
  /** The caliper's two ends in image pixels (column, row): where it was measured, for the report SR. */
  points: [number, number, number, number] | null;
}

let loaderRegistered = false;

interface ToolsChunk {
  attachTools: typeof attachTools;
}
let tools: Promise<ToolsChunk> | null = null;
/**
 * The reading tools' chunk (viewport-tools.ts), loaded once. A viewport asks for it after its first frame is
 * drawn; the app asks for it ahead, while a radiologist looks at the queue (main.ts prefetchViewer). A failed
 * load is asked again next time.
 */
export function loadViewportTools(): Promise<ToolsChunk> {
  tools ??= import('./viewport-tools').catch((error: unknown) => {
    tools = null;
    throw error;
  });
  return tools;
}

interface LengthData {
  length?: unknown;
  unit?: unknown;
  handles?: { start?: { x?: unknown; y?: unknown }; end?: { x?: unknown; y?: unknown } };
}

/** A box the reader drew (image pixels) on frame `index`, for reader-guided scoring. */
export interface DrawnBox {
  x: number;
  y: number;
  width: number;
  height: number;
  index: number;
}

/**
 * One cornerstone element showing a stack of frames, with the reading tools. Owns everything it creates
 * (the enabled element, tool state, the cine timer, cached images, listeners) and releases it in
 * destroy(). The first frame is drawn with cornerstone-core alone; the tools attach once it is on screen
 * (viewport-tools.ts), and what the page asks of them before that (a tool, play) is done then, in order; frames
 * chosen before then (keys, the wheel) are drawn at once without them. The element says `data-tools="ready"` from
 * then on.
 */
export class StackViewport {
  private index = 0;
  private playing = false;
  private fps: number;
  private readonly listeners = new AbortController();
  private readonly resizeObserver: ResizeObserver;
  private destroyed = false;
  /**
   * The frame the reader last chose while not playing (keys, wheel, touch, a jump). It stays chosen
   * until the next choice or play: a cine frame whose load began before the pause may land at any
   * time after it, before or after the chosen frame rendered, and must never replace the choice.
   */
  private target: number | undefined;
  private tools: ViewportTools | null = null;
  /** What was asked of the tools before they were attached, in order. */
  private waiting: ((tools: ViewportTools) => void)[] = [];
  private attaching = false;
  private started = false;

  constructor(
    private readonly element: HTMLElement,
    private readonly imageIds: string[],
    private readonly hooks: { onRendered: (index: number) => void; onMeasurement: (m: Measurement) => void; onBox?: (box: DrawnBox) => void; onError: (error: unknown) => void },
    defaultFps: number,
    private readonly name = 'current',
  ) {
    if (!loaderRegistered) {
      cornerstone.registerImageLoader(SCHEME, loadImage);
      loaderRegistered = true;
    }
    this.fps = defaultFps;
    // The element may have shown another series' viewport, whose tools were ready.
    delete element.dataset.tools;
    cornerstone.enable(element);
    this.setTool('Wwwc');
    const signal = this.listeners.signal;
    element.addEventListener(cornerstone.EVENTS.IMAGE_RENDERED, (event) => this.rendered(event), { signal });
    // A box is scored, and a caliper listed, when the reader lets go (drawn or adjusted), not on every mouse move.
    element.addEventListener('mouseup', () => this.released(), { signal });
    element.addEventListener('touchend', () => this.released(), { signal });
    element.addEventListener('contextmenu', (event) => event.preventDefault(), { signal });
    // Until the tools attach (their stack-scroll tool takes the wheel then), the wheel still steps through the
    // frames, as the tool would: one frame per event, stopping at the ends.
    element.addEventListener(
      'wheel',
      (event) => {
        if (this.tools !== null || event.deltaY === 0) return;
        event.preventDefault();
        const from = this.target ?? this.index;
        const to = Math.min(Math.max(0, from + Math.sign(event.deltaY)), this.imageIds.length - 1);
        if (to !== from) this.scrollTo(to);
      },
      { signal, passive: false },
    );
    this.resizeObserver = new ResizeObserver(() => {
      // A hidden pane (the prior, closed) has no size: fitting an image into 0 x 0 would leave it at scale 0.
      if (!this.destroyed && element.clientWidth > 0 && element.clientHeight > 0) cornerstone.resize(element, true);
    });
    this.resizeObserver.observe(element);
  }

  async start(initialIndex = 0): Promise<void> {
    const first = Math.min(Math.max(0, initialIndex), this.imageIds.length - 1);
    const imageId = this.imageIds[first];
    if (imageId === undefined) throw new Error(t('No images to show', '没有可显示的图像'));
    const image = await cornerstone.loadAndCacheImage(imageId);
    if (this.destroyed) return;
    this.index = first;
    cornerstone.displayImage(this.element, image);
    this.started = true;
    // cornerstone draws in the next animation frame; the tools' chunk is asked for after it.
    requestAnimationFrame(() => void this.attachTools());
  }

  private async attachTools(): Promise<void> {
    if (this.attaching || this.destroyed) return;
    this.attaching = true;
    try {
      const chunk = await loadViewportTools();
      if (this.destroyed) return;
      this.tools = chunk.attachTools(this.element, this.imageIds, this.index, this.listeners.signal, {
        scrolled: (newIndex) => {
          if (!this.playing) this.target = newIndex;
        },
        measured: (detail, completed) => this.measured(detail, completed),
      });
      for (const op of this.waiting.splice(0)) op(this.tools);
      this.element.dataset.tools = 'ready';
    } catch (error) {
      this.attaching = false;
      this.hooks.onError(error);
    }
  }

  private withTools(op: (tools: ViewportTools) => void): void {
    if (this.tools) {
      op(this.tools);
      return;
    }
    this.waiting.push(op);
    // The chunk failed to load before (a network error): the reader's next action asks for it again.
    if (!this.attaching && this.started) void this.attachTools();
  }

  get currentIndex(): number {
    return this.index;
  }

  get count(): number {
    return this.imageIds.length;
  }

  get isPlaying(): boolean {
    return this.playing;
  }

  get framesPerSecond(): number {
    return this.fps;
  }

  setTool(name: ToolName): void {
    this.withTools((tools) => tools.setTool(name));
  }

  scrollTo(index: number): void {
    if (this.imageIds.length === 0) return;
    const wrapped = ((index % this.imageIds.length) + this.imageIds.length) % this.imageIds.length;
    // The last frame asked for wins: a cine frame still loading when the clip was paused may render
    // after this request, and must not leave the reader on another frame than the one they chose.
    if (!this.playing) this.target = wrapped;
    this.show(wrapped);
  }

  scrollBy(delta: number): void {
    this.scrollTo(this.index + delta);
  }

  play(fps = this.fps): void {
    if (this.imageIds.length < 2) return;
    this.target = undefined;
    this.fps = fps;
    this.playing = true;
    this.withTools((tools) => tools.play(fps));
  }

  pause(): void {
    this.withTools((tools) => tools.stop());
    this.playing = false;
  }

  setSpeed(fps: number): void {
    this.fps = fps;
    if (this.playing) this.play(fps);
  }

  reset(): void {
    cornerstone.reset(this.element);
  }

  private rendered(event: Event): void {
    const detail = (event as CustomEvent<cornerstone.ImageRenderedDetail>).detail;
    const imageId = detail.image.imageId;
    const index = this.imageIds.indexOf(imageId);
    if (index >= 0) this.index = index;
    // A frame drawn without the tools may have rendered after they attached with the frame shown before it.
    if (index >= 0) this.tools?.shown(index);
    if (!this.playing && this.target !== undefined && index !== this.target) {
      // A stale frame (the cine's last load) landed after the reader's choice: show the choice again.
      this.show(this.target);
      return;
    }
    this.hooks.onRendered(this.index);
    window.dispatchEvent(new CustomEvent<RenderedDetail>(RENDERED_EVENT, { detail: { imageId, index: this.index, viewport: this.name } }));
  }

  private show(index: number): void {
    if (this.tools) {
      this.tools.scrollTo(index, this.index);
      return;
    }
    // Before the tools attach, a frame is drawn with cornerstone-core alone (keys, the wheel, a jump): the
    // reader does not wait for the tools' code to step through a clip.
    void this.showWithoutTools(index);
  }

  private async showWithoutTools(index: number): Promise<void> {
    const imageId = this.imageIds[index];
    if (imageId === undefined) return;
    try {
      const image = await cornerstone.loadAndCacheImage(imageId);
      // Destroyed, or another frame chosen while this one loaded: the later choice draws itself.
      if (this.destroyed || (this.target !== undefined && this.target !== index)) return;
      if (this.tools) this.tools.scrollTo(index, this.index);
      else cornerstone.displayImage(this.element, image);
    } catch (error) {
      if (!this.destroyed) this.hooks.onError(error);
    }
  }

  private pendingBox: DrawnBox | null = null;

  /** The caliper being drawn or adjusted: its ends (image pixels) and frame, listed once when let go. */
  private pendingLength: { points: [number, number, number, number]; index: number } | null = null;
  /** The caliper last listed: the tool's "completed" event can follow the release that listed it already. */
  private listedLength = '';

  private released(): void {
    this.boxReleased();
    this.lengthReleased();
  }

  private lengthReleased(): void {
    const pending = this.pendingLength;
    this.pendingLength = null;
    if (pending === null) return;
    const key = `${pending.index}:${pending.points.join(',')}`;
    if (key === this.listedLength) return;
    this.listedLength = key;
    const [x1, y1, x2, y2] = pending.points;
    const image = cornerstone.getEnabledElement(this.element).image;
    const column = image?.columnPixelSpacing;
    const row = image?.rowPixelSpacing;
    const lengthPx = Math.hypot(x2 - x1, y2 - y1);
    // From the ends, with the spacing cornerstone labels the line with: the list says what the image says.
    const lengthMm = column !== undefined && row !== undefined ? Math.hypot((x2 - x1) * column, (y2 - y1) * row) : null;
    if (lengthPx > 0) this.hooks.onMeasurement({ lengthMm, lengthPx, index: pending.index, points: pending.points });
  }

  private boxReleased(): void {
    const box = this.pendingBox;
    this.pendingBox = null;
    if (box && box.width >= 4 && box.height >= 4) this.hooks.onBox?.(box);
  }

  private measured(event: unknown, completed: boolean): void {
    const detail = (typeof event === 'object' && event !== null ? event : {}) as { toolName?: string; toolType?: string; measurementData?: LengthData };
    if ((detail.toolName ?? detail.toolType) === 'RectangleRoi') {
      const h = detail.measurementData?.handles;
      const [x0, y0, x1, y1] = [h?.start?.x, h?.start?.y, h?.end?.x, h?.end?.y].map((v) => (typeof v === 'number' ? v : Number.NaN));
      if ([x0, y0, x1, y1].every((v) => Number.isFinite(v))) {
        const [ax, ay, bx, by] = [x0 ?? 0, y0 ?? 0, x1 ?? 0, y1 ?? 0];
        this.pendingBox = { x: Math.min(ax, bx), y: Math.min(ay, by), width: Math.abs(bx - ax), height: Math.abs(by - ay), index: this.index };
        if (completed) this.boxReleased();
      }
      return;
    }
    if ((detail.toolName ?? detail.toolType) !== 'Length') return;
    const ends = detail.measurementData?.handles;
    const points = [ends?.start?.x, ends?.start?.y, ends?.end?.x, ends?.end?.y];
    if (!points.every((v): v is number => typeof v === 'number' && Number.isFinite(v))) return;
    this.pendingLength = { points: points as [number, number, number, number], index: this.index };
    if (completed) this.lengthReleased();
  }

  /** Everything this viewport created, released: timer, tool state, listeners, element, cached images. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.waiting = [];
    delete this.element.dataset.tools;
    this.tools?.stop();
    this.resizeObserver.disconnect();
    this.listeners.abort();
    this.tools?.clear(this.imageIds);
    try {
      cornerstone.disable(this.element);
    } catch (error) {
      this.hooks.onError(error);
    }
    for (const imageId of this.imageIds) {
      if (cornerstone.imageCache.getImageLoadObject(imageId)) cornerstone.imageCache.removeImageLoadObject(imageId);
    }
  }
}
