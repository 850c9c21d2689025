import { createHash } from 'node:crypto';
import type { Registry } from 'prom-client';
import { AppError, describeError, isAppError, type Logger } from '@yunying/core';
import { inTransaction, recordInstances, ingestPrechecks, type InstanceRecord, type Pool } from '@yunying/catalog';
import { DicomRejection, FailureReason, isDicomRejection, parseInstance, type ParsedInstance, type ParseLimits } from '@yunying/dicom';
import { computeRetainUntil, sha256Hex, type ReplicatedStore, type StoreResult } from '@yunying/storage';
import { appendAuditEvent, appendAuditEvents, type AuditEventInput } from '@yunying/audit';
import { enqueueInTransaction, jobIds } from '@yunying/jobs';
import { counter, histogram } from '@yunying/http';
import { IngestBatch, type BatchLimits } from './ingest.batch';
import { GroupCommitter, type GroupCommitLimits } from './group-commit';
import { PrecheckCoalescer } from './precheck-coalescer';
import type { InstanceOutcome, Prepared, Sender, StagingPipeline, Staged } from './ingest.types';
import { recordedOfParsed } from './instance-record';
import { otherClinicHoldingUids } from './uid-holder.repository';

/**
 * The ingest pipeline (ARCHITECTURE "The data path", steps 2-4), shared by STOW-RS and C-STORE:
 * parse + validate -> three copies under retention lock (quorum) -> one catalog transaction with the
 * audit events and the study announcements (outbox). An instance is acknowledged only when this returns
 * a stored outcome; nothing of a rejected instance is written to the catalog.
 *
 * `ingest` stores one instance (C-STORE, derived objects). `openBatch` serves a request of many (STOW-RS,
 * #14): each instance is parsed and copied as it arrives, and the catalog rows of up to a batch's worth
 * are written in one transaction; each instance's outcome is known only once that transaction ended.
 * Both go through one group committer per pipeline (one per process): transactions of concurrent requests
 * and associations that wait for one another are merged into one (#14).
 */

export type { InstanceOutcome, Sender } from './ingest.types';

export interface IngestPipelineOptions {
  pool: Pool;
  store: ReplicatedStore;
  logger: Logger;
  metrics: Registry;
  parseLimits: Partial<ParseLimits>;
  retentionMinYears: number;
  /** Called once after each catalog commit with its newly stored instances (thumbnails, outbox relay); never throws into ingest. */
  afterCommit?: (committed: readonly CommittedInstance[]) => void;
  now?: () => Date;
  /** Group commit across requests and associations (see GroupCommitter); default 256 instances a transaction. */
  groupCommit?: GroupCommitLimits;
}

/** Instances in one shared catalog transaction at most, unless configured (INGEST_GROUP_COMMIT_MAX_INSTANCES). */
export const DEFAULT_GROUP_COMMIT_INSTANCES = 256;

/** A newly stored instance, handed to `afterCommit`. */
export interface CommittedInstance {
  parsed: ParsedInstance;
  bytes: Uint8Array;
  /** From the transaction's own series row: the thumbnail maker needs no lookup of its own. */
  seriesHasThumbnail: boolean;
}

export class IngestPipeline implements StagingPipeline {
  private readonly outcomes;
  private readonly duration;
  private readonly committer: GroupCommitter<Entry, InstanceOutcome>;
  private readonly prechecks: PrecheckCoalescer;

