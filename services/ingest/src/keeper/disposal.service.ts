import { appendAuditEvent, type AuditActor } from '@yunying/audit';
import { assertIndependentApprover } from '@yunying/auth';
import { inTransaction, type Pool } from '@yunying/catalog';
import { AppError, describeError, isAppError, type Logger } from '@yunying/core';
import { seriesThumbnailKey, type DerivedStore, type ReplicatedStore } from '@yunying/storage';
import {
  claimApprovedDisposal,
  closeDisposal,
  decideDisposal,
  findDisposal,
  insertDisposal,
  listDisposals,
  postponeDisposal,
  studyCopies,
  studyObjectKeys,
  studyRetentionState,
  studySeriesUids,
  writeHold,
  writeTombstone,
  type DisposalRequest,
  type StudyRetentionState,
} from './disposal.repository';
import { closeHoldRelease, findHoldRelease, insertHoldRelease, listHoldReleases, type HoldRelease } from './hold-release.repository';
import { KEEPER_ACTOR } from './keeper.audit';
import type { KeeperMetrics } from './keeper.metrics';

export interface Caller {
  userId: string | null;
  actor: AuditActor;
  sourceIp: string | null;
}

export interface DisposalOptions {
  pool: Pool;
  store: ReplicatedStore;
  /** Where the study's series thumbnails are (one copy, no retention): removed before the tombstone. */
  derived: DerivedStore;
  logger: Logger;
  metrics: KeeperMetrics;
  now?: () => Date;
}

/**
 * Retention expiry (#8): nothing is deleted before retain-until, through any path. After expiry a study is
 * disposed of only by this workflow: an admin requests it (refused while anything of the study is retained
 * or held), an auditor who is not the requester approves it, and the executor re-checks expiry and legal
 * hold, removes every copy with the targets' own remove() (which refuses early deletion itself, and S3
 * COMPLIANCE refuses even the application's credentials), then writes the tombstone. Every step is audited.
 */
export class DisposalService {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(private readonly options: DisposalOptions) {}

  list(limit = 200): Promise<DisposalRequest[]> {
    return listDisposals(this.options.pool, limit);
  }

  async request(caller: Caller, studyInstanceUid: string, reason: string): Promise<DisposalRequest> {
    const { pool, metrics } = this.options;
    const id = await inTransaction(pool, async (client) => {
      const state = await studyRetentionState(client, studyInstanceUid, true);
      if (state === null) throw new AppError('not_found', 'No such study');
      const refusal = this.refusal(state);
      if (refusal !== null) {
        metrics.disposals.inc({ outcome: 'refused' });
        throw new AppError('conflict', refusal);
      }
      const requestId = await insertDisposal(client, state.studyRef, caller.userId, reason);
      if (requestId === null) throw new AppError('conflict', 'A disposal request for this study is already open');
      await appendAuditEvent(client, {
        type: 'Security Alert',
        actor: caller.actor,
        sourceIp: caller.sourceIp,
        studyInstanceUid,
        clinicId: state.clinicId,
        details: { event: 'disposal.requested', disposalRequest: requestId, retainUntil: state.retainUntil.toISOString(), objects: state.objects },
      });
      return requestId;
    });
    metrics.disposals.inc({ outcome: 'requested' });
    return this.get(id);
  }

  async decide(caller: Caller, id: string, decision: 'approve' | 'reject', note: string | null): Promise<DisposalRequest> {
    const { pool, metrics } = this.options;
    await inTransaction(pool, async (client) => {
      const request = await findDisposal(client, id, true);
      if (request === null) throw new AppError('not_found', 'No such disposal request');
      if (request.status !== 'requested') throw new AppError('conflict', `The request is ${request.status}, not awaiting a decision`);
      // Four eyes: whoever asked cannot decide (also a CHECK constraint of disposal_requests), and an approver
      // whose account the requester created or changed is not a second person (finding 4 of #17). A rejection
      // only keeps the study, so it needs no independence beyond not being the requester.
      if (caller.userId === null || caller.userId === request.requestedBy) throw new AppError('forbidden', 'The requester cannot decide on their own disposal request');
      const fourEyes = decision === 'approve' ? await assertIndependentApprover(client, caller.userId, request.requestedBy) : { requestedBy: request.requestedBy };
      const status = decision === 'approve' ? 'approved' : 'rejected';
      await decideDisposal(client, id, status, caller.userId, note);
      await appendAuditEvent(client, {
        type: 'Security Alert',
        actor: caller.actor,
        sourceIp: caller.sourceIp,
        studyInstanceUid: request.studyInstanceUid,
        clinicId: request.clinicId,
        details: { event: `disposal.${status}`, disposalRequest: id, ...fourEyes },
      });
    });
    metrics.disposals.inc({ outcome: decision === 'approve' ? 'approved' : 'rejected' });
    if (decision === 'approve') void this.kick();
    return this.get(id);
  }

