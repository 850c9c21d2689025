import type { Corners, GrayImage } from './frame.geometry';
import { dilate, erode, quantile } from './descriptor.reference';
import { describe as describeNodule, ellipseRegion } from './nodule.descriptors';

/** A textured background with one elliptical nodule painted in by `inside(x, y, base)`. */
function frameWith(box: Corners, inside: (x: number, y: number, base: number) => number, width = 200, height = 160): GrayImage {
  const region = ellipseRegion(width, height, box);
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const base = 100 + ((x * 7 + y * 13) % 21) - 10;
      data[y * width + x] = region.mask[y * width + x] ? inside(x, y, base) : base;
    }
  }
  return { width, height, data };
}

const BOX: Corners = { x0: 60, y0: 50, x1: 140, y1: 110 };

describe('morphology and quantiles', () => {
  it('dilates and erodes with square windows, the image border counting as empty', () => {
    const w = 7;
    const h = 5;
    const m = new Uint8Array(w * h);
    m[2 * w + 3] = 1;
    const d = dilate(m, w, h, 1);
    expect(Array.from(d).reduce((s, v) => s + v, 0)).toBe(9);
    expect(d[1 * w + 2]).toBe(1);
    expect(d[0 * w + 3]).toBe(0);
    const full = new Uint8Array(w * h).fill(1);
    const e = erode(full, w, h, 1);
    // Only pixels whose whole 3x3 window lies inside the image survive.
    expect(Array.from(e).reduce((s, v) => s + v, 0)).toBe((w - 2) * (h - 2));
    expect(e[0]).toBe(0);
    expect(e[1 * w + 1]).toBe(1);
  });

  it('takes the lower quantile without interpolation', () => {
    const v = Float64Array.from([5, 1, 4, 2, 3]);
    expect(quantile(v, 0.5)).toBe(3);
    expect(quantile(v, 0.999)).toBe(4);
    expect(quantile(v, 1)).toBe(5);
    expect(quantile(Float64Array.from([1, 2, 3, 4]), 0.5)).toBe(2);
  });
});

describe('nodule descriptors', () => {
  const region = ellipseRegion(200, 160, BOX);

  it('reads a darker nodule as hypoechoic and a brighter one as not', () => {
    const hypo = describeNodule(frameWith(BOX, (_x, _y, b) => Math.round(b * 0.45)), region);
    const hyper = describeNodule(frameWith(BOX, (_x, _y, b) => Math.min(255, Math.round(b * 1.4))), region);
    expect(hypo?.echo).toBeLessThan(-0.5);
    expect(hyper?.echo).toBeGreaterThan(0.2);
  });

  it('counts the anechoic part of a mixed nodule', () => {
    // Left half fluid (near black), right half tissue-like.
    const mixed = describeNodule(frameWith(BOX, (x, _y, b) => (x < 100 ? 8 : b)), region);
    const solid = describeNodule(frameWith(BOX, (_x, _y, b) => b), region);
    expect(mixed?.dark).toBeGreaterThan(0.3);
    expect(solid?.dark).toBe(0);
  });

  it('sees bright punctate foci inside the nodule', () => {
    const plain = describeNodule(frameWith(BOX, (_x, _y, b) => Math.round(b * 0.6)), region);
    const dotted = describeNodule(frameWith(BOX, (x, y, b) => (x % 12 === 0 && y % 10 === 0 ? 250 : Math.round(b * 0.6))), region);
    expect((dotted?.foci ?? 0) - (plain?.foci ?? 0)).toBeGreaterThan(0.3);
    expect(dotted?.bright ?? 0).toBeGreaterThan(plain?.bright ?? 0);
  });

  it('measures taller-than-wide from the region, and a sharp margin as a strong edge', () => {
    const tallBox: Corners = { x0: 80, y0: 20, x1: 120, y1: 140 };
    const tall = describeNodule(frameWith(tallBox, (_x, _y, b) => Math.round(b * 0.5)), ellipseRegion(200, 160, tallBox));
    expect(tall?.taller).toBeGreaterThan(0.9);
    const wide = describeNodule(frameWith(BOX, (_x, _y, b) => Math.round(b * 0.5)), region);
    expect(wide?.taller).toBeLessThan(0);
    expect(wide?.edge).toBeGreaterThan(1);
  });

  it('returns null for an empty region; the inscribed ellipse covers about pi/4 of its box', () => {
    expect(describeNodule(frameWith(BOX, (_x, _y, b) => b), { width: 200, height: 160, mask: new Uint8Array(200 * 160) })).toBeNull();
    const area = region.mask.reduce((s, v) => s + v, 0);
    expect(Math.abs(area / (80 * 60) - Math.PI / 4)).toBeLessThan(0.01);
    expect(region.mask[80 * 200 + 100]).toBe(1);
    expect(region.mask[50 * 200 + 60]).toBe(0);
  });

  it('measures a region that touches the frame border (its window is clipped there)', () => {
    // That the window gives the whole frame's values is checked against Python, which measures the whole
    // frame, by the parity test (triage.model.test.ts).
    const edgeBox: Corners = { x0: 0, y0: 30, x1: 50, y1: 90 };
    const g = frameWith(edgeBox, (_x, _y, b) => Math.round(b * 0.5));
    const d = describeNodule(g, ellipseRegion(200, 160, edgeBox));
    expect(d?.echo).toBeLessThan(-0.4);
    expect(Object.values(d ?? {}).every(Number.isFinite)).toBe(true);
  });
});
