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
import { chessboardDistancePadded, gradientSums, histogramBelow, histogramQuantile, newHistogram, windowExtreme } from './descriptor.kernels';
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
    const local = measure(cut(gray.data, w, win, (n) => new Uint8Array(n)), cut(region.mask, w, win, (n) => new Uint8Array(n)), ww, wh, extent, r, false);
    if (local) return local;
  }
  return measure(Uint8Array.from(gray.data), region.mask, w, h, extent, r, true);
}

/**
 * The measurements on an 8-bit image (or a window of it); null when the ring needs the whole frame and
 * this is not it. Masks are thresholds of two distance transforms, order statistics come from histograms
 * and sums of integers, and every floating-point value is formed by the same operations in the same
 * order as the plain definitions (descriptor.reference.ts), so the result is theirs exactly.
 */
function measure(g: Uint8Array, mask: Uint8Array, w: number, h: number, extent: Extent, r: number, whole: boolean): Descriptors | null {
  const n = w * h;
  const pw = w + 2;
  const toMask = chessboardDistancePadded(mask, w, h, 1, false);
  const toOutside = chessboardDistancePadded(mask, w, h, 0, true);
  const innerRadius = Math.max(2, Math.floor(r / 3));
  // ring: within r of the region but not within 2, on tissue; inner: the region eroded by innerRadius;
  // band: within 2 of the region's boundary on either side.
  let ring = new Uint8Array(n);
  let inner: Uint8Array = new Uint8Array(n);
  const band = new Uint8Array(n);
  let ringCount = 0;
  let innerCount = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0, i = y * w, p = (y + 1) * pw + 1; x < w; x++, i++, p++) {
      const out = toMask[p] ?? 0;
      const depth = toOutside[p] ?? 0;
      const onRing = out <= r && out > 2 && (g[i] ?? 0) >= CONTENT_MIN ? 1 : 0;
      const onInner = depth > innerRadius ? 1 : 0;
      ring[i] = onRing;
      inner[i] = onInner;
      band[i] = out <= 2 && depth <= 2 ? 1 : 0;
      ringCount += onRing;
      innerCount += onInner;
    }
  }
  if (ringCount < MIN_PIXELS) {
    if (!whole) return null;
    ringCount = 0;
    for (let i = 0; i < n; i++) {
      const on = !mask[i] && (g[i] ?? 0) >= CONTENT_MIN ? 1 : 0;
      ring[i] = on;
      ringCount += on;
    }
    if (ringCount < MIN_PIXELS) {
      ring = new Uint8Array(n).fill(1);
      ringCount = n;
    }
  }
  if (innerCount < MIN_PIXELS) {
    inner = mask;
    innerCount = 0;
    for (let i = 0; i < n; i++) innerCount += mask[i] ?? 0;
  }

  const innerHist = newHistogram();
  const ringHist = newHistogram();
  let innerSum = 0;
  let ringSum = 0;
  let bandCount = 0;
  for (let i = 0; i < n; i++) {
    const v = g[i] ?? 0;
    if (inner[i]) {
      innerHist[v] = (innerHist[v] ?? 0) + 1;
      innerSum += v;
    }
    if (ring[i]) {
      ringHist[v] = (ringHist[v] ?? 0) + 1;
      ringSum += v;
    }
    bandCount += band[i] ?? 0;
  }
  // Means of integers are exact in any order; the squared deviations are summed in row-major order.
  const innerMean = innerSum / Math.max(1, innerCount);
  const ringMean = ringSum / Math.max(1, ringCount);
  let innerSs = 0;
  let ringSs = 0;
  for (let i = 0; i < n; i++) {
    const v = g[i] ?? 0;
    if (inner[i]) innerSs += (v - innerMean) * (v - innerMean);
    if (ring[i]) ringSs += (v - ringMean) * (v - ringMean);
  }
  const innerStd = Math.sqrt(innerSs / Math.max(1, innerCount));
  const ringStd = Math.sqrt(ringSs / Math.max(1, ringCount));
  const medInner = histogramQuantile(innerHist, innerCount, 0.5);
  const medRing = histogramQuantile(ringHist, ringCount, 0.5);
  const dark = histogramBelow(innerHist, 0.35 * medRing);
  const gradient = gradientSums(g, w, h, band, ring);

  return {
    echo: Math.log((medInner + 1) / (medRing + 1)),
    dark: dark / innerCount,
    het: innerStd / (innerMean + 1),
    foci: tophatQuantile(g, inner, w, h, 0.999) / 255,
    bright: (histogramQuantile(innerHist, innerCount, 0.995) - medInner) / (ringStd + 1),
    edge: gradient.a / Math.max(1, bandCount) / (gradient.b / Math.max(1, ringCount) + 1),
    taller: Math.log((extent.y1 - extent.y0 + 1) / (extent.x1 - extent.x0 + 1)),
  };
}