  constructor(private readonly options: IngestPipelineOptions) {
    this.outcomes = counter(options.metrics, 'yunying_ingest_instances_total', 'Instances received, by outcome and channel', ['outcome', 'via']);
    this.duration = histogram(options.metrics, 'yunying_ingest_instance_seconds', 'Time to store and index one instance', ['via'], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5]);
    this.committer = new GroupCommitter<Entry, InstanceOutcome>(
      options.groupCommit ?? { maxInstances: DEFAULT_GROUP_COMMIT_INSTANCES },
      (entry) => entry.item.parsed.sopInstanceUid,
      (group) => this.commitGroup(group),
    );
    this.prechecks = new PrecheckCoalescer((inputs) => ingestPrechecks(options.pool, inputs), options.groupCommit?.maxInstances ?? DEFAULT_GROUP_COMMIT_INSTANCES);
  }

  async ingest(bytes: Uint8Array, sender: Sender, expectedStudyUid?: string): Promise<InstanceOutcome> {
    const end = this.duration.startTimer({ via: sender.via });
    const prepared = await this.prepare(bytes, sender, expectedStudyUid);
    const [outcome] = prepared.kind === 'done' ? [prepared.outcome] : await this.commit([prepared], sender);
    if (!outcome) throw new Error('commit returned no outcome');
    end();
    this.count(outcome, sender);
    return outcome;
  }

  /** A batch for the instances of one request (see IngestBatch). */
  openBatch(sender: Sender, expectedStudyUid: string | undefined, limits: BatchLimits): IngestBatch {
    return new IngestBatch(this, sender, expectedStudyUid, limits);
  }

  /** @internal (IngestBatch) */
  count(outcome: InstanceOutcome, sender: Sender): void {
    this.outcomes.inc({ outcome: outcome.status === 'rejected' ? `rejected_${outcome.reason}` : outcome.status, via: sender.via });
  }

  /** @internal (IngestBatch) */
  startTimer(sender: Sender): () => void {
    const end = this.duration.startTimer({ via: sender.via });
    return () => {
      end();
    };
  }

  /**
   * Parse, check and copy one instance: everything before its catalog transaction. A refusal here is
   * final (`done`); otherwise the copies are durable (quorum) and the instance waits for `commit`.
   * @internal (IngestBatch)
   */
  async prepare(bytes: Uint8Array, sender: Sender, expectedStudyUid?: string): Promise<Prepared> {
    let parsed: ParsedInstance;
    try {
      parsed = parseInstance(bytes, this.options.parseLimits);
    } catch (error) {
      if (isDicomRejection(error)) return { kind: 'done', outcome: rejected(error) };
      this.options.logger.error({ err: describeError(error) }, 'parser failed unexpectedly');
      return { kind: 'done', outcome: rejected(new DicomRejection('malformed', 'The dataset could not be parsed')) };
    }
    if (expectedStudyUid !== undefined && parsed.studyInstanceUid !== expectedStudyUid) {
      // PS3.18 10.5: an instance whose Study Instance UID differs from the one in the request URL fails.
      return {
        kind: 'done',
        outcome: {
          status: 'rejected',
          failureReason: FailureReason.DatasetDoesNotMatchSopClass,
          reason: 'study_uid_mismatch',
          message: 'Study Instance UID of the instance differs from the one in the request URL',
          retryable: false,
          sopInstanceUid: parsed.sopInstanceUid,
          sopClassUid: parsed.sopClassUid,
        },
      };
    }

    const now = this.options.now?.() ?? new Date();
    // Two SHA-256 passes per instance and no more (#14): the content address, handed on to the store,
    // and the dataset digest (a different prefix, so it cannot share the first pass).
    const sha256 = sha256Hex(bytes);
    const datasetSha256 = datasetDigest(bytes);
    // Per instance, merged with the pre-checks waiting at the same time (see PrecheckCoalescer: a streamed
    // part's UIDs are known only once it is parsed, and its copies may be written only after the check).
    const { same, conflict, clinic } = await this.prechecks.check({ clinicId: sender.clinicId, uids: parsed, sha256, datasetSha256 });
    // A re-send: nothing to write but its audit record (a transfer attempt worth recording), in the batch's transaction.
    if (same && same.clinicId === sender.clinicId) return { kind: 'resend', parsed, version: same.version, now };
    if (conflict !== null) return { kind: 'done', outcome: await this.refusedConflict(parsed, sender, conflict) };
    if (!clinic) throw new AppError('forbidden', 'The sender is not bound to a known clinic');
    const retainUntil = computeRetainUntil({
      studyDate: parsed.attributes.StudyDate,
      receivedAt: now,
      policyYears: clinic.retentionYears,
      minimumYears: this.options.retentionMinYears,
    });

    let stored: StoreResult;
    try {
      // The clinic and arrival time go with every copy: the DICOM bytes alone do not say who sent them, and
      // rebuild-catalog (#18) must attribute each instance from the copies when the catalog is lost.
      stored = await this.options.store.put(bytes, { retainUntil, sha256, origin: { clinicId: sender.clinicId, clinicCode: clinic.code, receivedAt: now } });
    } catch (error) {
      return { kind: 'done', outcome: unavailable(parsed, error) };
    }
    const record: InstanceRecord = {
      clinicId: sender.clinicId,
      ...recordedOfParsed(parsed),
      sha256: stored.sha256,
      datasetSha256,
      objectKey: stored.key,
      size: stored.size,
      retainUntil,
      copies: stored.copies.map((c) => ({ target: c.target, key: c.key, versionId: c.versionId, size: c.size, retainUntil: c.retainUntil, lockMode: c.lockMode })),
      failedCopies: stored.failed,
      receivedAt: now,
    };
    // The bytes are kept until the commit only for the after-commit hook (thumbnails).
    return { kind: 'copied', parsed, bytes: this.options.afterCommit ? bytes : null, record, stored, now };
  }

  /**
   * The catalog transaction of staged instances (distinct SOP Instance UIDs), with their audit records and
   * study announcements; the outcome of each, in order. Goes through the process's group committer: it may
   * share its transaction with other requests' and associations' instances (see GroupCommitter). Never
   * throws: an instance whose transaction did not commit is a retryable refusal (its copies stay locked in
   * storage; the retry re-uses them), never stored.
   * @internal (IngestBatch)
   */
  commit(items: readonly Staged[], sender: Sender): Promise<InstanceOutcome[]> {
    return this.committer.submit(items.map((item) => ({ item, sender }))).catch((error: unknown) => items.map((item) => this.commitFailed(item.parsed, error)));
  }

  /** One group of submissions (the committer calls this once at a time): the outcomes of each submission. */
  private async commitGroup(group: ReadonlyArray<readonly Entry[]>): Promise<InstanceOutcome[][]> {
    const flat = group.flatMap((entries, submission) => entries.map((entry) => ({ ...entry, submission })));
    const outcomes = await this.commitEntries(flat);
    let at = 0;
    return group.map((entries) => {
      const own = outcomes.slice(at, at + entries.length);
      at += entries.length;
      return own;
    });
  }

  /**
   * Writes entries in one transaction and answers each. A UID conflict found under lock refuses that
   * instance and commits the others again without it; a race on a unique index is retried; a value the
   * catalog cannot hold (class 22) sends each instance on its own; any other failure of a transaction
   * shared by several submissions sends each submission on its own, so only the instances whose rows fail
   * are refused (retryable), never one of another request.
   */
  private async commitEntries(entries: ReadonlyArray<Entry & { submission: number }>): Promise<InstanceOutcome[]> {
    const results: Array<InstanceOutcome | undefined> = entries.map(() => undefined);
    let remaining = entries.map((entry, index) => ({ entry, index }));
    const refused: Array<{ entry: Entry; index: number; reason: string }> = [];
    for (let attempt = 1; remaining.length > 0; ) {
      try {
        const outcomes = await this.transaction(remaining.map((r) => r.entry));
        const committed: CommittedInstance[] = [];
        remaining.forEach((r, i) => {
          const o = outcomes[i] as RecordedOutcome;
          const item = r.entry.item;
          results[r.index] = this.storedOutcome(item.parsed, o.kind, o.version);
          if (item.kind === 'copied' && o.kind !== 'already_stored' && item.bytes !== null) {
            committed.push({ parsed: item.parsed, bytes: item.bytes, seriesHasThumbnail: o.seriesHasThumbnail });
          }
        });
        if (committed.length > 0) {
          try {
            this.options.afterCommit?.(committed);
          } catch (error) {
            this.options.logger.warn({ err: describeError(error) }, 'after-commit hook failed');
          }
        }
        remaining = [];
      } catch (error) {
        if (error instanceof BatchConflict) {
          // Refused (rare: a race lost after the pre-check, or two requests of one shared transaction); the
          // others go again. Audited once they committed, so the record names the clinic that holds the UID.
          for (const [i, reason] of error.conflicts) {
            const r = remaining[i];
            if (r) refused.push({ ...r, reason });
          }
          remaining = remaining.filter((_, i) => !error.conflicts.has(i));
          continue;
        }
        const code = (error as { code?: unknown }).code;
        // Two first arrivals of the same UID can race on a unique index: the loser retries and sees the winner.
        if (attempt < 3 && (code === '23505' || code === '40001' || code === '40P01')) {
          attempt++;
          continue;
        }
        if (isDataException(error) && remaining.length > 1) {
          // PostgreSQL class 22 names no row: each instance on its own finds the one the catalog cannot hold.
          for (const r of remaining) results[r.index] = (await this.commitEntries([r.entry]))[0];
          remaining = [];
          continue;
        }
        const submissions = [...new Set(remaining.map((r) => r.entry.submission))];
        if (submissions.length > 1) {
          // A shared transaction failed: each request's instances again on their own, so that the failure
          // stays with the instances that caused it (or all fail alike when the database is gone).
          for (const s of submissions) {
            const own = remaining.filter((r) => r.entry.submission === s);
            const alone = await this.commitEntries(own.map((r) => r.entry));
            own.forEach((r, i) => (results[r.index] = alone[i]));
          }
          remaining = [];
          continue;
        }
        for (const r of remaining) results[r.index] = this.commitFailed(r.entry.item.parsed, error);
        remaining = [];
      }
    }
    for (const r of refused) results[r.index] = await this.refusedConflict(r.entry.item.parsed, r.entry.sender, r.reason);
    return results.map((o, i) => o ?? this.commitFailed((entries[i] as Entry).item.parsed, new Error('no outcome')));
  }

  private commitFailed(parsed: ParsedInstance, error: unknown): InstanceOutcome {
    // PostgreSQL class 22 (data exception): a value the catalog can never hold. Retrying cannot help, so
    // this is a permanent refusal; the copies already written are locked and reported as orphans (#8).
    if (isDataException(error)) {
      this.options.logger.warn({ err: describeError(error) }, 'catalog refused a value of the instance');
      return {
        status: 'rejected',
        failureReason: FailureReason.CannotUnderstand,
        reason: 'catalog_refused',
        message: 'A value of the instance cannot be indexed',
        retryable: false,
        sopInstanceUid: parsed.sopInstanceUid,
        sopClassUid: parsed.sopClassUid,
      };
    }
    // Otherwise transient: the copies are locked in storage; the retry re-uses them by content address.
    this.options.logger.error({ err: describeError(error) }, 'catalog write failed');
    return unavailable(parsed, error);
  }

  /**
   * A UID conflict is refused and audited as a Security Alert (#17 finding 5: refused uploads left no trace):
   * an instance or study UID of another clinic sent again is what a device impersonating that clinic, or a
   * misconfigured one overwriting its data, looks like. Recorded under the clinic that holds the UID (its
   * auditors see the attempt; the actor names the sender), with UIDs and the reason only. If the record cannot
   * be written the refusal still stands.
   */
  private async refusedConflict(parsed: ParsedInstance, sender: Sender, reason: string): Promise<InstanceOutcome> {
    try {
      await inTransaction(this.options.pool, async (client) => {
        // The other clinic holding the instance or study UID, if any (a conflict inside one clinic has none).
        const holder = (await otherClinicHoldingUids(client, parsed, sender.clinicId)) ?? sender.clinicId;
        await appendAuditEvent(client, {
          type: 'Security Alert',
          outcome: 4,
          actor: sender.actor,
          sourceIp: sender.sourceIp,
          studyInstanceUid: parsed.studyInstanceUid,
          clinicId: holder,
          details: { kind: 'uid-conflict', via: sender.via, sopInstanceUid: parsed.sopInstanceUid, reason, senderClinicId: sender.clinicId, otherClinic: holder !== sender.clinicId },
        });
      });
    } catch (error) {
      this.options.logger.error({ err: describeError(error) }, 'could not audit a refused UID conflict');
    }
    return uidConflict(parsed, reason);
  }

  private storedOutcome(parsed: ParsedInstance, status: 'stored' | 'already_stored' | 'new_version', version: number): InstanceOutcome {
    return {
      status,
      studyInstanceUid: parsed.studyInstanceUid,
      seriesInstanceUid: parsed.seriesInstanceUid,
      sopInstanceUid: parsed.sopInstanceUid,
      sopClassUid: parsed.sopClassUid,
      transferSyntaxUid: parsed.transferSyntaxUid,
      version,
    };
  }

  /** One transaction: the catalog rows, one announcement per study, the audit records (last: the chain lock is held briefly). */
  private transaction(entries: readonly Entry[]): Promise<RecordedOutcome[]> {
    const items = entries.map((e) => e.item);
    return inTransaction(this.options.pool, async (client) => {
      const copied = items.flatMap((item, i) => (item.kind === 'copied' ? [{ item, i }] : []));
      const outcomes: Array<RecordedOutcome | undefined> = items.map((item) =>
        item.kind === 'resend' ? { kind: 'already_stored' as const, version: item.version, seriesHasThumbnail: true } : undefined,
      );
      if (copied.length > 0) {
        const recorded = await recordInstances(client, copied.map((c) => c.item.record));
        // Nothing of a refused instance may remain in the catalog: the whole transaction is undone.
        if (recorded.kind === 'conflicts') throw new BatchConflict(new Map([...recorded.conflicts].map(([j, reason]) => [(copied[j] as { i: number }).i, reason])));
        recorded.outcomes.forEach((o, j) => (outcomes[(copied[j] as { i: number }).i] = o));
      }
      // One announcement per study and transaction, keyed by its latest arrival in it (the study's quiet period starts there).
      const announced = new Map<string, number>();
      items.forEach((item, i) => {
        if (outcomes[i]?.kind === 'already_stored') return;
        const at = item.now.getTime();
        announced.set(item.parsed.studyInstanceUid, Math.max(at, announced.get(item.parsed.studyInstanceUid) ?? at));
      });
      for (const [studyInstanceUid, at] of announced) {
        await enqueueInTransaction(client, 'study', 'study.announced', jobIds.studyAnnounced(studyInstanceUid, at), { studyInstanceUid });
      }
      const events = entries.map(({ item, sender }, i): AuditEventInput => {
        const outcome = outcomes[i] as RecordedOutcome;
        const base = { type: 'DICOM Instances Transferred' as const, actor: sender.actor, sourceIp: sender.sourceIp, studyInstanceUid: item.parsed.studyInstanceUid, clinicId: sender.clinicId };
        if (item.kind === 'resend') {
          return { ...base, action: 'R' as const, details: { via: sender.via, sopInstanceUid: item.parsed.sopInstanceUid, outcome: 'already_stored', version: item.version } };
        }
        return {
          ...base,
          action: outcome.kind === 'already_stored' ? ('R' as const) : ('C' as const),
          details: {
            via: sender.via,
            sopInstanceUid: item.parsed.sopInstanceUid,
            sopClassUid: item.parsed.sopClassUid,
            outcome: outcome.kind,
            version: outcome.version,
            sha256: item.stored.sha256,
            copies: item.stored.copies.length,
            failedCopies: item.stored.failed.map((f) => f.target),
          },
        };
      });
      await appendAuditEvents(client, events);
      return outcomes.map((o) => {
        if (!o) throw new Error('an instance of the batch has no catalog outcome');
        return o;
      });
    });
  }
}

