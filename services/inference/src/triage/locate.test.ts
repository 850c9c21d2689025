import type { NodulePrediction, Preprocessed } from '@yunying/nodule-model';
import { outlineBox, preprocessGray } from '@yunying/nodule-model';
import type { CropModel } from './locate';
import { contextCrop, iou, locateNodule, windowsFor } from './locate';

const INPUT = { name: 'image', size: 32, normalisation: { scale: 1 / 255, mean: 0, std: 1 } };

/**
 * A stand-in for the model with known behaviour: the outline is every input pixel darker than 0.25 of
 * full scale, and the probability is the dark fraction of the input (more nodule in view = more
 * suspicious), so the best candidate is the crop that frames the dark blob most tightly.
 */
function fakeModel(): CropModel & { runs: number } {
  const model = {
    runs: 0,
    preprocess: (gray: Uint8Array, width: number, height: number): Preprocessed => preprocessGray(gray, width, height, INPUT),
    predictPreprocessed: (inputs: readonly Preprocessed[]): Promise<NodulePrediction[]> => {
      model.runs += inputs.length;
      return Promise.resolve(
        inputs.map((p) => {
          const mask = p.data.map((v) => (v < 0.25 && v > 0.02 ? 1 : 0));
          const dark = mask.reduce((a, b) => a + b, 0) / mask.length;
          return {
            probability: dark,
            triage: 'routine',
            descriptors: [],
            outline: { mask, size: INPUT.size, box: outlineBox(mask, p.geometry) },
          } satisfies NodulePrediction;
        }),
      );
    },
  };
  return model;
}

function image(width: number, height: number, blob: { cx: number; cy: number; r: number } | null): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = blob !== null && (x - blob.cx) ** 2 + (y - blob.cy) ** 2 <= blob.r ** 2;
      out[y * width + x] = inside ? 30 : 120 + ((x * 7 + y * 3) % 60);
    }
  }
  return out;
}

describe('nodule locator', () => {
  it('covers the region with the whole region plus half-size windows flush with both ends', () => {
    const windows = windowsFor({ x: 10, y: 20, width: 200, height: 100 });
    expect(windows[0]).toEqual({ x: 10, y: 20, width: 200, height: 100 });
    const halves = windows.slice(1);
    expect(halves.every((w) => w.width === 50 && w.height === 50)).toBe(true);
    expect(Math.min(...halves.map((w) => w.x))).toBe(10);
    expect(Math.max(...halves.map((w) => w.x + w.width))).toBe(210);
    expect(Math.max(...halves.map((w) => w.y + w.height))).toBe(120);
    expect(halves).toHaveLength(7 * 3);
  });

  it('frames a box like the training crops and keeps it inside the region', () => {
    const region = { x: 0, y: 0, width: 200, height: 150 };
    expect(contextCrop({ x: 90, y: 60, width: 20, height: 30 }, region)).toEqual({ x: 75, y: 50, width: 51, height: 51 });
    // Near a corner: shifted in, not cut.
    expect(contextCrop({ x: 0, y: 0, width: 20, height: 20 }, region)).toEqual({ x: 0, y: 0, width: 34, height: 34 });
    expect(iou({ x: 0, y: 0, width: 10, height: 10 }, { x: 5, y: 0, width: 10, height: 10 })).toBeCloseTo(50 / 150);
  });

  it('finds the dark blob, scores the re-framed crop and outlines it in image coordinates', async () => {
    const model = fakeModel();
    const gray = image(240, 160, { cx: 170, cy: 60, r: 18 });
    const region = { x: 0, y: 0, width: 240, height: 160 };
    const finding = await locateNodule(model, gray, 240, region);
    expect(finding.located).toBe(true);
    // The box contains the blob centre and is about its size.
    expect(finding.box.x).toBeLessThan(170);
    expect(finding.box.x + finding.box.width).toBeGreaterThan(170);
    expect(finding.box.y).toBeLessThan(60);
    expect(finding.box.y + finding.box.height).toBeGreaterThan(60);
    expect(finding.box.width).toBeGreaterThan(25);
    expect(finding.box.width).toBeLessThan(50);
    // Re-framing beats every window: the crop is tighter than the whole region.
    expect(finding.crop.width).toBeLessThan(160);
    expect(finding.outline.length).toBeGreaterThan(10);
    const [x0, y0] = finding.outline[0] ?? [0, 0];
    expect(Math.hypot(x0 - 170, y0 - 60)).toBeLessThan(30);
    expect(finding.modelRuns).toBe(model.runs);
  });

  it('falls back to the most suspicious window, unlocated, when nothing is outlined', async () => {
    const finding = await locateNodule(fakeModel(), image(100, 100, null), 100, { x: 0, y: 0, width: 100, height: 100 });
    expect(finding.located).toBe(false);
    expect(finding.outline).toEqual([]);
    expect(finding.box).toEqual(finding.crop);
  });
});
