/**
 * The 9x9 grey opening (min then max over square windows, clipped at the frame's border) behind the
 * descriptors' top-hat ("foci"), shared by the regions measured on one frame. A candidate's two regions
 * (the ellipse of its box and of its larger score box) and the candidates of one score region lie inside
 * the same score box, so one opening over that box serves them all instead of one per region (#13 runtime).
 * The opening of a window equals the whole frame's wherever the window reaches 2 x 4 pixels past the
 * point (or meets the frame's border there), so a shared opening is used only where that holds.
 */
import { windowExtreme } from './descriptor.kernels';
import type { Corners } from './frame.geometry';

/** Reach of the 9x9 opening: a top-hat value depends on gray levels up to 2 x 4 pixels away. */
export const OPENING_RADIUS = 4;
const REACH = 2 * OPENING_RADIUS;

/** Pixel rectangle, x1/y1 exclusive. */
export interface Window {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface Opening {
  /** Where it was computed (frame pixels). */
  window: Window;
  /** The gray levels and their opening there, row-major over the window. */
  gray: Uint8Array;
  opened: Uint8Array;
}

/** The opening of `frame` (w x h) computed on a window of it. */
export function openWindow(frame: Uint8Array, w: number, window: Window): Opening {
  const ww = window.x1 - window.x0;
  const wh = window.y1 - window.y0;
  const gray = new Uint8Array(ww * wh);
  for (let y = window.y0; y < window.y1; y++) gray.set(frame.subarray(y * w + window.x0, y * w + window.x1), (y - window.y0) * ww);
  const opened = windowExtreme(windowExtreme(gray, ww, wh, OPENING_RADIUS, false), ww, wh, OPENING_RADIUS, true);
  return { window, gray, opened };
}

/** The window whose opening is exact on the pixels of `box` (inclusive frame pixels): the box grown by the reach. */
export function openingWindow(box: Window, w: number, h: number): Window {
  return { x0: Math.max(0, box.x0 - REACH), y0: Math.max(0, box.y0 - REACH), x1: Math.min(w, box.x1 + REACH), y1: Math.min(h, box.y1 + REACH) };
}

/** Whether the opening of `window` is the frame's on every pixel of `box` (frame pixels, x1/y1 exclusive). */
export function exactOn(window: Window, box: Window, w: number, h: number): boolean {
  return (
    box.x0 >= (window.x0 === 0 ? 0 : window.x0 + REACH) &&
    box.y0 >= (window.y0 === 0 ? 0 : window.y0 + REACH) &&
    box.x1 <= (window.x1 === w ? w : window.x1 - REACH) &&
    box.y1 <= (window.y1 === h ? h : window.y1 - REACH)
  );
}

/** Openings of one frame, each over a box that several regions lie in. */
export class SharedOpenings {
  private readonly openings: Opening[] = [];

  constructor(
    private readonly frame: Uint8Array,
    readonly width: number,
    readonly height: number,
  ) {}

  /** Opens the frame over every pixel an ellipse inscribed in `box` can cover, unless an opening already does. */
  share(box: Corners): void {
    const pixels = { x0: Math.max(0, Math.floor(box.x0)), y0: Math.max(0, Math.floor(box.y0)), x1: Math.min(this.width, Math.ceil(box.x1)), y1: Math.min(this.height, Math.ceil(box.y1)) };
    if (pixels.x1 <= pixels.x0 || pixels.y1 <= pixels.y0 || this.covering(pixels)) return;
    this.openings.push(openWindow(this.frame, this.width, openingWindow(pixels, this.width, this.height)));
  }

  /** An opening exact on every pixel of `box` (frame pixels, x1/y1 exclusive), if one was shared. */
  covering(box: Window): Opening | undefined {
    return this.openings.find((o) => exactOn(o.window, box, this.width, this.height));
  }
}