/** A staged instance and who sent it: a shared transaction holds the instances of several senders. */
interface Entry {
  item: Staged;
  sender: Sender;
}

type RecordedOutcome = { kind: 'stored' | 'already_stored' | 'new_version'; version: number; seriesHasThumbnail: boolean };

/**
 * SHA-256 of the dataset without its Part 10 file meta group (PS3.10 7.1: preamble, "DICM", then group
 * 0002 whose length is given by (0002,0000)). parseInstance has already validated this layout.
 */
export function datasetDigest(bytes: Uint8Array): string {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const groupLength = view.length >= 144 && view.readUInt16LE(132) === 0x0002 && view.readUInt16LE(134) === 0x0000 ? view.readUInt32LE(140) : -1;
  const start = groupLength >= 0 && 144 + groupLength <= view.length ? 144 + groupLength : 0;
  return createHash('sha256').update(view.subarray(start)).digest('hex');
}

/** Thrown inside the transaction to roll it back: these items (index -> reason) conflict under lock. */
class BatchConflict extends Error {
  constructor(readonly conflicts: Map<number, string>) {
    super('uid conflict');
  }
}

function isDataException(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('22');
}

function uidConflict(parsed: ParsedInstance, reason: string): InstanceOutcome {
  return {
    status: 'rejected',
    failureReason: FailureReason.ProcessingFailure,
    reason: 'uid_conflict',
    message: reason,
    retryable: false,
    sopInstanceUid: parsed.sopInstanceUid,
    sopClassUid: parsed.sopClassUid,
  };
}

function rejected(error: DicomRejection): InstanceOutcome {
  return {
    status: 'rejected',
    failureReason: error.failureReason,
    reason: error.reason,
    message: error.message,
    retryable: false,
    ...(error.sopInstanceUid !== undefined ? { sopInstanceUid: error.sopInstanceUid } : {}),
    ...(error.sopClassUid !== undefined ? { sopClassUid: error.sopClassUid } : {}),
  };
}

function unavailable(parsed: ParsedInstance, error: unknown): InstanceOutcome {
  const app = isAppError(error) ? error : undefined;
  return {
    status: 'rejected',
    // PS3.7 C.4.2.1.4: A7xx "Refused: Out of Resources" tells the sender to try again later.
    failureReason: FailureReason.OutOfResources,
    reason: 'storage_unavailable',
    message: app?.code === 'unavailable' ? app.message : 'The archive cannot store this instance right now; retry later',
    retryable: true,
    retryAfterSeconds: app?.retryAfterSeconds ?? 30,
    sopInstanceUid: parsed.sopInstanceUid,
    sopClassUid: parsed.sopClassUid,
  };
}
