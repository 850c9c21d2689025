/**
 * One stored instance -> what the triage model sees in it: parse, decode the sampled frames (a cine
 * loop: at most MAX_FRAMES, evenly spaced, middle included), skip colour-Doppler frames, then per
 * frame the scope-gate probability and the nodule candidates (restricted to the B-mode region named by
 * SequenceOfUltrasoundRegions when the device sent one). When the sonographer's calipers are on a frame
 * (calipers.ts), their marks are painted out and the nodules they measure are that frame's candidates,
 * scored as named boxes; the finder's candidates stand for frames without calipers. Colour overlays on a
 * frame under the Doppler limit are painted out before the finder (overlay.ts). Runs inside a
 * worker thread; pure apart from the model. The same function serves the worker and `npm run eval:triage`.
 *
 * Errors: a PixelDecodeError (corrupt or undecodable pixel data) or PermanentError (model input or
 * output mismatch) propagates and fails the image permanently; an image without pixel data or with
 * colour frames only is `not_usable` with a reason.
 */
import { decodeFrame, parseInstance, sampleFrameIndices, toGray8, toRgb8 } from '@yunying/dicom';
import type { AiFrameView, Corners, NoduleFinding, ScopeAttributes, TriageModel } from '@yunying/nodule-model';
import { pixelSizeMm, scopeAttributes } from '@yunying/nodule-model';
import { findCalipers, paintOutMarks } from './calipers';
import { colourFraction, removeColourOverlays } from './overlay';
import { regionFromSequence, ultrasoundRegion } from './region';

export const MAX_FRAMES = 8;

/** One sampled frame as the AI result stores it (the wire contract's AiFrameView). */
export type FrameSummary = AiFrameView;

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
    const rgb = frame.samplesPerPixel === 3 ? toRgb8(frame).data : null;
    const colour = rgb ? colourFraction(rgb, frame.width * frame.height) : 0;
    if (colour > gate.colourFractionMax) {
      colourFrames++;
      continue;
    }
    const region = regionFromSequence(json, frame.width, frame.height);
    const inside: Corners[] | undefined = region ? [{ x0: region.x, y0: region.y, x1: region.x + region.width, y1: region.y + region.height }] : undefined;
    const scanned = toGray8(frame);
    // Calipers only count inside the image area (the device's region, else the pixel heuristic).
    const area = ultrasoundRegion(json, scanned.data, scanned.width, scanned.height);
    const imageArea = area ? { x0: area.x, y0: area.y, x1: area.x + area.width, y1: area.y + area.height } : undefined;
    const calipers = findCalipers(scanned, rgb, imageArea);
    const measured = calipers.boxes.filter((b) => !inside || inside.some((r) => centreWithin(r, b)));
    // Colour overlays under the Doppler limit (text, body markers, coloured lines) are painted out with
    // the tissue around them, then the caliper marks (white or colour) as before (overlay.ts, calipers.ts).
    const cleaned = colour > 0 ? removeColourOverlays(scanned, rgb, imageArea) : scanned;
    const gray = calipers.marks.length > 0 ? paintOutMarks(cleaned, rgb, calipers.marks) : cleaned;
    const analysis = await model.analyseFrame(gray, inside);
    thyroid.push(analysis.thyroid);
    unconfident += analysis.candidates.length - analysis.confident.length;
    // The frame's nodules: those the calipers measure, else the finder's confident ones; most suspicious
    // first (or most confident first, as the manifest says, for the finder's).
    const named = measured.map((b) => model.scoreBox(gray, b)).sort((a, b) => b.score - a.score);
    const ranked = named.length > 0 ? named : rules.aggregation === 'max-score' ? [...analysis.confident].sort((a, b) => b.score - a.score) : analysis.confident;
    const chosen = ranked[0];
    frames.push({ frameNumber: index + 1, thyroid: round4(analysis.thyroid), score: chosen ? round4(chosen.score) : null });
    if (chosen && (best === null || chosen.score > best.score)) {
      const located = named.length > 0 ? { locatedBy: 'calipers' as const } : {};
      best = { frameNumber: index + 1, score: chosen.score, nodules: ranked.map((c, i) => ({ ...model.finding(c, i + 1, 'auto', mm), ...located })) };
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

function centreWithin(r: Corners, b: Corners): boolean {
  const x = (b.x0 + b.x1) / 2;
  const y = (b.y0 + b.y1) / 2;
  return x >= r.x0 && x <= r.x1 && y >= r.y0 && y <= r.y1;
}

const round4 = (v: number): number => Math.round(v * 10000) / 10000;
