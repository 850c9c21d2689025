import { appendAuditEvent } from '@yunying/audit';
import { inTransaction, type Pool } from '@yunying/catalog';
import { describeError, type Logger } from '@yunying/core';
import type { ReplicatedStore, VerifyResult } from '@yunying/storage';
import { claimDueForScrub, claimNextForPass, markBad, markVerifiedOk, postponeUnreachable, type ClaimedCopy } from './copies.repository';
import { KEEPER_ACTOR } from './keeper.audit';
import type { KeeperMetrics } from './keeper.metrics';
import type { RepairService } from './repair.service';

export interface ScrubOptions {
  pool: Pool;
  store: ReplicatedStore;
  repair: RepairService;
  logger: Logger;
  metrics: KeeperMetrics;
  /** Copies claimed per step. */
  batch: number;
  /** Read rate limit in bytes per second; 0 = unlimited. */
  maxBytesPerSecond: number;
  /** A scheduled tick re-verifies ok copies last verified longer ago than this. */
  cycleSeconds: number;
  /** How long an unreachable copy is left alone before the next look. */
  unreachableRetrySeconds: number;
}

export interface ScrubFinding {
  sha256: string;
  target: string;
  state: 'missing' | 'corrupt';
  problem: string;
  repaired: boolean | null;
}

export interface ScrubSummary {
  verified: number;
  ok: number;
  unreachable: number;
  findings: ScrubFinding[];
  repaired: number;
  bytes: number;
}

/** Spaces reads so the scrubber stays under its byte rate; a deliberate throttle, not a wait for an event. */
class ReadThrottle {
  private readonly started = Date.now();
  private bytes = 0;

  constructor(private readonly bytesPerSecond: number) {}

  async consume(bytes: number): Promise<void> {
    this.bytes += bytes;
    if (this.bytesPerSecond <= 0) return;
    const earliest = this.started + (this.bytes / this.bytesPerSecond) * 1000;
    const wait = earliest - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

function problemOf(result: VerifyResult): { state: 'missing' | 'corrupt'; problem: string } {
  return { state: result.exists ? 'corrupt' : 'missing', problem: result.problems.join('; ') || 'copy not verified' };
}

/**
 * The scrubber (#8): re-verifies copies on a rolling schedule (exists, size, full SHA-256 re-read; the lock
 * mode and retain-until on S3, the read-only mode and retention record on fs), records when each copy was
 * last verified, and hands a missing or corrupt copy to the repair service at once. Every finding is a
 * 'Security Alert' audit event and a metric. Claims use a lease under FOR UPDATE SKIP LOCKED, so several
 * ingest processes scrub without verifying one copy twice.
 */
export class Scrubber {
  constructor(private readonly options: ScrubOptions) {}

  /** A scheduled tick: one batch of the copies verified longest ago. */
  async tick(): Promise<ScrubSummary> {
    const summary = emptySummary();
    const throttle = new ReadThrottle(this.options.maxBytesPerSecond);
    const before = new Date(Date.now() - this.options.cycleSeconds * 1000);
    const claimed = await claimDueForScrub(this.options.pool, before, this.options.batch, this.leaseSeconds());
    for (const copy of claimed) await this.scrubOne(copy, summary, throttle, true);
    return summary;
  }

  /** A full pass over every copy now (the admin trigger): `repair: false` only records the findings. */
  async fullPass(options: { repair: boolean }): Promise<ScrubSummary> {
    const summary = emptySummary();
    const throttle = new ReadThrottle(this.options.maxBytesPerSecond);
    let cursor = '0';
    for (;;) {
      const claimed = await claimNextForPass(this.options.pool, cursor, this.options.batch, this.leaseSeconds());
      for (const copy of claimed) {
        await this.scrubOne(copy, summary, throttle, options.repair);
        cursor = copy.id;
      }
      if (claimed.length === 0) return summary;
    }
  }

  private async scrubOne(copy: ClaimedCopy, summary: ScrubSummary, throttle: ReadThrottle, repair: boolean): Promise<void> {
    const { pool, store, logger, metrics } = this.options;
    let result: VerifyResult | undefined;
    try {
      result = await store.verifyCopy(copy.key, copy.target, { sha256: copy.sha256, size: copy.size, retainUntil: copy.retainUntil });
    } catch (error) {
      logger.warn({ replica: copy.target, err: describeError(error) }, 'keeper: verify failed');
    }
    summary.verified += 1;
    await throttle.consume(copy.size);
    metrics.verifiedBytes.inc({ target: copy.target }, copy.size);
    summary.bytes += copy.size;

    if (result === undefined) {
      // The target is down or timed out: nothing is known about the copy, so nothing is recorded as bad.
      summary.unreachable += 1;
      metrics.verified.inc({ target: copy.target, outcome: 'unreachable' });
      await postponeUnreachable(pool, copy.id, this.options.unreachableRetrySeconds);
      return;
    }
    if (result.ok) {
      summary.ok += 1;
      metrics.verified.inc({ target: copy.target, outcome: 'ok' });
      if (copy.state === 'ok') {
        await markVerifiedOk(pool, copy.id);
        return;
      }
      // Recorded bad but good now (a late write landed): the repair path records it with its lock.
    }

    const { state, problem } = result.ok ? { state: copy.state === 'corrupt' ? 'corrupt' as const : 'missing' as const, problem: 'recorded bad, verifies now' } : problemOf(result);
    if (!result.ok) {
      metrics.verified.inc({ target: copy.target, outcome: state });
      await inTransaction(pool, async (client) => {
        await markBad(client, copy.id, state, problem);
        await appendAuditEvent(client, {
          type: 'Security Alert',
          outcome: 4,
          actor: KEEPER_ACTOR,
          studyInstanceUid: copy.studyInstanceUid,
          details: { event: 'copy.bad', sha256: copy.sha256, target: copy.target, state, problem },
        });
      });
      logger.warn({ replica: copy.target, sha256: copy.sha256, state, problem }, 'keeper: bad copy found');
    }
    const finding: ScrubFinding = { sha256: copy.sha256, target: copy.target, state, problem, repaired: null };
    if (!result.ok) summary.findings.push(finding);
    if (!repair) {
      await pool.query('UPDATE copies SET claimed_until = NULL WHERE id = $1', [copy.id]);
      return;
    }
    const outcome = await this.options.repair.repairClaimed({ ...copy, state, repairAttempts: 0 });
    finding.repaired = outcome.repaired;
    if (outcome.repaired) summary.repaired += 1;
  }

  private leaseSeconds(): number {
    return 300;
  }
}

function emptySummary(): ScrubSummary {
  return { verified: 0, ok: 0, unreachable: 0, findings: [], repaired: 0, bytes: 0 };
}
