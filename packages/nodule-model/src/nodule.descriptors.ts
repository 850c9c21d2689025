/**
 * Measured nodule descriptors, the exact mirror of models/thyroid-nodule/train/descriptors.py: what a
 * sonographer judges, measured on the nodule's region of the full-resolution frame. Each is tied to one
 * ACR lexicon item, so the categories the model shows can be checked on the image:
 *
 * - echo:   log of the nodule's median gray over the surrounding tissue's median (echogenicity).
 * - dark:   share of the nodule darker than 0.35 x the surrounding median (cystic part: composition).
 * - het:    coefficient of variation inside the nodule (heterogeneity: composition).
 * - foci:   99.9th percentile of a 9x9 white top-hat inside the nodule (bright punctate spots).
 * - bright: 99.5th minus 50th percentile inside the nodule over the surrounding spread (echogenic foci).
 * - edge:   mean gradient on the boundary band over the mean gradient of the surroundings (margin).
 * - taller: log(height / width) of the nodule's extent (shape).
 *
 * Every operation is spelled out (square windows clipped at the borders, lower quantiles without
 * interpolation) so Python and TypeScript agree to rounding; the parity test checks it.
 */
import type { Corners, GrayImage } from './frame.geometry';

export const DESCRIPTOR_NAMES = ['echo', 'dark', 'het', 'foci', 'bright', 'edge', 'taller'] as const;
export type DescriptorName = (typeof DESCRIPTOR_NAMES)[number];
export type Descriptors = Record<DescriptorName, number>;

/** Gray levels below this are letterbox or background, not tissue. */
const CONTENT_MIN = 4;
const MIN_PIXELS = 20;

/** A binary region of an image: 1 = inside. */
export interface Region {
  width: number;
  height: number;
  mask: Uint8Array;
}

const rnd = (x: number): number => Math.floor(x + 0.5);

/** Max (or min) over a window of 2r+1 along rows then columns, windows clipped at the borders. */
function runExtreme(src: Float64Array, w: number, h: number, r: number, max: boolean): Float64Array {
  const sign = max ? 1 : -1;
  // Comparing sign * value keeps one loop for both (a function-valued Math.max/min is much slower).
  const tmp = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      let best = sign * (src[row + x] ?? 0);
      const hi = Math.min(w - 1, x + r);
      for (let d = Math.max(0, x - r); d <= hi; d++) {
        const v = sign * (src[row + d] ?? 0);
        if (v > best) best = v;
      }
      tmp[row + x] = best;
    }
  }
  const out = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    const lo = Math.max(0, y - r);
    const hi = Math.min(h - 1, y + r);
    for (let x = 0; x < w; x++) {
      let best = tmp[y * w + x] ?? 0;
      for (let d = lo; d <= hi; d++) {
        const v = tmp[d * w + x] ?? 0;
        if (v > best) best = v;
      }
      out[y * w + x] = sign * best;
    }
  }
  return out;
}

/**
 * One separable pass of a square binary window (2r+1 wide) with running counts, so the cost does not
 * grow with r: `any` (dilation, outside empty) or `all` (erosion, outside empty: a window reaching past
 * the border is not all inside).
 */
function binaryPass(src: Uint8Array, w: number, h: number, r: number, horizontal: boolean, all: boolean): Uint8Array {
  const out = new Uint8Array(w * h);
  const lines = horizontal ? h : w;
  const len = horizontal ? w : h;
  const step = horizontal ? 1 : w;
  const full = 2 * r + 1;
  const prefix = new Int32Array(len + 1);
  for (let l = 0; l < lines; l++) {
    const base = horizontal ? l * w : l;
    for (let k = 0, i = base; k < len; k++, i += step) prefix[k + 1] = (prefix[k] ?? 0) + (src[i] ?? 0);
    for (let k = 0, i = base; k < len; k++, i += step) {
      const a = k - r;
      const b = k + r + 1;
      const n = (prefix[b < len ? b : len] ?? 0) - (prefix[a > 0 ? a : 0] ?? 0);
      out[i] = all ? (a >= 0 && b <= len && n === full ? 1 : 0) : n > 0 ? 1 : 0;
    }
  }
  return out;
}

/** Square (2r+1)^2 dilation; outside the image counts as empty. */
export function dilate(m: Uint8Array, w: number, h: number, r: number): Uint8Array {
  return binaryPass(binaryPass(m, w, h, r, true, false), w, h, r, false, false);
}

/** Square (2r+1)^2 erosion; outside the image counts as empty, so the borders erode. */
export function erode(m: Uint8Array, w: number, h: number, r: number): Uint8Array {
  return binaryPass(binaryPass(m, w, h, r, true, true), w, h, r, false, true);
}

/** Lower quantile: the sorted value at floor(q (n - 1)), found by selection (linear on average) on a copy. */
export function quantile(values: Float64Array, q: number): number {
  if (values.length === 0) return 0;
  return kthSmallest(Float64Array.from(values), Math.floor(q * (values.length - 1)));
}

