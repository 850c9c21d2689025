/**
 * The image operations behind the nodule descriptors, written for speed on 8-bit gray windows but equal
 * to their plain definitions (descriptor.reference.ts), value for value: morphology by distance
 * transforms, order statistics by histograms (gray levels are integers 0..255), running extremes by
 * doubling. The served path measures two regions per candidate on whole frames, and these were most of
 * its time (#13 runtime). The tests compare each kernel with its definition.
 */

import { workFloat64, workInt32 } from './work.arrays';

/**
 * Chessboard (L-infinity) distance of every pixel to the nearest pixel whose mask value is `target`: 0
 * on such a pixel, else the smallest max(|dx|, |dy|) to one. Two chamfer passes with unit weights on the
 * 8-neighbourhood, exact for this metric (Rosenfeld and Pfaltz). `outsideIsTarget`: pixels beyond the
 * border count as targets (the distance then includes the distance to the border), otherwise as absent.
 * Thresholds of it are the square-window morphology: dilate(m, r) = {distance to 1 <= r} (outside
 * empty), erode(m, r) = {distance to 0 > r} (outside counting as 0); one transform serves every radius.
 * Returned padded by one pixel on each side: pixel (x, y) is at (y + 1) * (w + 2) + x + 1. `into`: where
 * to write them ((w + 2) x (h + 2) elements, every one overwritten), a fresh array by default.
 */
export function chessboardDistancePadded(
  mask: Uint8Array,
  w: number,
  h: number,
  target: 0 | 1,
  outsideIsTarget: boolean,
  into: Int32Array = new Int32Array((w + 2) * (h + 2)),
): Int32Array {
  const pw = w + 2;
  const far = w + h + 2;
  const d = into.fill(outsideIsTarget ? 0 : far);
  for (let y = 0; y < h; y++) {
    let p = (y + 1) * pw + 1;
    for (let x = 0, i = y * w; x < w; x++, i++, p++) {
      if (mask[i] === target) {
        d[p] = 0;
        continue;
      }
      let best = d[p - 1] ?? far;
      const a = d[p - pw - 1] ?? far;
      const b = d[p - pw] ?? far;
      const c = d[p - pw + 1] ?? far;
      if (a < best) best = a;
      if (b < best) best = b;
      if (c < best) best = c;
      d[p] = best + 1;
    }
  }
  for (let y = h - 1; y >= 0; y--) {
    let p = (y + 1) * pw + w;
    for (let x = w - 1; x >= 0; x--, p--) {
      let best = d[p] ?? 0;
      if (best === 0) continue;
      const e = (d[p + 1] ?? far) + 1;
      const a = (d[p + pw + 1] ?? far) + 1;
      const b = (d[p + pw] ?? far) + 1;
      const c = (d[p + pw - 1] ?? far) + 1;
      if (e < best) best = e;
      if (a < best) best = a;
      if (b < best) best = b;
      if (c < best) best = c;
      d[p] = best;
    }
  }
  return d;
}

/** The same distances without the padding (for tests and callers that index by pixel). */
export function chessboardDistance(mask: Uint8Array, w: number, h: number, target: 0 | 1, outsideIsTarget: boolean): Int32Array {
  const padded = chessboardDistancePadded(mask, w, h, target, outsideIsTarget);
  const out = new Int32Array(w * h);
  for (let y = 0; y < h; y++) out.set(padded.subarray((y + 1) * (w + 2) + 1, (y + 1) * (w + 2) + 1 + w), y * w);
  return out;
}

/** Counts of each gray level 0..255. */
export type Histogram = Int32Array;

export function newHistogram(): Histogram {
  return new Int32Array(256);
}

/**
 * Lower quantile without interpolation (the sorted value at floor(q (n - 1))) of the values a histogram
 * counts; 0 when it is empty, as the plain definition.
 */
export function histogramQuantile(hist: Histogram, n: number, q: number): number {
  if (n === 0) return 0;
  const k = Math.floor(q * (n - 1));
  let seen = 0;
  for (let level = 0; level < 256; level++) {
    seen += hist[level] ?? 0;
    if (seen > k) return level;
  }
  return 255;
}

/** How many of the counted values are strictly below `limit`. */
export function histogramBelow(hist: Histogram, limit: number): number {
  let n = 0;
  for (let level = 0; level < 256 && level < limit; level++) n += hist[level] ?? 0;
  return n;
}

/**
 * Max (`max` true) or min over a window of 2r+1 along rows then columns of an 8-bit image, windows clipped
 * at the borders (the clipped part padded with a value that never wins: 0 for max, 255 for min). Each
 * extreme over 2r+1 values is taken by doubling (extremes of 2, 4, 8, ... values, then two overlapping
 * ones), a few comparisons per pixel whatever r is; max and min are exact, so this is the plain
 * definition's result.
 */
