import type { Logger } from '@yunying/core';
import type { PatientIndexer } from './patient-indexer';

/** How often the viewer files newly received studies under a person (priors also index on read). */
export const SWEEP_INTERVAL_MS = 30_000;

/**
 * Runs the patient index over pending studies now and then every interval; one run at a time per process
 * (replicas serialize on the index lock). Errors are logged without study or patient data and retried on
 * the next tick. Returns the stop function for the lifecycle.
 */
export function startPatientIndexSweep(indexer: PatientIndexer, logger: Logger, intervalMs = SWEEP_INTERVAL_MS): () => Promise<void> {
  let running: Promise<void> | null = null;
  const tick = (): void => {
    if (running !== null) return;
    running = indexer
      .indexPending()
      .then((n) => {
        if (n > 0) logger.info({ indexed: n }, 'patient index: studies filed');
      })
      .catch((error: unknown) => logger.error({ err: error instanceof Error ? error.name : 'unknown' }, 'patient index sweep failed'))
      .finally(() => {
        running = null;
      });
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  tick();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
