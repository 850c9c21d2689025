import * as cornerstone from 'cornerstone-core';
import * as cornerstoneTools from 'cornerstone-tools';
import cornerstoneMath from 'cornerstone-math';
import Hammer from 'hammerjs';
import { t } from '../app/i18n';
import { loadImage, SCHEME } from './image-loader';

export type ToolName = 'Wwwc' | 'Zoom' | 'Pan' | 'Length' | 'RectangleRoi';

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

let initialised = false;
const scrollToIndex = cornerstoneTools.importInternal('util/scrollToIndex');

/** cornerstone-tools and the image loader are process-wide; set them up once. */
function initialiseOnce(): void {
  if (initialised) return;
  cornerstoneTools.external.cornerstone = cornerstone;
  cornerstoneTools.external.cornerstoneMath = cornerstoneMath;
  cornerstoneTools.external.Hammer = Hammer;
  cornerstoneTools.init({ showSVGCursors: false, globalToolSyncEnabled: false });
  cornerstone.registerImageLoader(SCHEME, loadImage);
  initialised = true;
}

const TOOLS = [
  cornerstoneTools.WwwcTool,
  cornerstoneTools.ZoomTool,
  cornerstoneTools.PanTool,
  cornerstoneTools.LengthTool,
  cornerstoneTools.RectangleRoiTool,
  cornerstoneTools.StackScrollMouseWheelTool,
  cornerstoneTools.StackScrollMultiTouchTool,
  cornerstoneTools.ZoomTouchPinchTool,
  cornerstoneTools.PanMultiTouchTool,
];

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

function isStackState(value: unknown): value is { currentImageIdIndex: number } {
  return typeof value === 'object' && value !== null && typeof (value as { currentImageIdIndex?: unknown }).currentImageIdIndex === 'number';
}

