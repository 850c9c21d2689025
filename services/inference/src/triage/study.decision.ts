/**
 * From a study's analysed images to its triage outcome; shared by the worker and `npm run eval:triage`.
 *
 * 1. Scope gate. The attributes decide when they name a body part (clinic mapping first); a study that
 *    names another body part is `not_triaged` without looking at its pixels. Otherwise the images
 *    decide: the median P(B-mode thyroid frame) over the study's analysed images must reach the
 *    manifest's gate threshold. Out of scope -> `not_triaged`, and the queue order never changes.
 * 2. In scope: the study's nodule is the most suspicious confident one over its images. None -> the
 *    study is `no_nodule_found` (routine), which is not the same as out of scope.
 */
import type { ClinicScopeRule, NoduleFinding, ScopeAttributes, TriageLevel, TriageManifest } from '@yunying/nodule-model';
import { decideScope, triageLevel } from '@yunying/nodule-model';
import type { ImageAnalysis } from './analyse';

export type Analysed = Extract<ImageAnalysis, { status: 'analysed' }>;

export type StudyOutcome =
  | { status: 'triaged'; reason: string | null; score: number; level: TriageLevel; best: { image: Analysed; frameNumber: number; nodule: NoduleFinding }; gate: GateFacts }
  | { status: 'no_nodule_found'; reason: string; gate: GateFacts }
  | { status: 'not_triaged'; reason: string; gate: GateFacts | null };

export interface GateFacts {
  decidedBy: 'attributes' | 'image';
  evidence: string;
  /** Median P(thyroid) over analysed images; null when no image could be analysed. */
  thyroid: number | null;
  threshold: number;
}

function mergedScope(images: readonly ImageAnalysis[]): ScopeAttributes {
  const uniq = (f: (s: ScopeAttributes) => string): string => [...new Set(images.map((i) => (i.scope ? f(i.scope) : '')).filter((v) => v.trim() !== ''))].join(' | ');
  return {
    bodyPartExamined: uniq((s) => s.bodyPartExamined),
    anatomicRegion: uniq((s) => s.anatomicRegion),
    descriptions: uniq((s) => s.descriptions),
    procedureCodes: uniq((s) => s.procedureCodes),
  };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

export function decideStudy(images: readonly ImageAnalysis[], manifest: TriageManifest, clinicRules: readonly ClinicScopeRule[] = []): StudyOutcome {
  const threshold = manifest.gate.threshold;
  const scope = decideScope(mergedScope(images), clinicRules);
  const analysed = images.filter((i): i is Analysed => i.status === 'analysed');
  const thyroid = analysed.length > 0 ? Math.round(median(analysed.map((i) => i.thyroid)) * 10000) / 10000 : null;
  if (scope.scope === 'other') {
    return { status: 'not_triaged', reason: `not a thyroid study: ${scope.evidence}`, gate: { decidedBy: 'attributes', evidence: scope.evidence, thyroid, threshold } };
  }
  if (analysed.length === 0 || thyroid === null) {
    const reasons = [...new Set(images.filter((i) => i.status === 'not_usable').map((i) => (i.status === 'not_usable' ? i.reason : '')))];
    return { status: 'not_triaged', reason: `no B-mode ultrasound image to read${reasons.length ? `: ${reasons.join('; ')}` : ''}`, gate: null };
  }
  let gate: GateFacts;
  if (scope.scope === 'thyroid') {
    gate = { decidedBy: 'attributes', evidence: scope.evidence, thyroid, threshold };
  } else {
    gate = { decidedBy: 'image', evidence: `thyroid likelihood ${thyroid.toFixed(2)} (gate ${threshold.toFixed(2)})`, thyroid, threshold };
    if (thyroid < threshold) {
      return {
        status: 'not_triaged',
        reason: `the images do not look like a B-mode thyroid ultrasound (thyroid likelihood ${thyroid.toFixed(2)}, below the gate ${threshold.toFixed(2)}) and the study attributes name no body part`,
        gate,
      };
    }
  }
  let best: { image: Analysed; frameNumber: number; nodule: NoduleFinding } | null = null;
  for (const image of analysed) {
    const nodule = image.best?.nodules[0];
    if (image.best && nodule && (best === null || nodule.score > best.nodule.score)) best = { image, frameNumber: image.best.frameNumber, nodule };
  }
  if (best === null) {
    const seen = analysed.reduce((n, i) => n + i.unconfidentCandidates, 0);
    return {
      status: 'no_nodule_found',
      reason: `no confident nodule on ${analysed.length} image(s)${seen > 0 ? ` (${seen} weak candidate(s) below the confidence threshold ${manifest.candidates.confidenceThreshold})` : ''}`,
      gate,
    };
  }
  const skipped = images.length - analysed.length;
  return {
    status: 'triaged',
    reason: skipped > 0 ? `${skipped} image(s) not read (colour Doppler, no pixel data or failed); scored from the other ${analysed.length}` : null,
    score: best.nodule.score,
    // A nodule boxed by the calipers was scored as a named box: its thresholds apply.
    level: triageLevel(best.nodule.score, manifest, best.nodule.locatedBy === 'calipers' ? 'box' : 'auto'),
    best,
    gate,
  };
}