export function windowExtreme(src: Uint8Array, w: number, h: number, r: number, max: boolean): Uint8Array {
  const pad = max ? 0 : 255;
  const k = 2 * r + 1;
  let span = 1;
  while (span * 2 <= k) span *= 2;
  // Rows: one padded line at a time, extremes of growing spans computed in place.
  const line = new Uint8Array(w + 2 * r);
  const across = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    line.fill(pad);
    line.set(src.subarray(y * w, y * w + w), r);
    for (let s = 1; s < span; s *= 2) {
      const last = line.length - s;
      for (let j = 0; j < last; j++) {
        const a = line[j] ?? pad;
        const b = line[j + s] ?? pad;
        line[j] = max ? (a > b ? a : b) : a < b ? a : b;
      }
    }
    const row = y * w;
    for (let x = 0; x < w; x++) {
      const a = line[x] ?? pad;
      const b = line[x + k - span] ?? pad;
      across[row + x] = max ? (a > b ? a : b) : a < b ? a : b;
    }
  }
  // Columns: the same on whole rows at once (contiguous memory), padded by r rows above and below.
  const rows = h + 2 * r;
  const stack = new Uint8Array(rows * w).fill(pad);
  stack.set(across, r * w);
  for (let s = 1; s < span; s *= 2) {
    const last = (rows - s) * w;
    const step = s * w;
    for (let j = 0; j < last; j++) {
      const a = stack[j] ?? pad;
      const b = stack[j + step] ?? pad;
      stack[j] = max ? (a > b ? a : b) : a < b ? a : b;
    }
  }
  const out = new Uint8Array(w * h);
  const offset = (k - span) * w;
  for (let j = 0; j < w * h; j++) {
    const a = stack[j] ?? pad;
    const b = stack[j + offset] ?? pad;
    out[j] = max ? (a > b ? a : b) : a < b ? a : b;
  }
  return out;
}

/**
 * Sums of |central difference| of a 3x3 box blur (edges replicated: descriptors.gradient) over the
 * pixels of two masks, each summed in row-major order as the plain mean of selected values is. The blur
 * is computed everywhere (it is needed around the masks), the square root only on them.
 */
export function gradientSums(g: Uint8Array, w: number, h: number, a: Uint8Array, b: Uint8Array): { a: number; b: number } {
  const pw = w + 2;
  const ph = h + 2;
  // Sums of three along rows on a copy padded by one replicated pixel: integers, exact in any order.
  const rows = workInt32('gradientRows', pw * ph);
  for (let y = 0; y < ph; y++) {
    const src = Math.min(h - 1, Math.max(0, y - 1)) * w;
    const dst = y * pw;
    let left = g[src] ?? 0;
    let centre = g[src] ?? 0;
    for (let x = 0; x < w; x++) {
      const right = x + 1 < w ? (g[src + x + 1] ?? 0) : centre;
      rows[dst + x] = left + centre + right;
      left = centre;
      centre = right;
    }
  }
  // The blur (sum of nine / 9, as the float definition gives for integer sums), padded by one replicated pixel.
  const blur = workFloat64('gradientBlur', pw * ph);
  for (let y = 0; y < h; y++) {
    const dst = (y + 1) * pw;
    for (let x = 0; x < w; x++) blur[dst + x + 1] = ((rows[y * pw + x] ?? 0) + (rows[(y + 1) * pw + x] ?? 0) + (rows[(y + 2) * pw + x] ?? 0)) / 9;
    blur[dst] = blur[dst + 1] ?? 0;
    blur[dst + w + 1] = blur[dst + w] ?? 0;
  }
  blur.copyWithin(0, pw, 2 * pw);
  blur.copyWithin((h + 1) * pw, h * pw, (h + 1) * pw);
  let sumA = 0;
  let sumB = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0, i = y * w; x < w; x++, i++) {
      const inA = a[i] === 1;
      const inB = b[i] === 1;
      if (!inA && !inB) continue;
      const c = (y + 1) * pw + (x + 1);
      const gx = ((blur[c + 1] ?? 0) - (blur[c - 1] ?? 0)) / 2;
      const gy = ((blur[c + pw] ?? 0) - (blur[c - pw] ?? 0)) / 2;
      const v = Math.sqrt(gx * gx + gy * gy);
      if (inA) sumA += v;
      if (inB) sumB += v;
    }
  }
  return { a: sumA, b: sumB };
}
