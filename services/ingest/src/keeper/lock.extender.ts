import { appendAuditEvent } from '@yunying/audit';
import { inTransaction, type Pool } from '@yunying/catalog';
import { describeError, isAppError, type Logger } from '@yunying/core';
import type { ReplicatedStore } from '@yunying/storage';
import { listShortLocks, raiseObjectRetention, recordCopyLock, type ShortLock } from './copies.repository';
import { KEEPER_ACTOR } from './keeper.audit';
import type { KeeperMetrics } from './keeper.metrics';

export interface LockExtenderOptions {
  pool: Pool;
  store: ReplicatedStore;
  logger: Logger;
  metrics: KeeperMetrics;
  /** Copies looked at per catalog query. */
  batch?: number;
}

export interface LockExtensionSummary {
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

  constructor(private readonly options: LockExtenderOptions) {
    this.batch = options.batch ?? 200;
  }

  async runPass(): Promise<LockExtensionSummary> {
    const summary: LockExtensionSummary = { behind: 0, extended: 0, failed: 0 };
    let afterId = '0';
    for (;;) {
      const behind = await listShortLocks(this.options.pool, afterId, this.batch);
      for (const copy of behind) {
        summary.behind += 1;
        if (await this.extend(copy)) summary.extended += 1;
        else if (copy.state === 'ok') summary.failed += 1;
      }
      const last = behind[behind.length - 1];
      if (last === undefined || behind.length < this.batch) return summary;
      afterId = last.id;
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
