/**
 * The shape of a triage result as stored in ai_results (and read by the viewer). `images` is ordered
 * most suspicious first: images[0] is the image the study score comes from when status is 'triaged'.
 */
import type { DescriptorValue, ModelManifest, TriageLevel } from '@yunying/nodule-model';
import type { Rect, UltrasoundRegion } from './region';
import type { Priority } from './triage.repository';

export type ImageEntry =
  | {
      status: 'scored';
      sopInstanceUid: string;
      seriesInstanceUid: string;
      sopClassUid: string;
      /** Calibrated P(TI-RADS >= 4) of the most suspicious candidate over the sampled frames. */
      score: number;
      category: TriageLevel;
      /** 1-based frame the score comes from. */
      frameNumber: number;
      numberOfFrames: number;
      rows: number;
      columns: number;
      /** Where the model looked, in image pixels ((0,0) = top-left corner of the top-left pixel). */
      region: UltrasoundRegion;
      crop: Rect;
      /** The outlined nodule's box; the crop itself when `located` is false. */
      box: Rect;
      /** Closed polygon [x, y][] around the nodule; empty when nothing was outlined. */
      outline: [number, number][];
      located: boolean;
      descriptors: DescriptorValue[];
      frameScores: { frameNumber: number; score: number }[];
      inferenceMs: number;
    }
  | {
      status: 'not_usable' | 'failed' | 'skipped';
      sopInstanceUid: string;
      seriesInstanceUid: string;
      sopClassUid: string;
      reason: string;
    };

export type ScoredImage = Extract<ImageEntry, { status: 'scored' }>;

export function priorityFor(level: TriageLevel): Priority {
  switch (level) {
    case 'urgent':
      return 'urgent';
    case 'flagged':
      return 'priority';
    case 'routine':
      return 'routine';
  }
}

export function thresholdsOf(manifest: ModelManifest): { triage: { value: number; rule: string }; urgent: { value: number; rule: string } } {
  return {
    triage: { value: manifest.thresholds.triage.value, rule: manifest.thresholds.triage.rule },
    urgent: { value: manifest.thresholds.urgent.value, rule: manifest.thresholds.urgent.rule },
  };
}