  /**
   * Places a legal hold on a study: every copy on every target first (the catalog never claims more protection
   * than the store has), then the catalog. One step: a hold only protects more.
   */
  async placeLegalHold(caller: Caller, studyInstanceUid: string): Promise<{ objects: number }> {
    const { pool } = this.options;
    const state = await studyRetentionState(pool, studyInstanceUid);
    if (state === null || state.disposedAt !== null) throw new AppError('not_found', 'No such study');
    const keys = await studyObjectKeys(pool, state.studyRef);
    await this.holdOnTargets(keys, true);
    await inTransaction(pool, async (client) => {
      await writeHold(client, state.studyRef, keys, true);
      await appendAuditEvent(client, {
        type: 'Security Alert',
        action: 'U',
        actor: caller.actor,
        sourceIp: caller.sourceIp,
        studyInstanceUid,
        clinicId: state.clinicId,
        details: { event: 'legal-hold.set', objects: keys.length },
      });
    });
    return { objects: keys.length };
  }

  listHoldReleases(limit = 200): Promise<HoldRelease[]> {
    return listHoldReleases(this.options.pool, limit);
  }

  /**
   * Asks to lift a study's legal hold. Nothing changes until another, independent person approves (#17 finding
   * 4): otherwise one admin could lift a hold and then have the study disposed of.
   */
  async requestHoldRelease(caller: Caller, studyInstanceUid: string, reason: string): Promise<HoldRelease> {
    const { pool } = this.options;
    const id = await inTransaction(pool, async (client) => {
      const state = await studyRetentionState(client, studyInstanceUid, true);
      if (state === null || state.disposedAt !== null) throw new AppError('not_found', 'No such study');
      if (!state.legalHold) throw new AppError('conflict', 'The study is not under legal hold');
      const requestId = await insertHoldRelease(client, state.studyRef, caller.userId, reason);
      if (requestId === null) throw new AppError('conflict', 'A release of this legal hold is already awaiting a decision');
      await appendAuditEvent(client, {
        type: 'Security Alert',
        action: 'U',
        actor: caller.actor,
        sourceIp: caller.sourceIp,
        studyInstanceUid,
        clinicId: state.clinicId,
        details: { event: 'legal-hold.release-requested', holdRelease: requestId },
      });
      return requestId;
    });
    return this.holdRelease(id);
  }

  /**
   * Approves (the hold is lifted: catalog first, in the same transaction as the decision, then every copy) or
   * rejects a release. The approver must be independent of the requester (`assertIndependentApprover`).
   */
  async decideHoldRelease(caller: Caller, id: string, decision: 'approve' | 'reject'): Promise<HoldRelease> {
    const { pool } = this.options;
    const lifted = await inTransaction(pool, async (client) => {
      const release = await findHoldRelease(client, id, true);
      if (release === null) throw new AppError('not_found', 'No such legal-hold release request');
      if (release.status !== 'requested') throw new AppError('conflict', `The request is ${release.status}, not awaiting a decision`);
      if (caller.userId === null || caller.userId === release.requestedBy) throw new AppError('forbidden', 'The requester cannot decide on their own request');
      const fourEyes = decision === 'approve' ? await assertIndependentApprover(client, caller.userId, release.requestedBy) : { requestedBy: release.requestedBy };
      await closeHoldRelease(client, id, decision === 'approve' ? 'approved' : 'rejected', caller.userId);
      const state = await studyRetentionState(client, release.studyInstanceUid, true);
      const keys = decision === 'approve' && state !== null ? await studyObjectKeys(client, state.studyRef) : [];
      if (decision === 'approve' && state !== null) await writeHold(client, state.studyRef, keys, false);
      await appendAuditEvent(client, {
        type: 'Security Alert',
        action: 'U',
        actor: caller.actor,
        sourceIp: caller.sourceIp,
        studyInstanceUid: release.studyInstanceUid,
        clinicId: release.clinicId,
        details: { event: decision === 'approve' ? 'legal-hold.lifted' : 'legal-hold.release-rejected', holdRelease: id, objects: keys.length, ...fourEyes },
      });
      return keys;
    });
    if (lifted.length > 0) await this.holdOnTargets(lifted, false);
    return this.holdRelease(id);
  }

  private async holdRelease(id: string): Promise<HoldRelease> {
    const release = await findHoldRelease(this.options.pool, id);
    if (release === null) throw new Error(`legal-hold release ${id} vanished`);
    return release;
  }