/**
 * The k-th smallest value (0-based) of a, which it reorders: Hoare's selection with a middle-of-three pivot.
 * The same element a full sort would put at k, so the result is exactly the sorted quantile's.
 */
function kthSmallest(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    const x = a[lo] ?? 0;
    const y = a[mid] ?? 0;
    const z = a[hi] ?? 0;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((a[i] ?? 0) < pivot) i++;
      while ((a[j] ?? 0) > pivot) j--;
      if (i <= j) {
        const t = a[i] ?? 0;
        a[i] = a[j] ?? 0;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k] ?? 0;
  }
  return a[k] ?? 0;
}

function meanStd(values: Float64Array): { mean: number; std: number } {
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / Math.max(1, values.length);
  let ss = 0;
  for (const v of values) ss += (v - mean) * (v - mean);
  return { mean, std: Math.sqrt(ss / Math.max(1, values.length)) };
}

function select(values: Float64Array, mask: Uint8Array): Float64Array {
  let n = 0;
  for (const m of mask) n += m;
  const out = new Float64Array(n);
  let k = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) out[k++] = values[i] ?? 0;
  return out;
}

function count(m: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < m.length; i++) n += m[i] ?? 0;
  return n;
}

/** |central difference| of a 3x3 box blur, edges replicated (as descriptors.gradient). */
function gradient(g: Float64Array, w: number, h: number): Float64Array {
  // Work on copies padded by one replicated pixel, so the inner loops need no bounds checks.
  const pad = (a: Float64Array): Float64Array => {
    const p = new Float64Array((w + 2) * (h + 2));
    for (let y = -1; y <= h; y++) {
      const sy = Math.min(h - 1, Math.max(0, y));
      for (let x = -1; x <= w; x++) p[(y + 1) * (w + 2) + (x + 1)] = a[sy * w + Math.min(w - 1, Math.max(0, x))] ?? 0;
    }
    return p;
  };
  const pw = w + 2;
  const pg = pad(g);
  // Gray levels are integers, so the 3x3 sum is exact in any order: rows of three, then three rows.
  const rows = new Float64Array(pw * (h + 2));
  for (let y = 0; y < h + 2; y++) for (let x = 0; x < w; x++) rows[y * pw + x] = (pg[y * pw + x] ?? 0) + (pg[y * pw + x + 1] ?? 0) + (pg[y * pw + x + 2] ?? 0);
  const blur = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) blur[y * w + x] = ((rows[y * pw + x] ?? 0) + (rows[(y + 1) * pw + x] ?? 0) + (rows[(y + 2) * pw + x] ?? 0)) / 9;
  }
  const pb = pad(blur);
  const out = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const c = (y + 1) * pw + (x + 1);
      const gx = ((pb[c + 1] ?? 0) - (pb[c - 1] ?? 0)) / 2;
      const gy = ((pb[c + pw] ?? 0) - (pb[c - pw] ?? 0)) / 2;
      out[y * w + x] = Math.sqrt(gx * gx + gy * gy);
    }
  }
  return out;
}

interface Extent {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  area: number;
}

function extentOf(mask: Uint8Array, w: number): Extent | null {
  let x0 = Infinity;
  let x1 = -1;
  let y0 = Infinity;
  let y1 = -1;
  let area = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    const x = i % w;
    const y = (i - x) / w;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
    area++;
  }
  return area === 0 ? null : { x0, y0, x1, y1, area };
}

function cut<T extends Uint8Array | Float64Array>(src: ArrayLike<number>, w: number, win: Extent, make: (n: number) => T): T {
  const ww = win.x1 - win.x0;
  const out = make(ww * (win.y1 - win.y0));
  for (let y = win.y0; y < win.y1; y++) for (let x = win.x0; x < win.x1; x++) out[(y - win.y0) * ww + (x - win.x0)] = src[y * w + x] ?? 0;
  return out;
}

/**
 * The descriptors of one nodule region (descriptors.describe). Null when the region is empty.
 * Every operation is local (at most r + 10 pixels from the region), so they run on a window around
 * the region with a margin past that reach, which gives the same values as the whole frame at a
 * fraction of the cost; the one non-local case (no surrounding tissue: the fallback to the whole
 * frame) runs on the whole frame.
 */
export function describe(gray: GrayImage, region: Region): Descriptors | null {
  const { width: w, height: h } = gray;
  const extent = extentOf(region.mask, w);
  if (!extent) return null;
  const r = Math.max(3, rnd(0.25 * Math.sqrt(extent.area)));
  const margin = r + 12;
  const win = { x0: Math.max(0, extent.x0 - margin), y0: Math.max(0, extent.y0 - margin), x1: Math.min(w, extent.x1 + 1 + margin), y1: Math.min(h, extent.y1 + 1 + margin), area: 0 };
  const whole = win.x0 === 0 && win.y0 === 0 && win.x1 === w && win.y1 === h;
  if (!whole) {
    const ww = win.x1 - win.x0;
    const wh = win.y1 - win.y0;
    const local = measure(cut(gray.data, w, win, (n) => new Float64Array(n)), cut(region.mask, w, win, (n) => new Uint8Array(n)), ww, wh, extent, r, false);
    if (local) return local;
  }
  return measure(Float64Array.from(gray.data), region.mask, w, h, extent, r, true);
}

