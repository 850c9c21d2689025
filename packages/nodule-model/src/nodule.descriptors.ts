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
import type { Histogram } from './descriptor.kernels';
import { chessboardDistancePadded, gradientSums, histogramBelow, histogramQuantile, newHistogram } from './descriptor.kernels';
import { workInt32 } from './work.arrays';
import type { Corners, GrayImage } from './frame.geometry';
import type { SharedOpenings } from './frame.openings';
import { openWindow, openingWindow } from './frame.openings';

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
  /**
   * Inclusive pixel rectangle outside which the mask is 0 (need not be tight): the extent is then found
   * without scanning the whole frame. Absent: the whole mask is scanned.
   */
  bounds?: Corners;
}

const rnd = (x: number): number => Math.floor(x + 0.5);

interface Extent {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  area: number;
}

function extentOf(mask: Uint8Array, w: number, h: number, bounds?: Corners): Extent | null {
  const bx0 = bounds ? Math.max(0, bounds.x0) : 0;
  const by0 = bounds ? Math.max(0, bounds.y0) : 0;
  const bx1 = bounds ? Math.min(w - 1, bounds.x1) : w - 1;
  const by1 = bounds ? Math.min(h - 1, bounds.y1) : h - 1;
  let x0 = Infinity;
  let x1 = -1;
  let y0 = Infinity;
  let y1 = -1;
  let area = 0;
  for (let y = by0; y <= by1; y++) {
    for (let x = bx0, i = y * w + bx0; x <= bx1; x++, i++) {
      if (!mask[i]) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      area++;
    }
  }
  return area === 0 ? null : { x0, y0, x1, y1, area };
}

/** The window's rows of an 8-bit image, copied row by row. */
function cut(src: Uint8Array, w: number, win: Extent): Uint8Array {
  const ww = win.x1 - win.x0;
  const out = new Uint8Array(ww * (win.y1 - win.y0));
  for (let y = win.y0; y < win.y1; y++) out.set(src.subarray(y * w + win.x0, y * w + win.x1), (y - win.y0) * ww);
  return out;
}

export function bytesOf(data: ArrayLike<number>): Uint8Array {
  return data instanceof Uint8Array ? data : Uint8Array.from(data);
}

/**
 * The descriptors of one nodule region (descriptors.describe). Null when the region is empty.
 * Every operation but one is local (at most r + 10 pixels from the region), so they run on a window
 * around the region with a margin past that reach, which gives the same values as the whole frame at a
 * fraction of the cost. The one non-local case is a region with no surrounding tissue: its "ring"
 * falls back to all tissue outside the region on the whole frame (or all pixels), and only those ring
 * statistics are then taken over the whole frame.
 */
export function describe(gray: GrayImage, region: Region, shared?: SharedOpenings): Descriptors | null {
  const { width: w, height: h } = gray;
  const extent = extentOf(region.mask, w, h, region.bounds);
  if (!extent) return null;
  const r = Math.max(3, rnd(0.25 * Math.sqrt(extent.area)));
  const margin = r + 12;
  const win = { x0: Math.max(0, extent.x0 - margin), y0: Math.max(0, extent.y0 - margin), x1: Math.min(w, extent.x1 + 1 + margin), y1: Math.min(h, extent.y1 + 1 + margin), area: 0 };
  const frame = bytesOf(gray.data);
  const whole = win.x0 === 0 && win.y0 === 0 && win.x1 === w && win.y1 === h;
  const fallback = (): RingStats => frameRing(frame, region.mask, w, h);
  if (whole) return measure(frame, region.mask, w, h, extent, r, fallback, { x: 0, y: 0, shared });
  return measure(cut(frame, w, win), cut(region.mask, w, win), win.x1 - win.x0, win.y1 - win.y0, extent, r, fallback, { x: win.x0, y: win.y0, shared });
}

