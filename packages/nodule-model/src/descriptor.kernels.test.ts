import { chessboardDistance, gradientSums, histogramBelow, histogramQuantile, newHistogram, windowExtreme } from './descriptor.kernels';
import { dilate, erode, gradient, quantile, runExtreme, select } from './descriptor.reference';

/** A deterministic generator, so a failure names a reproducible case. */
function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

/** Random masks of every kind the descriptors meet: sparse specks, blobs, touching the borders, full, empty. */
function masks(next: () => number): { w: number; h: number; mask: Uint8Array }[] {
  const out: { w: number; h: number; mask: Uint8Array }[] = [];
  for (let t = 0; t < 40; t++) {
    const w = 1 + Math.floor(next() * 40);
    const h = 1 + Math.floor(next() * 30);
    const mask = new Uint8Array(w * h);
    const kind = t % 5;
    const cx = next() * w;
    const cy = next() * h;
    const rx = 1 + next() * w;
    const ry = 1 + next() * h;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const inBlob = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1;
        mask[y * w + x] = kind === 0 ? Number(next() < 0.05) : kind === 1 ? Number(inBlob) : kind === 2 ? 1 : kind === 3 ? 0 : Number(inBlob || next() < 0.1);
      }
    }
    out.push({ w, h, mask });
  }
  return out;
}

function image(next: () => number, w: number, h: number): Uint8Array {
  const g = new Uint8Array(w * h);
  for (let i = 0; i < g.length; i++) g[i] = next() < 0.1 ? 255 : Math.floor(next() * 256);
  return g;
}

describe('descriptor kernels equal the plain definitions', () => {
  it('thresholds of chessboard distances are the square-window dilation and erosion at every radius', () => {
    const next = lcg(11);
    for (const { w, h, mask } of masks(next)) {
      const toMask = chessboardDistance(mask, w, h, 1, false);
      const toOutside = chessboardDistance(mask, w, h, 0, true);
      for (const r of [1, 2, 3, 5, 9]) {
        expect(Array.from(toMask, (d) => (d <= r ? 1 : 0))).toEqual(Array.from(dilate(mask, w, h, r)));
        expect(Array.from(toOutside, (d) => (d > r ? 1 : 0))).toEqual(Array.from(erode(mask, w, h, r)));
      }
    }
  });

  it('running extremes by doubling are the clipped-window max and min', () => {
    const next = lcg(12);
    for (let t = 0; t < 30; t++) {
      const w = 1 + Math.floor(next() * 50);
      const h = 1 + Math.floor(next() * 40);
      const g = image(next, w, h);
      for (const r of [1, 2, 4, 7]) {
        for (const max of [true, false]) {
          const fast = windowExtreme(g, w, h, r, max);
          const plain = runExtreme(Float64Array.from(g), w, h, r, max);
          expect(Array.from(fast)).toEqual(Array.from(plain));
        }
      }
    }
  });

  it('histogram quantiles and counts are the sorted-value quantiles of the same values', () => {
    const next = lcg(13);
    for (let t = 0; t < 50; t++) {
      const n = Math.floor(next() * 300);
      const values = Float64Array.from({ length: n }, () => Math.floor(next() * 256));
      const hist = newHistogram();
      for (const v of values) hist[v] = (hist[v] ?? 0) + 1;
      for (const q of [0, 0.5, 0.995, 0.999, 1]) expect(histogramQuantile(hist, n, q)).toBe(quantile(values, q));
      const limit = next() * 300;
      expect(histogramBelow(hist, limit)).toBe(values.filter((v) => v < limit).length);
    }
  });

  it('gradient sums over two masks are the sums of the plain gradient at their pixels, bit for bit', () => {
    const next = lcg(14);
    for (const { w, h, mask } of masks(next)) {
      const g = image(next, w, h);
      const other = new Uint8Array(w * h).map(() => Number(next() < 0.5));
      const plain = gradient(Float64Array.from(g), w, h);
      const sum = (m: Uint8Array): number => select(plain, m).reduce((s, v) => s + v, 0);
      const fast = gradientSums(g, w, h, mask, other);
      expect(fast.a).toBe(sum(mask));
      expect(fast.b).toBe(sum(other));
    }
  });
});
