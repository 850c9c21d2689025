/**
 * One stored instance -> what the triage model sees in it: parse, decode the sampled frames (a cine
 * loop: at most MAX_FRAMES, evenly spaced, middle included), skip colour-Doppler frames, then per
 * frame the scope-gate probability and the nodule candidates (restricted to the B-mode region named by
 * SequenceOfUltrasoundRegions when the device sent one). Runs inside a worker thread; pure apart from
 * the model. The same function serves the worker and `npm run eval:triage`.
 *
 * Errors: a PixelDecodeError (corrupt or undecodable pixel data) or PermanentError (model input or
 * output mismatch) propagates and fails the image permanently; an image without pixel data or with
 * colour frames only is `not_usable` with a reason.
 */
import { decodeFrame, parseInstance, sampleFrameIndices, toGray8, toRgb8 } from '@yunying/dicom';
import type { Corners, NoduleFinding, ScopeAttributes, TriageModel } from '@yunying/nodule-model';
import { pixelSizeMm, scopeAttributes } from '@yunying/nodule-model';
import { regionFromSequence } from './region';

export const MAX_FRAMES = 8;

export interface FrameSummary {
  /** 1-based, as in WADO-RS frame URLs and ReferencedFrameNumber. */
  frameNumber: number;
  thyroid: number;
  /** Score of the frame's chosen confident nodule; null when it has none. */
  score: number | null;
}

export type ImageAnalysis =
  | {
      status: 'analysed';
      sopInstanceUid: string;
      rows: number;
      columns: number;
      numberOfFrames: number;
      scope: ScopeAttributes;
      /** Median P(B-mode thyroid frame) over the analysed frames. */
      thyroid: number;
      colourFrames: number;
      /** The frame whose chosen nodule scored highest, with its confident nodules; null when none was confident. */
      best: { frameNumber: number; nodules: NoduleFinding[] } | null;
      frames: FrameSummary[];
      /** Candidates found but below the confidence threshold, over all frames (a "no nodule" is not a silent one). */
      unconfidentCandidates: number;
      inferenceMs: number;
    }
  | { status: 'not_usable'; sopInstanceUid: string; reason: string; scope: ScopeAttributes | null; inferenceMs: number };

/** Share of pixels whose RGB channels differ by more than 40: colour flow, colour overlays. */
export function colourFraction(rgb: Uint8Array, pixels: number): number {
  let n = 0;
  for (let p = 0; p < pixels; p++) {
    const r = rgb[3 * p] ?? 0;
    const g = rgb[3 * p + 1] ?? 0;
    const b = rgb[3 * p + 2] ?? 0;
    if (Math.max(r, g, b) - Math.min(r, g, b) > 40) n++;
  }
  return pixels > 0 ? n / pixels : 0;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

export async function analyseInstance(model: TriageModel, bytes: Uint8Array, maxFrames = MAX_FRAMES): Promise<ImageAnalysis> {
  const started = performance.now();
  const parsed = parseInstance(bytes);
  const json = parsed.dicomJson;
  const scope = scopeAttributes(json);
  const frameCount = parsed.frames.length;
  if (frameCount === 0) return { status: 'not_usable', sopInstanceUid: parsed.sopInstanceUid, reason: 'the instance has no pixel data', scope, inferenceMs: 0 };
  const { candidates: rules, gate } = model.manifest;
  const mm = pixelSizeMm(json);
  const thyroid: number[] = [];
  const frames: FrameSummary[] = [];
  let best: { frameNumber: number; score: number; nodules: NoduleFinding[] } | null = null;
  let colourFrames = 0;
  let unconfident = 0;
  let width = 0;
  let height = 0;
  for (const index of sampleFrameIndices(frameCount, maxFrames)) {
    const frame = await decodeFrame(bytes, parsed, index);
    width = frame.width;
    height = frame.height;
    if (frame.samplesPerPixel === 3 && colourFraction(toRgb8(frame).data, frame.width * frame.height) > gate.colourFractionMax) {
      colourFrames++;
      continue;
    }
    const gray = toGray8(frame);
    const region = regionFromSequence(json, gray.width, gray.height);
    const inside: Corners[] | undefined = region ? [{ x0: region.x, y0: region.y, x1: region.x + region.width, y1: region.y + region.height }] : undefined;
    const analysis = await model.analyseFrame(gray, inside);
    thyroid.push(analysis.thyroid);
    unconfident += analysis.candidates.length - analysis.confident.length;
    // The frame's nodule: the most confident one, or the most suspicious confident one (manifest).
    const ranked = rules.aggregation === 'max-score' ? [...analysis.confident].sort((a, b) => b.score - a.score) : analysis.confident;
    const chosen = ranked[0];
    frames.push({ frameNumber: index + 1, thyroid: round4(analysis.thyroid), score: chosen ? round4(chosen.score) : null });
    if (chosen && (best === null || chosen.score > best.score)) {
      best = { frameNumber: index + 1, score: chosen.score, nodules: ranked.map((c, i) => model.finding(c, i + 1, 'auto', mm)) };
    }
  }
  const inferenceMs = performance.now() - started;
  if (thyroid.length === 0) {
    return { status: 'not_usable', sopInstanceUid: parsed.sopInstanceUid, reason: `colour-Doppler or colour-overlay frames only (${colourFrames} sampled)`, scope, inferenceMs };
  }
  return {
    status: 'analysed',
    sopInstanceUid: parsed.sopInstanceUid,
    rows: height,
    columns: width,
    numberOfFrames: frameCount,
    scope,
    thyroid: round4(median(thyroid)),
    colourFrames,
    best: best ? { frameNumber: best.frameNumber, nodules: best.nodules } : null,
    frames,
    unconfidentCandidates: unconfident,
    inferenceMs,
  };
}

const round4 = (v: number): number => Math.round(v * 10000) / 10000;