/** Where a window lies in its frame (its top-left corner), and the openings shared on that frame. */
interface Place {
  x: number;
  y: number;
  shared: SharedOpenings | undefined;
}

/** What the descriptors read from the surrounding tissue (the "ring"). */
interface RingStats {
  count: number;
  hist: Histogram;
  mean: number;
  std: number;
  /** Sum of the gradient magnitude over the ring, in row-major order. */
  gradient: number;
}

/**
 * Count, histogram, mean and standard deviation of the values of `g` on `ring`: sums of integers (exact
 * in any order), squared deviations summed in row-major order (as the plain mean of selected values).
 */
function ringStats(g: Uint8Array, ring: Uint8Array, count: number, gradient: number): RingStats {
  const hist = newHistogram();
  let sum = 0;
  for (let i = 0; i < g.length; i++) {
    if (!ring[i]) continue;
    const v = g[i] ?? 0;
    hist[v] = (hist[v] ?? 0) + 1;
    sum += v;
  }
  const mean = sum / Math.max(1, count);
  let ss = 0;
  for (let i = 0; i < g.length; i++) {
    if (!ring[i]) continue;
    const v = g[i] ?? 0;
    ss += (v - mean) * (v - mean);
  }
  return { count, hist, mean, std: Math.sqrt(ss / Math.max(1, count)), gradient };
}

/**
 * The ring of a region with fewer than MIN_PIXELS tissue pixels near it (descriptors.describe): every
 * tissue pixel of the whole frame outside the region, or, with fewer than that too, every pixel.
 */
function frameRing(g: Uint8Array, mask: Uint8Array, w: number, h: number): RingStats {
  const n = w * h;
  let ring = new Uint8Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const on = !mask[i] && (g[i] ?? 0) >= CONTENT_MIN ? 1 : 0;
    ring[i] = on;
    count += on;
  }
  if (count < MIN_PIXELS) {
    ring = new Uint8Array(n).fill(1);
    count = n;
  }
  return ringStats(g, ring, count, gradientSums(g, w, h, ring, ring).a);
}

/**
 * The measurements on an 8-bit image (or a window of it around the region). Masks are thresholds of two
 * distance transforms, order statistics come from histograms and sums of integers, and every
 * floating-point value is formed by the same operations in the same order as the plain definitions
 * (descriptor.reference.ts), so the result is theirs exactly. `fallback`: the ring statistics on the
 * whole frame, for a region with too little tissue near it.
 */
