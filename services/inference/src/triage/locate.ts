/**
 * Finding the nodule in a whole ultrasound region before scoring it. The model was trained on crops
 * around one nodule (DDTI), so scoring a whole frame would be out of its training distribution.
 *
 * The model segments as well as it scores, so its own outline output is the locator:
 *   1. windows over the region at two scales (the whole region; squares of half its short side at half
 *      a window's stride) are scored in one batch;
 *   2. each window whose outline is non-empty proposes the outline's box (in image coordinates),
 *      ranked by how confident the outline is (mean mask value inside it); overlapping proposals are
 *      merged (IoU >= 0.3) and the MAX_CANDIDATES best kept;
 *   3. each kept proposal is re-cropped as the training crops were framed (nodule about 60% of the
 *      crop side, i.e. CONTEXT x its extent, square, kept inside the region) and scored again;
 *   4. the most suspicious re-cropped candidate with a non-empty outline is the frame's finding. When
 *      no window outlines anything, the most suspicious window is kept and marked `located: false`.
 * Why one candidate ranked by outline confidence, not the most suspicious of several: on the DDTI
 * crops (locator.eval.cli.ts) keeping the maximum probability over 3 candidates pushed scores up
 * (median +0.02) and specificity at the triage threshold from 0.32 to 0.02, while the most confident
 * outline kept the score distribution and doubled the box overlap with the radiologist's outline.
 * "Most suspicious" is applied across frames and images instead (see docs/model-card.md, "Serving on
 * whole frames").
 */
import type { Box, NodulePrediction, Preprocessed } from '@yunying/nodule-model';
import type { Rect } from './region';
import { crop } from './region';

/** What the locator needs of the model (NoduleModel has it); a fake in unit tests. */
export interface CropModel {
  preprocess(gray: Uint8Array, width: number, height: number): Preprocessed;
  predictPreprocessed(inputs: readonly Preprocessed[]): Promise<NodulePrediction[]>;
}

export const WINDOW_SCALES = [1, 0.5] as const;
export const MAX_CANDIDATES = 1;
export const RANK: 'outline' | 'probability' = 'outline';
export const CONTEXT = 1.7;
export const MIN_CROP_SIDE = 24;
export const OUTLINE_POINTS = 24;

export interface Finding {
  probability: number;
  prediction: NodulePrediction;
  /** The crop that was scored, in image coordinates. */
  crop: Rect;
  /** The outlined nodule's bounding box in image coordinates (the crop when nothing was outlined). */
  box: Rect;
  /** Closed outline, image coordinates, (0,0) = top-left corner of the top-left pixel; empty when none. */
  outline: [number, number][];
  located: boolean;
  /** Model runs spent on this frame (windows + re-crops). */
  modelRuns: number;
}

/** Window rectangles covering `region`: the region itself, then squares at each smaller scale. */
export function windowsFor(region: Rect): Rect[] {
  const out: Rect[] = [];
  for (const scale of WINDOW_SCALES) {
    if (scale >= 1) {
      out.push({ x: region.x, y: region.y, width: region.width, height: region.height });
      continue;
    }
    const side = Math.round(Math.min(region.width, region.height) * scale);
    if (side < MIN_CROP_SIDE) continue;
    const stride = Math.max(1, Math.floor(side / 2));
    const xs = positions(region.x, region.width, side, stride);
    const ys = positions(region.y, region.height, side, stride);
    for (const y of ys) for (const x of xs) out.push({ x, y, width: side, height: side });
  }
  return out;
}

/** Start positions of `side`-long windows over [start, start+length), the last one flush with the end. */
function positions(start: number, length: number, side: number, stride: number): number[] {
  const out: number[] = [];
  for (let p = 0; p + side <= length; p += stride) out.push(start + p);
  const last = start + length - side;
  if (out[out.length - 1] !== last && last >= start) out.push(last);
  return out;
}

export function iou(a: Rect, b: Rect): number {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width);
  const y1 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

function offset(box: Box, by: Rect): Rect {
  return { x: by.x + box.x, y: by.y + box.y, width: box.width, height: box.height };
}

/** A square crop framing `box` like the training crops, kept inside `region`. */
export function contextCrop(box: Rect, region: Rect): Rect {
  const limit = Math.min(region.width, region.height);
  const side = Math.min(limit, Math.max(MIN_CROP_SIDE, Math.round(Math.max(box.width, box.height) * CONTEXT)));
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const x = Math.min(Math.max(Math.round(cx - side / 2), region.x), region.x + region.width - side);
  const y = Math.min(Math.max(Math.round(cy - side / 2), region.y), region.y + region.height - side);
  return { x, y, width: side, height: side };
}

