import fs from 'node:fs';
import path from 'node:path';
import type { Corners } from '@yunying/nodule-model';
import { boxIou, readGrayImage, readRgbImage } from '@yunying/nodule-model';
import { syntheticFrame } from '@yunying/nodule-model/testing';
import { describeUnless, sharedDataDir } from '../../../../test/support/skip';
import { maskBoxes } from '../eval/eval.triage';
import { annotationMask, findCalipers, paintOutMarks } from './calipers';
import { regionFromPixels } from './region';

const YELLOW = [255, 230, 0] as const;

/** Gray as the served path renders RGB (readGrayImage's rule), without decoding the file twice. */
function grayOf(rgb: { data: Uint8Array; width: number; height: number }): { width: number; height: number; data: Uint8Array } {
  const data = new Uint8Array(rgb.width * rgb.height);
  for (let p = 0; p < data.length; p++) data[p] = Math.round(0.299 * (rgb.data[3 * p] ?? 0) + 0.587 * (rgb.data[3 * p + 1] ?? 0) + 0.114 * (rgb.data[3 * p + 2] ?? 0));
  return { width: rgb.width, height: rgb.height, data };
}

/** A frame as a scanner sends it after measuring: gray (and RGB) with '+' marks burned in. */
function withMarks(gray: Uint8Array, w: number, points: [number, number][], colour: 'yellow' | 'white', arm = 4): { gray: Uint8Array; rgb: Uint8Array } {
  const g = new Uint8Array(gray);
  const rgb = new Uint8Array(g.length * 3);
  for (let p = 0; p < g.length; p++) rgb.fill(g[p] ?? 0, 3 * p, 3 * p + 3);
  for (const [cx, cy] of points) {
    for (let d = -arm; d <= arm; d++) {
      for (const p of [Math.round(cy) * w + Math.round(cx) + d, (Math.round(cy) + d) * w + Math.round(cx)]) {
        if (colour === 'white') {
          g[p] = 255;
          rgb.fill(255, 3 * p, 3 * p + 3);
        } else {
          rgb.set(YELLOW, 3 * p);
          g[p] = Math.round(0.299 * YELLOW[0] + 0.587 * YELLOW[1] + 0.114 * YELLOW[2]);
        }
      }
    }
  }
  return { gray: g, rgb };
}

/** Width and height diameters through the box's centre: where a sonographer puts the four marks. */
const diameterEnds = (b: Corners): [number, number][] => [
  [b.x0, (b.y0 + b.y1) / 2],
  [b.x1 - 1, (b.y0 + b.y1) / 2],
  [(b.x0 + b.x1) / 2, b.y0],
  [(b.x0 + b.x1) / 2, b.y1 - 1],
];

describe('calipers', () => {
  const W = 320;
  const H = 240;
  const frame = syntheticFrame(W, H);
  const oval: Corners = { x0: 116, y0: 87, x1: 173, y1: 154 };

  it('finds yellow and white "+" calipers and boxes the nodule they measure', () => {
    for (const colour of ['yellow', 'white'] as const) {
      const { gray, rgb } = withMarks(frame.data, W, diameterEnds(oval), colour);
      const found = findCalipers({ width: W, height: H, data: gray }, colour === 'yellow' ? rgb : null);
      expect(found.marks).toHaveLength(4);
      expect(found.boxes).toHaveLength(1);
      expect(boxIou(found.boxes[0] as Corners, oval)).toBeGreaterThan(0.9);
    }
  });

  it('takes one measured diameter as a round nodule, and keeps two measured nodules apart', () => {
    const one = withMarks(frame.data, W, [[100, 120], [160, 120]], 'white');
    const single = findCalipers({ width: W, height: H, data: one.gray }, null);
    expect(single.boxes).toHaveLength(1);
    const b = single.boxes[0] as Corners;
    expect(b.y1 - b.y0).toBeCloseTo(b.x1 - b.x0, 0);
    const two = withMarks(frame.data, W, [[20, 60], [60, 60], [250, 200], [300, 200]], 'white');
    expect(findCalipers({ width: W, height: H, data: two.gray }, null).boxes).toHaveLength(2);
  });

  it('finds nothing on a frame without marks (its bright depth ticks are lines, not crosses) or with too many crosses', () => {
    expect(findCalipers(frame, null).boxes).toEqual([]);
    const grid: [number, number][] = [];
    for (let x = 20; x < 300; x += 40) for (let y = 30; y < 220; y += 60) grid.push([x, y]);
    expect(findCalipers({ width: W, height: H, data: withMarks(frame.data, W, grid, 'white').gray }, null).boxes).toEqual([]);
  });

  it('paints the marks out with the tissue around them, leaving no annotation pixel near a mark', () => {
    const { gray, rgb } = withMarks(frame.data, W, diameterEnds(oval), 'yellow');
    const found = findCalipers({ width: W, height: H, data: gray }, rgb);
    const clean = paintOutMarks({ width: W, height: H, data: gray }, rgb, found.marks);
    const cleanRgb = new Uint8Array(W * H * 3);
    for (let p = 0; p < W * H; p++) cleanRgb.fill(clean.data[p] ?? 0, 3 * p, 3 * p + 3);
    const left = annotationMask(clean, cleanRgb);
    const nearMarks = found.marks.reduce((n, m) => {
      for (let y = Math.round(m.y) - 5; y <= Math.round(m.y) + 5; y++) for (let x = Math.round(m.x) - 5; x <= Math.round(m.x) + 5; x++) n += left[y * W + x] ?? 0;
      return n;
    }, 0);
    expect(found.marks).toHaveLength(4);
    expect(nearMarks).toBe(0);
    // Pixels away from the marks are untouched.
    expect(clean.data[10 * W + 300]).toBe(frame.data[10 * W + 300]);
  });
});

