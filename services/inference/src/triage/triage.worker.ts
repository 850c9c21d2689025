/**
 * The handlers of the 'study' and 'triage' queues, typed from the job catalogue; @yunying/jobs
 * (startCatalogueWorkers) runs them and refuses to start if any queue or job of the catalogue has none.
 *
 * Failures: a PermanentError (corrupt pixel data, model mismatch; AppError with retryable false) stores
 * a 'failed' result with its reason and discards the job, so bull fails it at once instead of retrying.
 * Anything else is rethrown and retried with backoff; on the last attempt the failure is stored too. A
 * job error is never swallowed: the handler always rethrows.
 */
import { describeError, isAppError, type Logger } from '@yunying/core';
import type { Handlers } from '@yunying/jobs';
import type { StableStudyService } from './stable.service';
import type { TriageMetrics } from './triage.metrics';
import type { TriageService } from './triage.service';

export function studyHandlers(stable: StableStudyService, metrics: TriageMetrics): Handlers<'study'> {
  return {
    'study.announced': async (job) => {
      const decision = await stable.onAnnounced(job.data);
      metrics.announcements.inc({ decision });
      return decision;
    },
  };
}

export function triageHandlers(triage: TriageService, metrics: TriageMetrics, logger: Logger): Handlers<'triage'> {
  return {
    'triage.run': async (job) => {
      metrics.running.inc();
      try {
        const outcome = await triage.run(job.data);
        metrics.jobs.inc({ outcome });
        return outcome;
      } catch (error) {
        const permanent = isAppError(error) && !error.retryable;
        const attempts = job.opts.attempts ?? 1;
        const last = job.attemptsMade + 1 >= attempts;
        const log = { jobId: job.id, attempt: job.attemptsMade + 1, attempts, err: describeError(error) };
        if (permanent || last) {
          // Messages of AppErrors are written to be shown; others are named only (they may hold internals).
          const reason = isAppError(error) ? error.message : `triage gave up after ${attempts} attempts (${error instanceof Error ? error.name : 'error'})`;
          await triage.recordFailure(job.data, reason);
          if (permanent) await job.discard();
          metrics.jobs.inc({ outcome: 'failed' });
          logger.warn(log, permanent ? 'triage failed permanently' : 'triage failed on its last attempt');
        } else {
          metrics.jobs.inc({ outcome: 'retry' });
          logger.warn(log, 'triage failed; will retry');
        }
        throw error;
      } finally {
        metrics.running.dec();
      }
    },
  };
}
