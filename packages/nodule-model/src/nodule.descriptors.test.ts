import fs from 'node:fs';
import path from 'node:path';
import { describeUnless, sharedDataDir } from '../../../test/support/skip';
import type { Corners, GrayImage } from './frame.geometry';
import { describePlain, dilate, erode, quantile } from './descriptor.reference';
import { SharedOpenings } from './frame.openings';
import { readGrayImage } from './image.repository';
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

describe('the served descriptors are the plain definitions on the whole frame, value for value', () => {
  const W = 200;
  const H = 160;
  const textured = (x: number, y: number): number => 100 + ((x * 7 + y * 13) % 21) - 10 + ((x * y) % 7);
  const frame = (pixel: (x: number, y: number) => number): GrayImage => {
    const data = new Uint8Array(W * H);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data[y * W + x] = pixel(x, y);
    return { width: W, height: H, data };
  };
  const same = (gray: GrayImage, box: Corners, shared?: SharedOpenings): void => {
    const region = ellipseRegion(gray.width, gray.height, box);
    expect(describeNodule(gray, region, shared)).toEqual(describePlain(gray, region.mask));
  };

  it('inside the frame, at its border, tiny, and filling it (its window is then the whole frame)', () => {
    const g = frame((x, y) => (((x - 100) / 40) ** 2 + ((y - 80) / 30) ** 2 <= 1 ? Math.round(textured(x, y) * 0.5) : textured(x, y)));
    for (const box of [BOX, { x0: 0, y0: 30, x1: 50, y1: 90 }, { x0: 150.5, y0: 100.2, x1: 200, y1: 160 }, { x0: 90, y0: 70, x1: 96, y1: 75 }, { x0: 2, y0: 1, x1: 198, y1: 159 }]) same(g, box);
  });

  it('a region with no tissue around it: the ring falls back to the tissue of the whole frame, then to every pixel', () => {
    // Tissue only inside the region and in a strip at the left edge: nothing within r of the region.
    const box = { x0: 58, y0: 38, x1: 142, y1: 122 };
    const inside = ellipseRegion(W, H, box).mask;
    same(frame((x, y) => (inside[y * W + x] || x < 10 ? textured(x, y) : 0)), box);
    // Nothing but the region has tissue at all.
    same(frame((x, y) => (inside[y * W + x] ? textured(x, y) : 0)), box);
  });

  it('with the top-hat opening shared over a larger box (a candidate and its score region)', () => {
    const g = frame((x, y) => (x % 17 === 0 && y % 11 === 0 ? 250 : textured(x, y)));
    const shared = new SharedOpenings(g.data as Uint8Array, W, H);
    const scoreBox = { x0: 30.4, y0: 20.7, x1: 170.2, y1: 150.9 };
    shared.share(scoreBox);
    for (const box of [scoreBox, { x0: 40, y0: 30, x1: 100, y1: 90 }, { x0: 120.3, y0: 100.1, x1: 170.2, y1: 150.9 }, BOX]) same(g, box, shared);
  });
});

const ddti = sharedDataDir('thyroid/ddti-frames');
describeUnless(ddti ? null : 'shared data folder thyroid/ddti-frames is absent', 'the served descriptors on real DDTI frames', () => {
  it('equal the plain definitions on boxes of every size, alone and sharing an opening', async () => {
    const names = fs.readdirSync(path.join(ddti ?? '', 'images')).sort().filter((_, i) => i % 100 === 0);
    for (const name of names) {
      const g = await readGrayImage(path.join(ddti ?? '', 'images', name));
      const w = g.width;
      const h = g.height;
      const big = { x0: w * 0.05, y0: h * 0.1, x1: w * 0.97, y1: h * 0.9 };
      const shared = new SharedOpenings(Uint8Array.from(g.data), w, h);
      shared.share(big);
      for (const box of [big, { x0: w * 0.3, y0: h * 0.3, x1: w * 0.55, y1: h * 0.7 }, { x0: 0, y0: h * 0.5, x1: w * 0.2, y1: h }]) {
        const region = ellipseRegion(w, h, box);
        const plain = describePlain(g, region.mask);
        expect(describeNodule(g, region)).toEqual(plain);
        expect(describeNodule(g, region, shared)).toEqual(plain);
      }
    }
  }, 120_000);
});
