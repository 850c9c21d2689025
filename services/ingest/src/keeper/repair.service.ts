import { appendAuditEvent } from '@yunying/audit';
import { inTransaction, type Pool } from '@yunying/catalog';
import { describeError, isAppError, type Logger } from '@yunying/core';
import type { CopyReceipt, ReplicatedStore } from '@yunying/storage';
import { claimDueForRepair, goodSources, markRepaired, markRepairFailed, type ClaimedCopy } from './copies.repository';
import { KEEPER_ACTOR } from './keeper.audit';
import type { KeeperMetrics } from './keeper.metrics';

export interface RepairOptions {
  pool: Pool;
  store: ReplicatedStore;
  logger: Logger;
  metrics: KeeperMetrics;
  /** First retry delay; doubles per failed attempt up to 64 times this. */
  retrySeconds: number;
  /** Copies repaired per tick at most. */
  batch?: number;
}

export interface RepairOutcome {
  repaired: boolean;
  reason?: string;
}

export interface RepairPassSummary {
  attempted: number;
  repaired: number;
  failed: number;
}

/**
 * Rebuilds missing and corrupt copies from a verified good one, with the copy's retain-until and legal
 * hold (ReplicatedStore.repairCopy reads the source in full, checks its SHA-256, writes, and verifies the
 * result). The work list is the catalog itself (copies in state missing/corrupt), so nothing is lost when
 * Redis or the process goes away: a copy that failed at write time with quorum 2, or that the scrubber
 * found bad, is retried with backoff until its target is back.
 */
export class RepairService {
  private readonly batch: number;

  constructor(private readonly options: RepairOptions) {
    this.batch = options.batch ?? 100;
  }

  /** One pass over the copies due for repair; `all` ignores the backoff (the admin trigger). */
  async runDue(): Promise<RepairPassSummary> {
    const summary: RepairPassSummary = { attempted: 0, repaired: 0, failed: 0 };
    for (;;) {
      const claimed = await claimDueForRepair(this.options.pool, this.batch, this.leaseSeconds());
      for (const copy of claimed) {
        summary.attempted += 1;
        const outcome = await this.repairClaimed(copy);
        if (outcome.repaired) summary.repaired += 1;
        else summary.failed += 1;
      }
      if (claimed.length < this.batch) return summary;
    }
  }

  /** Repairs one copy whose claim the caller holds; records the outcome and releases the claim. */
  async repairClaimed(copy: ClaimedCopy): Promise<RepairOutcome> {
    const { store, pool, logger, metrics } = this.options;
    const meta = { sha256: copy.sha256, size: copy.size, retainUntil: copy.retainUntil, legalHold: copy.legalHold };
    const catalogued = await goodSources(pool, copy.sha256, copy.target);
    const sources = [...catalogued, ...store.targets.map((t) => t.name).filter((n) => n !== copy.target && !catalogued.includes(n))];
    let receipt: CopyReceipt | null = null;
    let source: string | null = null;
    let lastReason = 'no verified copy to repair from';
    for (const from of sources) {
      try {
        receipt = await store.repairCopy(copy.key, from, copy.target, meta);
        source = from;
        break;
      } catch (error) {
        lastReason = isAppError(error) ? error.message : 'repair failed';
        logger.warn({ replica: copy.target, from, sha256: copy.sha256, err: describeError(error) }, 'keeper: repair attempt failed');
        // The destination is down: trying other sources cannot help now.
        if (isAppError(error) && error.code === 'unavailable' && error.message.includes(`replica ${copy.target}`)) break;
      }
    }

    if (receipt === null || source === null) {
      const delay = Math.min(this.options.retrySeconds * 2 ** copy.repairAttempts, this.options.retrySeconds * 64);
      await markRepairFailed(pool, copy, lastReason, delay);
      metrics.repaired.inc({ target: copy.target, outcome: 'failed' });
      // Audited once per episode, not on every retry of a target that stays down.
      if (copy.repairAttempts === 0) {
        await inTransaction(pool, (client) =>
          appendAuditEvent(client, {
            type: 'Security Alert',
            outcome: 8,
            actor: KEEPER_ACTOR,
            studyInstanceUid: copy.studyInstanceUid,
            details: { event: 'copy.repair-failed', sha256: copy.sha256, target: copy.target, problem: lastReason, retryInSeconds: delay },
          }),
        );
      }
      return { repaired: false, reason: lastReason };
    }

    const done = receipt;
    await inTransaction(pool, async (client) => {
      await markRepaired(client, copy, { versionId: done.versionId, lockMode: done.lockMode, retainUntil: done.retainUntil });
      await appendAuditEvent(client, {
        type: 'Security Alert',
        action: 'U',
        actor: KEEPER_ACTOR,
        studyInstanceUid: copy.studyInstanceUid,
        details: {
          event: 'copy.repaired',
          sha256: copy.sha256,
          target: copy.target,
          from: source,
          previousState: copy.state,
          retainUntil: done.retainUntil.toISOString(),
          legalHold: done.legalHold,
          versionId: done.versionId,
        },
      });
    });
    metrics.repaired.inc({ target: copy.target, outcome: 'repaired' });
    logger.info({ replica: copy.target, from: source, sha256: copy.sha256 }, 'keeper: copy repaired');
    return { repaired: true };
  }

  private leaseSeconds(): number {
    return 300;
  }
}
