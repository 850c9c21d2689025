/**
 * One stored instance -> its most suspicious finding: parse, decode the sampled frames (a cine loop:
 * at most MAX_FRAMES, evenly spaced, middle included), render 8-bit gray, restrict to the ultrasound
 * region, locate and score. Runs inside a worker thread (triage.thread.ts); pure apart from the model.
 *
 * Errors: a PixelDecodeError (corrupt or undecodable pixel data) or PermanentError (model input or
 * output mismatch) propagates and fails the image permanently; an image that decodes but shows no
 * usable ultrasound region is `not_usable` with a reason.
 */
import { decodeFrame, parseInstance, sampleFrameIndices, toGray8 } from '@yunying/dicom';
import type { DescriptorValue } from '@yunying/nodule-model';
import type { CropModel } from './locate';
import { locateNodule } from './locate';
import type { Rect, UltrasoundRegion } from './region';
import { ultrasoundRegion } from './region';

export const MAX_FRAMES = 8;

export interface FrameFinding {
  /** 1-based, as in WADO-RS frame URLs and ReferencedFrameNumber. */
  frameNumber: number;
  score: number;
  descriptors: DescriptorValue[];
  region: UltrasoundRegion;
  crop: Rect;
  box: Rect;
  outline: [number, number][];
  located: boolean;
}

export type ImageAnalysis =
  | {
      status: 'scored';
      sopInstanceUid: string;
      rows: number;
      columns: number;
      numberOfFrames: number;
      best: FrameFinding;
      /** Every sampled frame's score (the viewer's "jump to frame"). */
      frameScores: { frameNumber: number; score: number }[];
      modelRuns: number;
      inferenceMs: number;
    }
  | { status: 'not_usable'; sopInstanceUid: string; reason: string; inferenceMs: number };

export async function analyseInstance(model: CropModel, bytes: Uint8Array, maxFrames = MAX_FRAMES): Promise<ImageAnalysis> {
  const started = performance.now();
  const parsed = parseInstance(bytes);
  const frameCount = parsed.frames.length;
  if (frameCount === 0) return { status: 'not_usable', sopInstanceUid: parsed.sopInstanceUid, reason: 'the instance has no pixel data', inferenceMs: 0 };
  let best: FrameFinding | null = null;
  const frameScores: { frameNumber: number; score: number }[] = [];
  let modelRuns = 0;
  let noRegion = 0;
  let width = 0;
  let height = 0;
  for (const index of sampleFrameIndices(frameCount, maxFrames)) {
    const frame = await decodeFrame(bytes, parsed, index);
    const gray = toGray8(frame);
    width = gray.width;
    height = gray.height;
    const region = ultrasoundRegion(parsed.dicomJson, gray.data, gray.width, gray.height);
    if (region === null) {
      noRegion++;
      continue;
    }
    const finding = await locateNodule(model, gray.data, gray.width, region);
    modelRuns += finding.modelRuns;
    frameScores.push({ frameNumber: index + 1, score: finding.probability });
    if (best === null || finding.probability > best.score) {
      best = {
        frameNumber: index + 1,
        score: finding.probability,
        descriptors: finding.prediction.descriptors,
        region,
        crop: finding.crop,
        box: finding.box,
        outline: finding.outline,
        located: finding.located,
      };
    }
  }
  const inferenceMs = performance.now() - started;
  if (best === null) {
    return {
      status: 'not_usable',
      sopInstanceUid: parsed.sopInstanceUid,
      reason: `no ultrasound image area found in ${noRegion} sampled frame(s) (blank, too small or only annotations)`,
      inferenceMs,
    };
  }
  return { status: 'scored', sopInstanceUid: parsed.sopInstanceUid, rows: height, columns: width, numberOfFrames: frameCount, best, frameScores, modelRuns, inferenceMs };
}
