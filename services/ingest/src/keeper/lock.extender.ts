import { appendAuditEvent } from '@yunying/audit';
import { inTransaction, type Pool } from '@yunying/catalog';
import { describeError, isAppError, type Logger } from '@yunying/core';
import type { ReplicatedStore } from '@yunying/storage';
import { listShortLocks, listShortLocksOfRecentStudies, raiseObjectRetention, recordCopyLock, type ShortLock } from './copies.repository';
import { KEEPER_ACTOR } from './keeper.audit';
import type { KeeperMetrics } from './keeper.metrics';

export interface LockExtenderOptions {
  pool: Pool;
  store: ReplicatedStore;
  logger: Logger;
  metrics: KeeperMetrics;
  /** Copies (full pass) or studies (recent pass) looked at per catalog query. */
  batch?: number;
  now?: () => Date;
}

/**
 * How far a recent pass looks back beyond the previous pass's start: a study's last_instance_at is the
 * ingest's receipt time (another process's clock), committed up to a transaction later.
 */
export const RECENT_MARGIN_MS = 60 * 60_000;
/** A full pass runs at the keeper's start and then this often: the backstop of the recent passes. */
export const FULL_PASS_EVERY_MS = 24 * 3_600_000;

export interface LockExtensionSummary {
  /** full: every copy; recent: the copies of studies that received an instance since the previous pass. */
  pass?: 'full' | 'recent';
  /** Copies whose lock was behind their study's retain-until. */
  behind: number;
  extended: number;
  failed: number;
}

/**
 * Keeps every copy's lock at least as long as its study's retain-until (#20 "retention consistency"). A
 * study's retain-until grows when a later instance or the triage SR arrives (it counts from receipt), and
 * the copies already written keep the lock they got at write time; this pass extends them, never shortening
 * (S3 Object Lock COMPLIANCE accepts a later date via PutObjectRetention; fs rewrites the sidecar).
 *
 * Crash-safe and idempotent: the store is extended first and the catalog records the lock read back from
 * the store afterwards, so a crash in between leaves a copy still listed as behind, and the next pass finds
 * the store already there and only records it. The object's retain-until is raised as well, so a copy that
 * is missing now is repaired with the longer lock. Copies in state missing/corrupt are left to repair.
 */
export class LockExtender {
  private readonly batch: number;
  private lastFullAt: number | null = null;
  /** Where the next recent pass starts looking (before the margin): the start of the last clean pass. */
  private windowFrom: number | null = null;

  constructor(private readonly options: LockExtenderOptions) {
    this.batch = options.batch ?? 200;
  }

  /**
   * The keeper's scheduled step: a full pass at the start and every FULL_PASS_EVERY_MS, a recent pass in
   * between. A study's retain-until rises only when an instance arrives, which also moves its
   * last_instance_at, so the recent pass finds what fell behind since the last one at a cost in proportion
   * to what arrived; a full pass reads every copy (at 10⁹ copies, every 30 s would be the catalog's whole
   * load). A recent pass with failures does not move the window, so its copies are looked at again.
   */
  async tick(): Promise<LockExtensionSummary> {
    const started = (this.options.now ?? (() => new Date()))().getTime();
    if (this.lastFullAt === null || started - this.lastFullAt >= FULL_PASS_EVERY_MS) {
      const summary = await this.runPass();
      this.lastFullAt = started;
      if (summary.failed === 0) this.windowFrom = started;
      return { pass: 'full', ...summary };
    }
    const summary = await this.runRecent(new Date((this.windowFrom ?? this.lastFullAt) - RECENT_MARGIN_MS));
    if (summary.failed === 0) this.windowFrom = started;
    return { pass: 'recent', ...summary };
  }

  /** Every copy, keyset paged by id. */
  async runPass(): Promise<LockExtensionSummary> {
    const summary: LockExtensionSummary = { behind: 0, extended: 0, failed: 0 };
    let afterId = '0';
    for (;;) {
      const behind = await listShortLocks(this.options.pool, afterId, this.batch);
      await this.extendAll(behind, summary);
      const last = behind[behind.length - 1];
      if (last === undefined || behind.length < this.batch) return summary;
      afterId = last.id;
    }
  }

  /** The copies of the studies that received an instance since `since`, paged by study. */
  async runRecent(since: Date): Promise<LockExtensionSummary> {
    const summary: LockExtensionSummary = { behind: 0, extended: 0, failed: 0 };
    let afterStudyRef = '0';
    for (;;) {
      const { locks, lastStudyRef } = await listShortLocksOfRecentStudies(this.options.pool, since, afterStudyRef, this.batch);
      await this.extendAll(locks, summary);
      if (lastStudyRef === null) return summary;
      afterStudyRef = lastStudyRef;
    }
  }

  private async extendAll(copies: readonly ShortLock[], summary: LockExtensionSummary): Promise<void> {
    for (const copy of copies) {
      summary.behind += 1;
      if (await this.extend(copy)) summary.extended += 1;
      else if (copy.state === 'ok') summary.failed += 1;
    }
  }

  /** True when the copy's lock now reaches `wanted`, in the store and in the catalog. */
  private async extend(copy: ShortLock): Promise<boolean> {
    const { pool, store, logger, metrics } = this.options;
    if (copy.state !== 'ok') {
      await raiseObjectRetention(pool, copy.sha256, copy.wanted);
      return false;
    }
    let lockedUntil: Date;
    try {
      lockedUntil = await store.target(copy.target).extendRetention(copy.key, copy.versionId, copy.wanted);
    } catch (error) {
      // Unreachable target or missing copy: the next pass retries; the scrubber records a missing copy.
      logger.warn({ replica: copy.target, sha256: copy.sha256, err: describeError(error) }, 'keeper: lock extension failed');
      metrics.locksExtended.inc({ target: copy.target, outcome: isAppError(error) && error.code === 'not_found' ? 'missing' : 'failed' });
      return false;
    }
    await inTransaction(pool, async (client) => {
      await raiseObjectRetention(client, copy.sha256, copy.wanted);
      await recordCopyLock(client, copy, lockedUntil);
      await appendAuditEvent(client, {
        type: 'Security Alert',
        action: 'U',
        actor: KEEPER_ACTOR,
        studyInstanceUid: copy.studyInstanceUid,
        details: { event: 'copy.lock-extended', sha256: copy.sha256, target: copy.target, retainUntil: lockedUntil.toISOString() },
      });
    });
    metrics.locksExtended.inc({ target: copy.target, outcome: 'extended' });
    return lockedUntil.getTime() >= copy.wanted.getTime();
  }
}
