/**
 * The shape of a triage result as stored in ai_results (and read by the viewer). `images` is ordered
 * most suspicious first: images[0] is the image the study score comes from when status is 'triaged'.
 */
import type { AiImageView, AiScoredImageView, TriageLevel, TriageManifest } from '@yunying/nodule-model';
import type { GateFacts } from './study.decision';
import type { Priority } from './triage.repository';

/**
 * A scored image as triage writes it: the wire contract's AiScoredImageView (what the viewer and the web app
 * read), its category one of the model's triage levels.
 */
export type ScoredImage = AiScoredImageView & { category: TriageLevel };

/** One element of ai_results.images as triage writes it: the wire contract's AiImageView, defined there once. */
export type ImageEntry = ScoredImage | Exclude<AiImageView, { status: 'scored' }>;

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
