/**
 * The shape of a triage result as stored in ai_results (and read by the viewer). `images` is ordered
 * most suspicious first: images[0] is the image the study score comes from when status is 'triaged'.
 */
import type { NoduleFinding, TriageLevel, TriageManifest } from '@yunying/nodule-model';
import type { FrameSummary } from './analyse';
import type { GateFacts } from './study.decision';
import type { Priority } from './triage.repository';

interface ImageIds {
  sopInstanceUid: string;
  seriesInstanceUid: string;
  sopClassUid: string;
}

export type ImageEntry =
  | (ImageIds & {
      status: 'scored';
      /** Calibrated score of the image's most suspicious confident nodule. */
      score: number;
      category: TriageLevel;
      /** 1-based frame the nodules were found on. */
      frameNumber: number;
      numberOfFrames: number;
      rows: number;
      columns: number;
      /** P(B-mode thyroid frame), median over the sampled frames. */
      thyroid: number;
      /** The confident nodules on that frame, most suspicious first (ACR lexicon, points, TR level, outline). */
      nodules: NoduleFinding[];
      /** Box and outline of nodules[0] (kept flat for the SR and older readers). */
      box: { x: number; y: number; width: number; height: number };
      outline: [number, number][];
      frames: FrameSummary[];
      inferenceMs: number;
    })
  | (ImageIds & {
      /** Read, but no confident nodule on any sampled frame. */
      status: 'no_nodule';
      thyroid: number;
      numberOfFrames: number;
      frames: FrameSummary[];
      inferenceMs: number;
    })
  | (ImageIds & { status: 'not_usable' | 'failed' | 'skipped'; reason: string });

export type ScoredImage = Extract<ImageEntry, { status: 'scored' }>;

export interface ResultDetails {
  gate: GateFacts | null;
}

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

export function thresholdsOf(manifest: TriageManifest): { triage: { value: number; rule: string }; urgent: { value: number; rule: string }; gate: { value: number; rule: string } } {
  return {
    triage: { value: manifest.thresholds.triage.value, rule: manifest.thresholds.triage.rule },
    urgent: { value: manifest.thresholds.urgent.value, rule: manifest.thresholds.urgent.rule },
    gate: { value: manifest.gate.threshold, rule: 'median P(B-mode thyroid frame) over the study images, when the attributes name no body part' },
  };
}