/** A radial outline of the mask (>= 0.5) around its centroid, mapped to image coordinates. */
export function outlinePoints(mask: Float32Array, size: number, at: Rect, preprocessed: Preprocessed): [number, number][] {
  let sx = 0;
  let sy = 0;
  let n = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if ((mask[y * size + x] ?? 0) >= 0.5) {
        sx += x + 0.5;
        sy += y + 0.5;
        n++;
      }
    }
  }
  if (n === 0) return [];
  const cx = sx / n;
  const cy = sy / n;
  const inside = (x: number, y: number): boolean => {
    const ix = Math.floor(x);
    const iy = Math.floor(y);
    return ix >= 0 && iy >= 0 && ix < size && iy < size && (mask[iy * size + ix] ?? 0) >= 0.5;
  };
  const { scale, left, top } = preprocessed.geometry;
  const points: [number, number][] = [];
  for (let k = 0; k < OUTLINE_POINTS; k++) {
    const angle = (2 * Math.PI * k) / OUTLINE_POINTS;
    const dx = Math.cos(angle);
    const dy = Math.sin(angle);
    let r = 0;
    while (r < size && inside(cx + (r + 0.5) * dx, cy + (r + 0.5) * dy)) r += 0.5;
    const mx = cx + r * dx;
    const my = cy + r * dy;
    const ix = Math.min(Math.max(at.x + mx * scale - left, at.x), at.x + at.width);
    const iy = Math.min(Math.max(at.y + my * scale - top, at.y), at.y + at.height);
    points.push([round2(ix), round2(iy)]);
  }
  const first = points[0];
  if (first) points.push([first[0], first[1]]);
  return points;
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

/** Finds and scores the most suspicious nodule candidate of one 8-bit gray frame inside `region`. */
export interface LocateOptions {
  /** How many proposals are re-cropped and scored (the most suspicious of them is kept). */
  maxCandidates?: number;
  /** Which proposals go first: the most confident outline, or the most suspicious window. */
  rank?: 'outline' | 'probability';
}

/** Mean mask value over the outlined pixels: how sure the segmenter is that it sees a nodule. */
export function outlineConfidence(mask: Float32Array): number {
  let sum = 0;
  let n = 0;
  for (const m of mask) {
    if (m >= 0.5) {
      sum += m;
      n++;
    }
  }
  return n === 0 ? 0 : sum / n;
}

export async function locateNodule(model: CropModel, gray: Uint8Array, width: number, region: Rect, options: LocateOptions = {}): Promise<Finding> {
  const maxCandidates = options.maxCandidates ?? MAX_CANDIDATES;
  const rank = options.rank ?? RANK;
  const windows = windowsFor(region);
  const windowInputs = windows.map((w) => model.preprocess(crop(gray, width, w), w.width, w.height));
  const windowPredictions = await model.predictPreprocessed(windowInputs);

  type Proposal = { box: Rect; probability: number; confidence: number };
  const proposals: Proposal[] = [];
  let bestWindow = 0;
  windowPredictions.forEach((p, i) => {
    if (p.probability > (windowPredictions[bestWindow]?.probability ?? -1)) bestWindow = i;
    const w = windows[i];
    if (w && p.outline.box) proposals.push({ box: offset(p.outline.box, w), probability: p.probability, confidence: outlineConfidence(p.outline.mask) });
  });
  proposals.sort((a, b) => (rank === 'outline' ? b.confidence - a.confidence : b.probability - a.probability));
  const kept: Proposal[] = [];
  for (const p of proposals) {
    if (kept.length >= maxCandidates) break;
    if (kept.every((k) => iou(k.box, p.box) < 0.3)) kept.push(p);
  }

  const crops = kept.map((k) => contextCrop(k.box, region));
  const cropInputs = crops.map((c) => model.preprocess(crop(gray, width, c), c.width, c.height));
  const cropPredictions = await model.predictPreprocessed(cropInputs);
  const modelRuns = windows.length + crops.length;

  let best: Finding | null = null;
  cropPredictions.forEach((p, i) => {
    const at = crops[i];
    const input = cropInputs[i];
    if (!at || !input || !p.outline.box) return;
    if (best !== null && p.probability <= best.probability) return;
    best = {
      probability: p.probability,
      prediction: p,
      crop: at,
      box: offset(p.outline.box, at),
      outline: outlinePoints(p.outline.mask, p.outline.size, at, input),
      located: true,
      modelRuns,
    };
  });
  if (best !== null) return best;

  const w = windows[bestWindow];
  const p = windowPredictions[bestWindow];
  if (!w || !p) throw new Error('no window was scored');
  return { probability: p.probability, prediction: p, crop: w, box: w, outline: [], located: false, modelRuns };
}
