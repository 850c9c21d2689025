/**
 * The plain definitions of the descriptors' image operations, as models/thyroid-nodule/train/descriptors.py
 * writes them: square windows clipped at the borders, lower quantiles without interpolation. The served
 * path uses the faster kernels of descriptor.kernels.ts; the tests hold those to these, value for value.
 */
import type { Descriptors } from './nodule.descriptors';

/** Max (or min) over a window of 2r+1 along rows then columns, windows clipped at the borders. */
export function runExtreme(src: Float64Array, w: number, h: number, r: number, max: boolean): Float64Array {
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

export function meanStd(values: Float64Array): { mean: number; std: number } {
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / Math.max(1, values.length);
  let ss = 0;
  for (const v of values) ss += (v - mean) * (v - mean);
  return { mean, std: Math.sqrt(ss / Math.max(1, values.length)) };
}

export function select(values: Float64Array, mask: Uint8Array): Float64Array {
  let n = 0;
  for (const m of mask) n += m;
  const out = new Float64Array(n);
  let k = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) out[k++] = values[i] ?? 0;
  return out;
}


/** |central difference| of a 3x3 box blur, edges replicated (as descriptors.gradient). */
export function gradient(g: Float64Array, w: number, h: number): Float64Array {
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

/**
 * The descriptors of a region by their plain definitions on the whole frame (descriptors.describe in
 * Python: masks by dilation and erosion, values selected in row-major order, sorted-value quantiles, the
 * opening and gradient of the whole frame). The served `describe` (windows, histograms, distance
 * transforms, shared openings) is held to this value for value.
 */
export function describePlain(gray: { width: number; height: number; data: ArrayLike<number> }, mask: Uint8Array): Descriptors | null {
  const { width: w, height: h } = gray;
  const n = w * h;
  const g = Float64Array.from({ length: n }, (_, i) => gray.data[i] ?? 0);
  let area = 0;
  let x0 = Infinity;
  let x1 = -1;
  let y0 = Infinity;
  let y1 = -1;
  for (let i = 0; i < n; i++) {
    if (!mask[i]) continue;
    const x = i % w;
    const y = (i - x) / w;
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
    area++;
  }
  if (area === 0) return null;
  const r = Math.max(3, Math.floor(0.25 * Math.sqrt(area) + 0.5));
  const near = dilate(mask, w, h, r);
  const touching = dilate(mask, w, h, 2);
  let ring = Uint8Array.from({ length: n }, (_, i) => (near[i] && !touching[i] && (g[i] ?? 0) >= 4 ? 1 : 0));
  if (ring.reduce((s, v) => s + v, 0) < 20) {
    ring = Uint8Array.from({ length: n }, (_, i) => (!mask[i] && (g[i] ?? 0) >= 4 ? 1 : 0));
    if (ring.reduce((s, v) => s + v, 0) < 20) ring = new Uint8Array(n).fill(1);
  }
  let inner = erode(mask, w, h, Math.max(2, Math.floor(r / 3)));
  if (inner.reduce((s, v) => s + v, 0) < 20) inner = mask;
  const core = erode(mask, w, h, 2);
  const band = Uint8Array.from({ length: n }, (_, i) => (touching[i] && !core[i] ? 1 : 0));
  const inside = select(g, inner);
  const around = select(g, ring);
  const medInner = quantile(inside, 0.5);
  const medRing = quantile(around, 0.5);
  const { mean, std } = meanStd(inside);
  const ringStd = meanStd(around).std;
  const opened = runExtreme(runExtreme(g, w, h, 4, false), w, h, 4, true);
  const tophat = g.map((v, i) => v - (opened[i] ?? 0));
  const grad = gradient(g, w, h);
  const meanOf = (v: Float64Array): number => v.reduce((s, x) => s + x, 0) / Math.max(1, v.length);
  return {
    echo: Math.log((medInner + 1) / (medRing + 1)),
    dark: inside.filter((v) => v < 0.35 * medRing).length / inside.length,
    het: std / (mean + 1),
    foci: quantile(select(tophat, inner), 0.999) / 255,
    bright: (quantile(inside, 0.995) - medInner) / (ringStd + 1),
    edge: meanOf(select(grad, band)) / (meanOf(select(grad, ring)) + 1),
    taller: Math.log((y1 - y0 + 1) / (x1 - x0 + 1)),
  };
}
