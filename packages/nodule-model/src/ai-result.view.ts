/**
 * The wire contract of a stored AI triage result: what services/inference writes to ai_results (its status and
 * priority), and the view services/viewer serves for it at GET /api/studies/{uid}/ai, which the web app reads
 * (services/viewer/web/src/viewer/ai-result.ts). One declaration for the three sides, so a renamed or added field
 * is a compile error on each of them rather than a silently missing value in the AI panel. Type imports only: the
 * web app bundles this module (package subpath `@yunying/nodule-model/ai-result-view`).
 */
import type { NoduleFinding } from './tirads';

export type { NoduleFinding };

/** ai_results.status (its check constraint, migration 1400_triage_scope). */
export const AI_RESULT_STATUSES = ['triaged', 'no_nodule_found', 'not_triaged', 'failed'] as const;
export type AiResultStatus = (typeof AI_RESULT_STATUSES)[number];

/** ai_results.priority and studies.priority: the reading queue's order (migration 0300_reading). */
export const AI_PRIORITIES = ['urgent', 'priority', 'routine'] as const;
export type AiPriority = (typeof AI_PRIORITIES)[number];

export function isAiResultStatus(value: unknown): value is AiResultStatus {
  return typeof value === 'string' && (AI_RESULT_STATUSES as readonly string[]).includes(value);
}

export function isAiPriority(value: unknown): value is AiPriority {
  return typeof value === 'string' && (AI_PRIORITIES as readonly string[]).includes(value);
}

/** One result of the study, newest first in AiResultsView.results. */
export interface AiResultView {
  id: string;
  /** The result the study's queue order comes from (studies.ai_result_ref). */
  current: boolean;
  model: { id: string; version: string; sha256: string };
  /** The study's images triage saw (not SR or SEG). */
  instanceCount: number;
  status: AiResultStatus;
  /** Why not triaged / failed, readable by a person; never patient data. */
  reason: string | null;
  score: number | null;
  category: string | null;
  priority: AiPriority | null;
  /** JSON documents as triage stored them (services/inference/src/triage/result.ts): read defensively, since
   * results of earlier model versions lack newer members. */
  thresholds: unknown;
  /** Per image, most suspicious first: AiImageView[] as current models write it (older results may lack members). */
  images: unknown;
  /** How the scope gate decided; null for results of models before #13. */
  gate: unknown;
  timings: unknown;
  /** ISO 8601. */
  createdAt: string;
}

/** The body of GET /api/studies/{uid}/ai. */
export interface AiResultsView {
  studyInstanceUid: string;
  results: AiResultView[];
}

/** The image a stored per-image entry is about. */
export interface AiImageIds {
  sopInstanceUid: string;
  seriesInstanceUid: string;
  sopClassUid: string;
}

/** One sampled frame of an image. */
export interface AiFrameView {
  /** 1-based, as in WADO-RS frame URLs and ReferencedFrameNumber. */
  frameNumber: number;
  /** P(B-mode thyroid frame). */
  thyroid: number;
  /** Score of the frame's chosen confident nodule; null when it has none. */
  score: number | null;
}

/** An image with a confident nodule: the one the AI panel draws and the report can be filled from. */
export interface AiScoredImageView extends AiImageIds {
  status: 'scored';
  /** Calibrated score of the image's most suspicious confident nodule. */
  score: number;
  category: string;
  /** 1-based frame the nodules were found on. */
  frameNumber: number;
  numberOfFrames: number;
  rows: number;
  columns: number;
  thyroid: number;
  /** The confident nodules on that frame, most suspicious first. */
  nodules: NoduleFinding[];
  /** Box and outline of nodules[0] (kept flat for the SR and older readers). */
  box: { x: number; y: number; width: number; height: number };
  outline: [number, number][];
  frames: AiFrameView[];
  inferenceMs: number;
}

/**
 * One element of ai_results.images. services/inference writes its ImageEntry[] through this type (NewAiResult of
 * @yunying/catalog's ai-results.repository), so what it stores cannot drift from what the viewer and the web app read.
 */
export type AiImageView =
  | AiScoredImageView
  | (AiImageIds & { status: 'no_nodule'; thyroid: number; numberOfFrames: number; frames: AiFrameView[]; inferenceMs: number })
  | (AiImageIds & { status: 'not_usable' | 'failed' | 'skipped'; reason: string });
