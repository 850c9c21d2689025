import { appendAuditEvent } from '@yunying/audit';
import { inTransaction, type Pool } from '@yunying/catalog';
import { describeError, type Logger } from '@yunying/core';
import type { ReplicatedStore, VerifyResult } from '@yunying/storage';
import {
  claimDueForScrub,
  claimNextForPass,
  markBad,
  markVerifiedOk,
  recordStorageClass,
  postponeUnreachable,
  releaseClaim,
  recordTampering,
  swapProtectionProblems,
  type ClaimedCopy,
} from './copies.repository';
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

/**
 * missing / corrupt: the copy itself is bad (repaired). tampered: something was written at the copy's key
 * after the recorded version (a later version, a delete marker: #17); the recorded version is what reads
 * take, so nothing is repaired, but someone holds a key that can write. unprotected: the target's own
 * protection changed (S3 bucket Object Lock configuration; fs root marker); sha256 is null.
 */
export interface ScrubFinding {
  sha256: string | null;
  target: string;
  state: 'missing' | 'corrupt' | 'tampered' | 'unprotected';
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
  /** Copies verified per storage class (S3; #18 tiering): a transitioned copy is verified like a hot one. */
  storageClasses: Record<string, number>;
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
    await this.checkProtection(summary);
    const claimed = await claimDueForScrub(this.options.pool, before, this.options.batch, this.leaseSeconds());
    for (const copy of claimed) await this.scrubOne(copy, summary, throttle, true);
    return summary;
  }

  /** A full pass over every copy now (the admin trigger): `repair: false` only records the findings. */
  async fullPass(options: { repair: boolean }): Promise<ScrubSummary> {
    const summary = emptySummary();
    const throttle = new ReadThrottle(this.options.maxBytesPerSecond);
    await this.checkProtection(summary);
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
      result = await store.verifyCopy(copy.key, copy.target, { sha256: copy.sha256, size: copy.size, retainUntil: copy.retainUntil, versionId: copy.versionId });
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
      await postponeUnreachable(pool, copy, this.options.unreachableRetrySeconds);
      return;
    }
    await this.noteTampering(copy, result, summary);
    if (result.storageClass !== null && result.exists) {
      summary.storageClasses[result.storageClass] = (summary.storageClasses[result.storageClass] ?? 0) + 1;
      await recordStorageClass(pool, copy, result.storageClass);
    }
    if (result.ok) {
      summary.ok += 1;
      metrics.verified.inc({ target: copy.target, outcome: 'ok' });
      if (copy.state === 'ok') {
        await markVerifiedOk(pool, copy);
        return;
      }
      // Recorded bad but good now (a late write landed): the repair path records it with its lock.
    }

    const { state, problem } = result.ok ? { state: copy.state === 'corrupt' ? 'corrupt' as const : 'missing' as const, problem: 'recorded bad, verifies now' } : problemOf(result);
    if (!result.ok) {
      metrics.verified.inc({ target: copy.target, outcome: state });
      await inTransaction(pool, async (client) => {
        await markBad(client, copy, state, problem);
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
      await releaseClaim(pool, copy);
      return;
    }
    const outcome = await this.options.repair.repairClaimed({ ...copy, state, repairAttempts: 0 });
    finding.repaired = outcome.repaired;
    if (outcome.repaired) summary.repaired += 1;
  }

  /**
   * A later version or a delete marker at the copy's key (#17): alerted when it first appears or changes,
   * not on every pass (the extra version is locked by the bucket default and stays). Metadata only in the
   * alert: digest, target, counts.
   */
  private async noteTampering(copy: ClaimedCopy, result: VerifyResult, summary: ScrubSummary): Promise<void> {
    const now = result.tampering.length === 0 ? null : result.tampering.join('; ');
    if (now === copy.tampering) return;
    await inTransaction(this.options.pool, async (client) => {
      await recordTampering(client, copy, now);
      if (now === null) return;
      await appendAuditEvent(client, {
        type: 'Security Alert',
        outcome: 8,
        actor: KEEPER_ACTOR,
        studyInstanceUid: copy.studyInstanceUid,
        details: { event: 'copy.tampered', sha256: copy.sha256, target: copy.target, problem: now, versionId: copy.versionId },
      });
    });
    if (now === null) return;
    this.options.metrics.verified.inc({ target: copy.target, outcome: 'tampered' });
    this.options.logger.warn({ replica: copy.target, sha256: copy.sha256, problem: now }, 'keeper: object store written behind the archive');
    summary.findings.push({ sha256: copy.sha256, target: copy.target, state: 'tampered', problem: now, repaired: null });
  }

  /**
   * Each target's own protection (#17): a bucket whose Object Lock was disabled or whose default retention
   * was lowered takes new versions unlocked. Alerted when the problems change (found, changed, gone: the
   * last as an informational event), never put back from here (the keeper's key must not be able to).
   */
  private async checkProtection(summary: ScrubSummary): Promise<void> {
    const { pool, store, logger, metrics } = this.options;
    for (const target of store.targets) {
      let problems: string[];
      try {
        problems = await target.checkProtection();
      } catch (error) {
        logger.warn({ replica: target.name, err: describeError(error) }, 'keeper: protection check failed');
        continue;
      }
      const now = problems.join('; ');
      const before = await inTransaction(pool, async (client) => {
        const previous = await swapProtectionProblems(client, target.name, now);
        if ((previous ?? '') === now) return previous;
        await appendAuditEvent(client, {
          type: 'Security Alert',
          outcome: now === '' ? 0 : 8,
          actor: KEEPER_ACTOR,
          studyInstanceUid: null,
          details: { event: now === '' ? 'replica.protection-restored' : 'replica.protection-changed', target: target.name, problem: now === '' ? 'as configured' : now },
        });
        return previous;
      });
      if ((before ?? '') === now || now === '') continue;
      metrics.verified.inc({ target: target.name, outcome: 'unprotected' });
      logger.warn({ replica: target.name, problem: now }, 'keeper: replica target protection changed');
      summary.findings.push({ sha256: null, target: target.name, state: 'unprotected', problem: now, repaired: null });
    }
  }

  private leaseSeconds(): number {
    return 300;
  }
}

function emptySummary(): ScrubSummary {
  return { verified: 0, ok: 0, unreachable: 0, findings: [], repaired: 0, bytes: 0, storageClasses: {} };
}
