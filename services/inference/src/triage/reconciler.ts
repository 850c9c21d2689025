/**
 * Redis may lose its contents (a restart without persistence): the catalog is the source of truth. At
 * start and then every interval, stable studies that have no result of the active model for their
 * current instances get their triage job queued again; the deterministic job id makes this a no-op for
 * a study whose job is still in Redis.
 */
import type { Pool } from '@yunying/catalog';
import { describeError, type Logger } from '@yunying/core';
import type { TriageManifest } from '@yunying/nodule-model';
import type { StableStudyService } from './stable.service';
import type { TriageMetrics } from './triage.metrics';
import { untriagedStableStudies } from './triage.repository';

/** Studies that became stable longer ago than this are left alone (see untriagedStableStudies). */
export const RECONCILE_LOOKBACK_SECONDS = 7 * 24 * 3600;
const BATCH = 500;

export class TriageReconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly deps: {
      pool: Pool;
      stable: StableStudyService;
      manifest: TriageManifest;
      quietSeconds: number;
      intervalMs: number;
      metrics: TriageMetrics;
      logger: Logger;
    },
  ) {}

  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), this.deps.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One pass; returns how many jobs were (re-)queued. */
  async reconcile(): Promise<number> {
    const { manifest } = this.deps;
    const studies = await untriagedStableStudies(this.deps.pool, {
      quietSeconds: this.deps.quietSeconds,
      lookbackSeconds: RECONCILE_LOOKBACK_SECONDS,
      modelId: manifest.id,
      modelVersion: manifest.version,
      limit: BATCH,
    });
    for (const study of studies) await this.deps.stable.enqueueTriage(study.studyInstanceUid, study.instanceCount);
    this.deps.metrics.reconcilePasses.inc();
    if (studies.length > 0) {
      this.deps.metrics.reconciled.inc(studies.length);
      this.deps.logger.info({ studies: studies.length }, 'reconciler queued triage for stable studies without a result');
    }
    return studies.length;
  }

  private tick(): void {
    if (this.running) return;
    this.running = this.reconcile()
      .then(() => undefined)
      .catch((error: unknown) => this.deps.logger.warn({ err: describeError(error) }, 'triage reconciliation failed; will retry'))
      .finally(() => {
        this.running = undefined;
      });
  }
}
