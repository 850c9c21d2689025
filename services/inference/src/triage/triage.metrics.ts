import type { Registry } from 'prom-client';
import { counter, gauge, histogram } from '@yunying/http';

export type JobOutcome = 'triaged' | 'no_nodule_found' | 'not_triaged' | 'failed' | 'retry' | 'duplicate' | 'superseded' | 'gone';

/** yunying_triage_*: jobs by outcome, study-stable -> result latency, model time per image. */
export function triageMetrics(registry: Registry) {
  return {
    jobs: counter(registry, 'yunying_triage_jobs_total', 'Triage jobs by outcome', ['outcome']),
    // Which process holds a job now (several inference processes share one queue).
    running: gauge(registry, 'yunying_triage_jobs_running', 'Triage jobs being processed by this process now'),
    stableToResult: histogram(registry, 'yunying_triage_stable_to_result_seconds', 'From study stable (last arrival + quiet period) to stored result', [], [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900]),
    inference: histogram(registry, 'yunying_triage_inference_seconds', 'Decode + locate + score time per image (all sampled frames)', [], [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30]),
    announcements: counter(registry, 'yunying_triage_announcements_total', 'study.announced jobs by decision', ['decision']),
    reconciled: counter(registry, 'yunying_triage_reconciled_total', 'Triage jobs re-queued by the reconciler'),
    reconcilePasses: counter(registry, 'yunying_triage_reconcile_passes_total', 'Completed reconciler passes'),
  };
}

export type TriageMetrics = ReturnType<typeof triageMetrics>;