/** Reach of the 9x9 opening: a top-hat value depends on gray levels up to 2 x 4 pixels away. */
const OPENING_RADIUS = 4;

/**
 * A quantile of the 9x9 white top-hat (gray minus its opening) over the region's pixels. The opening runs
 * only on the region's bounding box grown by twice its radius: a pixel's opening reads the minimum of
 * points within 4 pixels, each the minimum of points within 4 more, so nothing outside that box matters,
 * and where the box meets the image border the windows are clipped there as before. Top-hat values are
 * integers 0..255, so the quantile comes from their histogram.
 */
function tophatQuantile(g: Uint8Array, region: Uint8Array, w: number, h: number, q: number): number {
  const box = extentOf(region, w);
  if (!box) return 0;
  const reach = 2 * OPENING_RADIUS;
  const win = { x0: Math.max(0, box.x0 - reach), y0: Math.max(0, box.y0 - reach), x1: Math.min(w, box.x1 + 1 + reach), y1: Math.min(h, box.y1 + 1 + reach), area: 0 };
  const ww = win.x1 - win.x0;
  const wh = win.y1 - win.y0;
  const local = cut(g, w, win, (size) => new Uint8Array(size));
  const opened = windowExtreme(windowExtreme(local, ww, wh, OPENING_RADIUS, false), ww, wh, OPENING_RADIUS, true);
  const hist = newHistogram();
  for (let y = box.y0; y <= box.y1; y++) {
    for (let x = box.x0; x <= box.x1; x++) {
      if (!region[y * w + x]) continue;
      const i = (y - win.y0) * ww + (x - win.x0);
      const v = (local[i] ?? 0) - (opened[i] ?? 0);
      hist[v] = (hist[v] ?? 0) + 1;
    }
  }
  return histogramQuantile(hist, box.area, q);
}

/** The ellipse inscribed in a box: the region of a nodule a reader boxed (descriptors.ellipse_mask). */
export function ellipseRegion(width: number, height: number, box: Corners): Region {
  const cx = (box.x0 + box.x1) / 2;
  const cy = (box.y0 + box.y1) / 2;
  const ax = Math.max((box.x1 - box.x0) / 2, 0.5);
  const ay = Math.max((box.y1 - box.y0) / 2, 0.5);
  const mask = new Uint8Array(width * height);
  // Only pixels whose centre lies within the semi-axes can be inside; the rest stay 0.
  const yFrom = Math.max(0, Math.floor(cy - ay - 1));
  const yTo = Math.min(height - 1, Math.ceil(cy + ay + 1));
  const xFrom = Math.max(0, Math.floor(cx - ax - 1));
  const xTo = Math.min(width - 1, Math.ceil(cx + ax + 1));
  for (let y = yFrom; y <= yTo; y++) {
    for (let x = xFrom; x <= xTo; x++) {
      const dx = (x + 0.5 - cx) / ax;
      const dy = (y + 0.5 - cy) / ay;
      mask[y * width + x] = dx * dx + dy * dy <= 1 ? 1 : 0;
    }
  }
  return { width, height, mask };
}