  /** Runs the executor soon (after an approval) and on the keeper's schedule. One run at a time. */
  kick(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.executeApproved();
        } catch (error) {
          this.options.logger.warn({ err: describeError(error) }, 'keeper: disposal executor failed; will retry');
        }
      } while (this.again);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Carries out every approved request (claimed with a lease so two processes never run the same one). */
  async executeApproved(): Promise<void> {
    for (;;) {
      const id = await claimApprovedDisposal(this.options.pool);
      if (id === undefined) return;
      await this.execute(id);
    }
  }

  private async execute(id: string): Promise<void> {
    const { pool, store, logger, metrics } = this.options;
    const request = await findDisposal(pool, id);
    if (request === null || request.status !== 'approved') return;
    const state = await studyRetentionState(pool, request.studyInstanceUid);
    const refusal = state === null ? 'the study is gone' : this.refusal(state);
    if (state === null || refusal !== null) {
      await this.finish(id, request, 'blocked', { reason: refusal ?? 'blocked' }, 8);
      return;
    }
    const copies = await studyCopies(pool, state.studyRef);
    const removed: string[] = [];
    for (const copy of copies) {
      try {
        await store.target(copy.target).remove(copy.key, this.now());
        removed.push(`${copy.target}:${copy.sha256}`);
      } catch (error) {
        if (isAppError(error) && error.code === 'not_found') continue;
        if (isAppError(error) && error.code === 'retention_locked') {
          // The store refuses: the catalog was wrong about expiry or a hold. Nothing more is removed.
          await this.finish(id, request, 'blocked', { reason: error.message, removed }, 8);
          return;
        }
        // A target is down: the request stays approved and is retried when its lease lapses.
        logger.warn({ replica: copy.target, err: describeError(error) }, 'keeper: disposal could not remove a copy; will retry');
        await postponeDisposal(pool, id);
        return;
      }
    }
    // The thumbnails show the patient's images (burned-in names included): they go before the tombstone
    // deletes the series rows that name them. Each series' key, written or not yet: removing is idempotent.
    let thumbnails = 0;
    for (const seriesInstanceUid of await studySeriesUids(pool, state.studyRef)) {
      try {
        await this.options.derived.remove(seriesThumbnailKey(seriesInstanceUid));
        thumbnails++;
      } catch (error) {
        logger.warn({ err: describeError(error) }, 'keeper: disposal could not remove a thumbnail; will retry');
        await postponeDisposal(pool, id);
        return;
      }
    }
    await inTransaction(pool, async (client) => {
      const tomb = await writeTombstone(client, state.studyRef, id);
      const outcome = { copiesRemoved: removed.length, thumbnailsRemoved: thumbnails, ...tomb };
      await closeDisposal(client, id, 'executed', outcome);
      await appendAuditEvent(client, {
        type: 'DICOM Study Deleted',
        actor: KEEPER_ACTOR,
        studyInstanceUid: request.studyInstanceUid,
        clinicId: request.clinicId,
        details: { event: 'disposal.executed', disposalRequest: id, ...outcome },
      });
    });
    metrics.disposals.inc({ outcome: 'executed' });
    logger.info({ disposalRequest: id, copies: removed.length }, 'keeper: study disposed of');
  }

  private async finish(id: string, request: DisposalRequest, status: 'blocked', result: Record<string, string | string[]>, outcome: 8): Promise<void> {
    await inTransaction(this.options.pool, async (client) => {
      await closeDisposal(client, id, status, result);
      await appendAuditEvent(client, {
        type: 'DICOM Study Deleted',
        outcome,
        actor: KEEPER_ACTOR,
        studyInstanceUid: request.studyInstanceUid,
        clinicId: request.clinicId,
        details: { event: `disposal.${status}`, disposalRequest: id, reason: typeof result.reason === 'string' ? result.reason : status },
      });
    });
    this.options.metrics.disposals.inc({ outcome: status });
  }

  /** Why the study may not be disposed of now, or null. */
  private refusal(state: StudyRetentionState): string | null {
    if (state.disposedAt !== null) return 'The study has already been disposed of';
    if (state.legalHold) return 'The study is under legal hold';
    if (state.retainUntil.getTime() > this.now().getTime()) return `The study is retained until ${state.retainUntil.toISOString()}`;
    return null;
  }

  private async holdOnTargets(keys: { key: string }[], on: boolean): Promise<void> {
    for (const { key } of keys) {
      for (const target of this.options.store.targets) {
        try {
          await target.setLegalHold(key, on);
        } catch (error) {
          // A copy missing on one target gets the hold from the catalog when it is repaired.
          if (!(isAppError(error) && error.code === 'not_found')) throw error;
        }
      }
    }
  }

  private async get(id: string): Promise<DisposalRequest> {
    const found = await findDisposal(this.options.pool, id);
    if (found === null) throw new Error('disposal request vanished');
    return found;
  }

  private now(): Date {
    // Never later than the real clock (the targets apply the same rule: util.retentionNow).
    const now = this.options.now?.() ?? new Date();
    return new Date(Math.min(now.getTime(), Date.now()));
  }
}