function measure(g: Uint8Array, mask: Uint8Array, w: number, h: number, extent: Extent, r: number, fallback: () => RingStats, at: Place): Descriptors {
  const n = w * h;
  const pw = w + 2;
  const padded = (w + 2) * (h + 2);
  const toMask = chessboardDistancePadded(mask, w, h, 1, false, workInt32('distanceToMask', padded));
  const toOutside = chessboardDistancePadded(mask, w, h, 0, true, workInt32('distanceToOutside', padded));
  const innerRadius = Math.max(2, Math.floor(r / 3));
  // ring: within r of the region but not within 2, on tissue; inner: the region eroded by innerRadius;
  // band: within 2 of the region's boundary on either side.
  const ring = new Uint8Array(n);
  let inner: Uint8Array = new Uint8Array(n);
  const band = new Uint8Array(n);
  let ringCount = 0;
  let innerCount = 0;
  let bandCount = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0, i = y * w, p = (y + 1) * pw + 1; x < w; x++, i++, p++) {
      const out = toMask[p] ?? 0;
      const depth = toOutside[p] ?? 0;
      const onRing = out <= r && out > 2 && (g[i] ?? 0) >= CONTENT_MIN ? 1 : 0;
      const onInner = depth > innerRadius ? 1 : 0;
      const onBand = out <= 2 && depth <= 2 ? 1 : 0;
      ring[i] = onRing;
      inner[i] = onInner;
      band[i] = onBand;
      ringCount += onRing;
      innerCount += onInner;
      bandCount += onBand;
    }
  }
  if (innerCount < MIN_PIXELS) {
    inner = mask;
    innerCount = 0;
    for (let i = 0; i < n; i++) innerCount += mask[i] ?? 0;
  }
  const local = ringCount >= MIN_PIXELS;
  const gradient = gradientSums(g, w, h, band, local ? ring : band);
  const around = local ? ringStats(g, ring, ringCount, gradient.b) : fallback();

  const innerHist = newHistogram();
  let innerSum = 0;
  for (let i = 0; i < n; i++) {
    if (!inner[i]) continue;
    const v = g[i] ?? 0;
    innerHist[v] = (innerHist[v] ?? 0) + 1;
    innerSum += v;
  }
  // Means of integers are exact in any order; the squared deviations are summed in row-major order.
  const innerMean = innerSum / Math.max(1, innerCount);
  let innerSs = 0;
  for (let i = 0; i < n; i++) {
    if (!inner[i]) continue;
    const v = g[i] ?? 0;
    innerSs += (v - innerMean) * (v - innerMean);
  }
  const innerStd = Math.sqrt(innerSs / Math.max(1, innerCount));
  const medInner = histogramQuantile(innerHist, innerCount, 0.5);
  const medRing = histogramQuantile(around.hist, around.count, 0.5);
  const dark = histogramBelow(innerHist, 0.35 * medRing);

  return {
    echo: Math.log((medInner + 1) / (medRing + 1)),
    dark: dark / innerCount,
    het: innerStd / (innerMean + 1),
    foci: tophatQuantile(g, inner, w, h, 0.999, at) / 255,
    bright: (histogramQuantile(innerHist, innerCount, 0.995) - medInner) / (around.std + 1),
    edge: gradient.a / Math.max(1, bandCount) / (around.gradient / Math.max(1, around.count) + 1),
    taller: Math.log((extent.y1 - extent.y0 + 1) / (extent.x1 - extent.x0 + 1)),
  };
}

/**
 * A quantile of the 9x9 white top-hat (gray minus its opening) over the region's pixels (`region` and
 * `g` are a window of the frame whose top-left corner is `at`). The opening is a shared one when it
 * covers the region (frame.openings.ts), else it is computed on the region's bounding box grown by
 * twice its radius: a pixel's opening reads the minimum of points within 4 pixels, each the minimum of
 * points within 4 more, so nothing outside that box matters, and where the box meets the image border
 * the windows are clipped there as on the whole frame. Top-hat values are integers 0..255, so the
 * quantile comes from their histogram.
 */
function tophatQuantile(g: Uint8Array, region: Uint8Array, w: number, h: number, q: number, at: Place): number {
  const box = extentOf(region, w, h);
  if (!box) return 0;
  const inFrame = { x0: box.x0 + at.x, y0: box.y0 + at.y, x1: box.x1 + 1 + at.x, y1: box.y1 + 1 + at.y };
  const shared = at.shared?.covering(inFrame);
  const opening = shared ?? openWindow(g, w, openingWindow({ x0: box.x0, y0: box.y0, x1: box.x1 + 1, y1: box.y1 + 1 }, w, h));
  // The opening's corner in this window's coordinates (a shared one is in frame coordinates).
  const ox = opening.window.x0 - (shared ? at.x : 0);
  const oy = opening.window.y0 - (shared ? at.y : 0);
  const ow = opening.window.x1 - opening.window.x0;
  const hist = newHistogram();
  for (let y = box.y0; y <= box.y1; y++) {
    for (let x = box.x0; x <= box.x1; x++) {
      if (!region[y * w + x]) continue;
      const i = (y - oy) * ow + (x - ox);
      const v = (opening.gray[i] ?? 0) - (opening.opened[i] ?? 0);
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
  return { width, height, mask, bounds: { x0: xFrom, y0: yFrom, x1: xTo, y1: yTo } };
}