const frames = sharedDataDir('thyroid/ddti-frames');
describeUnless(frames ? null : 'shared data folder thyroid/ddti-frames is absent', 'calipers on real DDTI frames', () => {
  const rows = frames
    ? fs
        .readFileSync(path.join(frames, 'labels.csv'), 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(','))
        .map(([image, mask]) => ({ image: image ?? '', mask: mask ?? '' }))
    : [];

  it('finds no calipers on any of the frames as scanned (DDTI frames carry none)', async () => {
    let found = 0;
    for (const r of rows) {
      const rgb = await readRgbImage(path.join(frames ?? '', r.image));
      if (findCalipers(grayOf(rgb), rgb.data).boxes.length > 0) found++;
    }
    expect(rows.length).toBeGreaterThan(300);
    expect(found).toBe(0);
  }, 300_000);

  it('boxes the outlined nodule when calipers are drawn at its diameters (every 4th frame, one nodule, yellow and white)', async () => {
    let hits = 0;
    let tried = 0;
    for (const [i, r] of rows.entries()) {
      if (i % 4 !== 0) continue;
      const truth = await maskBoxes(path.join(frames ?? '', r.mask));
      const nodule = truth.sort((a, b) => (b.x1 - b.x0) * (b.y1 - b.y0) - (a.x1 - a.x0) * (a.y1 - a.y0))[0];
      if (!nodule) continue;
      const gray = await readGrayImage(path.join(frames ?? '', r.image));
      const marked = withMarks(gray.data, gray.width, diameterEnds(nodule), i % 8 === 0 ? 'yellow' : 'white');
      const found = findCalipers({ width: gray.width, height: gray.height, data: marked.gray }, i % 8 === 0 ? marked.rgb : null);
      tried++;
      if (found.boxes.some((b) => boxIou(b, nodule) >= 0.3)) hits++;
    }
    expect(tried).toBeGreaterThan(80);
    expect(hits / tried).toBeGreaterThanOrEqual(0.9);
  }, 300_000);
});

const others = sharedDataDir('ultrasound-other');
describeUnless(others ? null : 'shared data folder ultrasound-other is absent', 'calipers on other scanners\' frames (ultrasound-other)', () => {
  it('finds boxes only where a sonographer measured: the two frames of 476 with real calipers, none on side-panel graphics', async () => {
    const lines = fs.readFileSync(path.join(others ?? '', 'labels.csv'), 'utf8').trim().split('\n').slice(1);
    const measured: string[] = [];
    for (const line of lines) {
      const image = line.split(',')[0] ?? '';
      if (!fs.existsSync(path.join(others ?? '', image))) continue;
      const rgb = await readRgbImage(path.join(others ?? '', image));
      const gray = grayOf(rgb);
      const area = regionFromPixels(gray.data, gray.width, gray.height);
      const found = findCalipers(gray, rgb.data, area ? { x0: area.x, y0: area.y, x1: area.x + area.width, y1: area.y + area.height } : undefined);
      if (found.boxes.length > 0) measured.push(image);
    }
    expect(lines.length).toBeGreaterThan(400);
    // Both looked at by eye: a yellow '+' pair with a dotted line across a breast lesion, and a white pair on a palette US.
    expect(measured.sort()).toEqual(['images/busi/benign_234.png', 'images/dicom-samples/orthanc-tests_Implicit-vr-us-palette.png']);
  }, 300_000);
});