/**
 * One cornerstone element showing a stack of frames, with the reading tools. Owns everything it creates
 * (the enabled element, tool state, the cine timer, cached images, listeners) and releases it in
 * destroy().
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

  constructor(
    private readonly element: HTMLElement,
    private readonly imageIds: string[],
    private readonly hooks: { onRendered: (index: number) => void; onMeasurement: (m: Measurement) => void; onBox?: (box: DrawnBox) => void; onError: (error: unknown) => void },
    defaultFps: number,
    private readonly name = 'current',
  ) {
    initialiseOnce();
    this.fps = defaultFps;
    cornerstone.enable(element);
    for (const tool of TOOLS) cornerstoneTools.addToolForElement(element, tool);
    cornerstoneTools.setToolActiveForElement(element, 'StackScrollMouseWheel', {});
    cornerstoneTools.setToolActiveForElement(element, 'StackScrollMultiTouch', { isTouchActive: true });
    cornerstoneTools.setToolActiveForElement(element, 'ZoomTouchPinch', { isTouchActive: true });
    cornerstoneTools.setToolActiveForElement(element, 'Pan', { mouseButtonMask: 4 });
    cornerstoneTools.setToolActiveForElement(element, 'Zoom', { mouseButtonMask: 2 });
    this.setTool('Wwwc');
    const signal = this.listeners.signal;
    element.addEventListener(cornerstone.EVENTS.IMAGE_RENDERED, (event) => this.rendered(event), { signal });
    // Every scroll the tools make (wheel, touch, scrollToIndex) is a choice of frame; cine ticks are not.
    element.addEventListener(cornerstoneTools.EVENTS.STACK_SCROLL, (event) => this.scrolled(event), { signal });
    element.addEventListener(cornerstoneTools.EVENTS.MEASUREMENT_COMPLETED, (event) => this.measured(event), { signal });
    element.addEventListener(cornerstoneTools.EVENTS.MEASUREMENT_MODIFIED, (event) => this.measured(event), { signal });
    // A box is scored, and a caliper listed, when the reader lets go (drawn or adjusted), not on every mouse move.
    element.addEventListener('mouseup', () => this.released(), { signal });
    element.addEventListener('touchend', () => this.released(), { signal });
    element.addEventListener('contextmenu', (event) => event.preventDefault(), { signal });
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
    cornerstoneTools.addStackStateManager(this.element, ['stack', 'playClip']);
    cornerstoneTools.addToolState(this.element, 'stack', { currentImageIdIndex: first, imageIds: this.imageIds });
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
    for (const other of ['Wwwc', 'Zoom', 'Pan', 'Length', 'RectangleRoi'] as const) {
      if (other !== name) cornerstoneTools.setToolPassiveForElement(this.element, other);
    }
    cornerstoneTools.setToolActiveForElement(this.element, name, { mouseButtonMask: 1, isTouchActive: true });
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
    cornerstoneTools.playClip(this.element, fps);
    this.playing = true;
  }

  pause(): void {
    cornerstoneTools.stopClip(this.element);
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
    if (!this.playing && this.target !== undefined && index !== this.target) {
      // A stale frame (the cine's last load) landed after the reader's choice: show the choice again.
      this.show(this.target);
      return;
    }
    this.hooks.onRendered(this.index);
    window.dispatchEvent(new CustomEvent<RenderedDetail>(RENDERED_EVENT, { detail: { imageId, index: this.index, viewport: this.name } }));
  }

  private scrolled(event: Event): void {
    const { newImageIdIndex } = (event as CustomEvent<{ newImageIdIndex: number }>).detail;
    if (!this.playing) this.target = newImageIdIndex;
  }

  /**
   * scrollToIndex returns without drawing when the stack state already names the index; a stale cine
   * load can leave the state and the screen apart, so the state is first set to what is on screen.
   */
  private show(index: number): void {
    const state = cornerstoneTools.getToolState(this.element, 'stack')?.data[0];
    if (isStackState(state) && index !== this.index) state.currentImageIdIndex = this.index;
    scrollToIndex(this.element, index);
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

  private measured(event: Event): void {
    const detail = (event as CustomEvent<{ toolName?: string; toolType?: string; measurementData?: LengthData }>).detail;
    if ((detail.toolName ?? detail.toolType) === 'RectangleRoi') {
      const h = detail.measurementData?.handles;
      const [x0, y0, x1, y1] = [h?.start?.x, h?.start?.y, h?.end?.x, h?.end?.y].map((v) => (typeof v === 'number' ? v : Number.NaN));
      if ([x0, y0, x1, y1].every((v) => Number.isFinite(v))) {
        const [ax, ay, bx, by] = [x0 ?? 0, y0 ?? 0, x1 ?? 0, y1 ?? 0];
        this.pendingBox = { x: Math.min(ax, bx), y: Math.min(ay, by), width: Math.abs(bx - ax), height: Math.abs(by - ay), index: this.index };
        if (event.type === cornerstoneTools.EVENTS.MEASUREMENT_COMPLETED) this.boxReleased();
      }
      return;
    }
    if ((detail.toolName ?? detail.toolType) !== 'Length') return;
    const ends = detail.measurementData?.handles;
    const points = [ends?.start?.x, ends?.start?.y, ends?.end?.x, ends?.end?.y];
    if (!points.every((v): v is number => typeof v === 'number' && Number.isFinite(v))) return;
    this.pendingLength = { points: points as [number, number, number, number], index: this.index };
    if (event.type === cornerstoneTools.EVENTS.MEASUREMENT_COMPLETED) this.lengthReleased();
  }

  /** Everything this viewport created, released: timer, tool state, listeners, element, cached images. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    try {
      cornerstoneTools.stopClip(this.element);
    } catch {
      // No clip was ever started on this element.
    }
    this.resizeObserver.disconnect();
    this.listeners.abort();
    for (const imageId of this.imageIds) cornerstoneTools.globalImageIdSpecificToolStateManager.clearImageIdToolState(imageId);
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