/** The measurements on an image (or a window of it); null when the ring needs the whole frame and this is not it. */
function measure(g: Float64Array, mask: Uint8Array, w: number, h: number, extent: Extent, r: number, whole: boolean): Descriptors | null {
  const outer = dilate(mask, w, h, r);
  const near = dilate(mask, w, h, 2);
  let ring = new Uint8Array(w * h);
  for (let i = 0; i < ring.length; i++) ring[i] = outer[i] && !near[i] && (g[i] ?? 0) >= CONTENT_MIN ? 1 : 0;
  if (count(ring) < MIN_PIXELS) {
    if (!whole) return null;
    for (let i = 0; i < ring.length; i++) ring[i] = !mask[i] && (g[i] ?? 0) >= CONTENT_MIN ? 1 : 0;
    if (count(ring) < MIN_PIXELS) ring = new Uint8Array(w * h).fill(1);
  }
  let inner = erode(mask, w, h, Math.max(2, Math.floor(r / 3)));
  if (count(inner) < MIN_PIXELS) inner = mask;

  const gi = select(g, inner);
  const gr = select(g, ring);
  const medInner = quantile(gi, 0.5);
  const medRing = quantile(gr, 0.5);
  const inside = meanStd(gi);
  const around = meanStd(gr);
  let dark = 0;
  for (const v of gi) if (v < 0.35 * medRing) dark++;

  const grad = gradient(g, w, h);
  const eroded = erode(mask, w, h, 2);
  const band = new Uint8Array(w * h);
  for (let i = 0; i < band.length; i++) band[i] = near[i] && !eroded[i] ? 1 : 0;

  return {
    echo: Math.log((medInner + 1) / (medRing + 1)),
    dark: dark / gi.length,
    het: inside.std / (inside.mean + 1),
    foci: quantile(tophatInside(g, inner, w, h), 0.999) / 255,
    bright: (quantile(gi, 0.995) - medInner) / (around.std + 1),
    edge: meanStd(select(grad, band)).mean / (meanStd(select(grad, ring)).mean + 1),
    taller: Math.log((extent.y1 - extent.y0 + 1) / (extent.x1 - extent.x0 + 1)),
  };
}

/** Reach of the 9x9 opening: a top-hat value depends on gray levels up to 2 x 4 pixels away. */
const OPENING_RADIUS = 4;

/**
 * The 9x9 white top-hat (gray minus its opening) at the region's pixels, in row-major order. The opening
 * runs only on the region's bounding box grown by twice its radius: a pixel's opening reads the minimum
 * of points within 4 pixels, each the minimum of points within 4 more, so nothing outside that box
 * matters, and where the box meets the image border the windows are clipped there as before.
 */
function tophatInside(g: Float64Array, region: Uint8Array, w: number, h: number): Float64Array {
  const box = extentOf(region, w);
  if (!box) return new Float64Array(0);
  const reach = 2 * OPENING_RADIUS;
  const win = { x0: Math.max(0, box.x0 - reach), y0: Math.max(0, box.y0 - reach), x1: Math.min(w, box.x1 + 1 + reach), y1: Math.min(h, box.y1 + 1 + reach), area: 0 };
  const ww = win.x1 - win.x0;
  const wh = win.y1 - win.y0;
  const local = cut(g, w, win, (n) => new Float64Array(n));
  const opened = runExtreme(runExtreme(local, ww, wh, OPENING_RADIUS, false), ww, wh, OPENING_RADIUS, true);
  const out = new Float64Array(box.area);
  let k = 0;
  for (let y = box.y0; y <= box.y1; y++) {
    for (let x = box.x0; x <= box.x1; x++) {
      if (!region[y * w + x]) continue;
      const i = (y - win.y0) * ww + (x - win.x0);
      out[k++] = (local[i] ?? 0) - (opened[i] ?? 0);
    }
  }
  return out;
}

/** The ellipse inscribed in a box: the region of a nodule a reader boxed (descriptors.ellipse_mask). */
export function ellipseRegion(width: number, height: number, box: Corners): Region {
  const cx = (box.x0 + box.x1) / 2;
  const cy = (box.y0 + box.y1) / 2;
  const ax = Math.max((box.x1 - box.x0) / 2, 0.5);
  const ay = Math.max((box.y1 - box.y0) / 2, 0.5);
  const mask = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const dx = (x + 0.5 - cx) / ax;
      const dy = (y + 0.5 - cy) / ay;
      mask[y * width + x] = dx * dx + dy * dy <= 1 ? 1 : 0;
    }
  }
  return { width, height, mask };
}
