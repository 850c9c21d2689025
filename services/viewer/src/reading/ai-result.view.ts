import { isAiPriority, isAiResultStatus, type AiResultView } from '@yunying/nodule-model/ai-result-view';
import type { StudyAiResultRow } from './report.repository';

/**
 * A stored triage result as GET /api/studies/{uid}/ai serves it (the wire contract, ai-result.view.ts in
 * @yunying/nodule-model, which the web app reads). The check constraints of ai_results hold status and priority
 * to the contract's values; a row outside them is a schema the contract has not caught up with, so it fails here
 * rather than reaching the reader as an unknown state.
 */
export function aiResultView(r: StudyAiResultRow): AiResultView {
  if (!isAiResultStatus(r.status)) throw new Error(`ai_results ${r.id}: status outside the wire contract`);
  if (r.priority !== null && !isAiPriority(r.priority)) throw new Error(`ai_results ${r.id}: priority outside the wire contract`);
  return {
    id: r.id,
    current: r.current,
    model: { id: r.modelId, version: r.modelVersion, sha256: r.modelSha256 },
    instanceCount: r.instanceCount,
    status: r.status,
    reason: r.reason,
    score: r.score,
    category: r.category,
    priority: r.priority,
    thresholds: r.thresholds,
    images: r.images,
    gate: r.gate,
    timings: r.timings,
    createdAt: r.createdAt.toISOString(),
  };
}
