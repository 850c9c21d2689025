import { createHash } from 'node:crypto';
import type { Registry } from 'prom-client';
import { AppError, describeError, isAppError, type Logger } from '@yunying/core';
import { inTransaction, recordInstance, ingestPrecheck, type Pool, type RecordOutcome } from '@yunying/catalog';
import { DicomRejection, FailureReason, isDicomRejection, parseInstance, type ParsedInstance, type ParseLimits } from '@yunying/dicom';
import { computeRetainUntil, sha256Hex, type ReplicatedStore, type StoreResult } from '@yunying/storage';
import { appendAuditEvent, type AuditActor } from '@yunying/audit';
import { enqueueInTransaction, jobIds } from '@yunying/jobs';
import { counter, histogram } from '@yunying/http';

/**
 * The ingest pipeline (ARCHITECTURE "The data path", steps 2-4), shared by STOW-RS and C-STORE:
 * parse + validate -> three copies under retention lock (quorum) -> one catalog transaction with the
 * audit event and the study announcement (outbox). An instance is acknowledged only when this returns
 * a stored outcome; nothing of a rejected instance is written to the catalog.
 */

export interface Sender {
  clinicId: string;
  actor: AuditActor;
  sourceIp: string | null;
  /** 'STOW-RS' | 'DIMSE', or 'SERVICE' for objects the archive derives itself (AI SEG and SR, signed reports) — recorded in the audit event. */
  via: 'STOW-RS' | 'DIMSE' | 'SERVICE';
}

export type InstanceOutcome =
  | {
      status: 'stored' | 'already_stored' | 'new_version';
      studyInstanceUid: string;
      seriesInstanceUid: string;
      sopInstanceUid: string;
      sopClassUid: string;
      transferSyntaxUid: string;
      version: number;
    }
  | {
      status: 'rejected';
      /** PS3.18 FailureReason / PS3.7 C-STORE status. */
      failureReason: number;
      reason: string;
      message: string;
      /** True when the same bytes may succeed later (storage quorum missed, database down). */
      retryable: boolean;
      retryAfterSeconds?: number;
      sopInstanceUid?: string;
      sopClassUid?: string;
    };

export interface IngestPipelineOptions {
  pool: Pool;
  store: ReplicatedStore;
  logger: Logger;
  metrics: Registry;
  parseLimits: Partial<ParseLimits>;
  retentionMinYears: number;
  /** Called after commit for each newly stored instance (thumbnails, outbox relay); never throws into ingest. */
  afterCommit?: (instance: ParsedInstance, bytes: Uint8Array) => void;
  now?: () => Date;
}

type StoredObject = StoreResult & { datasetSha256: string };

export class IngestPipeline {
  private readonly outcomes;
  private readonly duration;

  constructor(private readonly options: IngestPipelineOptions) {
    this.outcomes = counter(options.metrics, 'yunying_ingest_instances_total', 'Instances received, by outcome and channel', ['outcome', 'via']);
    this.duration = histogram(options.metrics, 'yunying_ingest_instance_seconds', 'Time to store and index one instance', ['via'], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5]);
  }

  async ingest(bytes: Uint8Array, sender: Sender, expectedStudyUid?: string): Promise<InstanceOutcome> {
    const end = this.duration.startTimer({ via: sender.via });
    const outcome = await this.ingestOnce(bytes, sender, expectedStudyUid);
    end();
    this.outcomes.inc({ outcome: outcome.status === 'rejected' ? `rejected_${outcome.reason}` : outcome.status, via: sender.via });
    return outcome;
  }

  private async ingestOnce(bytes: Uint8Array, sender: Sender, expectedStudyUid?: string): Promise<InstanceOutcome> {
    let parsed: ParsedInstance;
    try {
      parsed = parseInstance(bytes, this.options.parseLimits);
    } catch (error) {
      if (isDicomRejection(error)) return rejected(error);
      this.options.logger.error({ err: describeError(error) }, 'parser failed unexpectedly');
      return rejected(new DicomRejection('malformed', 'The dataset could not be parsed'));
    }
    if (expectedStudyUid !== undefined && parsed.studyInstanceUid !== expectedStudyUid) {
      // PS3.18 10.5: an instance whose Study Instance UID differs from the one in the request URL fails.
      return {
        status: 'rejected',
        failureReason: FailureReason.DatasetDoesNotMatchSopClass,
        reason: 'study_uid_mismatch',
        message: 'Study Instance UID of the instance differs from the one in the request URL',
        retryable: false,
        sopInstanceUid: parsed.sopInstanceUid,
        sopClassUid: parsed.sopClassUid,
      };
    }

    const now = this.options.now?.() ?? new Date();
    // Two SHA-256 passes per instance and no more (#14): the content address, handed on to the store,
    // and the dataset digest (a different prefix, so it cannot share the first pass).
    const sha256 = sha256Hex(bytes);
    const datasetSha256 = datasetDigest(bytes);
    const { same, conflict, clinic } = await ingestPrecheck(this.options.pool, sender.clinicId, parsed, sha256, datasetSha256);
    if (same && same.clinicId === sender.clinicId) {
      // A re-send: nothing to write. It is still a transfer attempt worth recording.
      await inTransaction(this.options.pool, (client) =>
        appendAuditEvent(client, {
          type: 'DICOM Instances Transferred',
          action: 'R',
          actor: sender.actor,
          sourceIp: sender.sourceIp,
          studyInstanceUid: parsed.studyInstanceUid,
          clinicId: sender.clinicId,
          details: { via: sender.via, sopInstanceUid: parsed.sopInstanceUid, outcome: 'already_stored', version: same.version },
        }),
      );
      return this.storedOutcome(parsed, 'already_stored', same.version);
    }
    if (conflict !== null) return this.refusedConflict(parsed, sender, conflict);
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
      return unavailable(parsed, error);
    }

    let recorded: RecordOutcome;
    try {
      recorded = await this.recordWithRetry(parsed, { ...stored, datasetSha256 }, retainUntil, sender, now);
    } catch (error) {
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
    if (recorded.kind === 'conflict') return this.refusedConflict(parsed, sender, recorded.reason);
    if (recorded.kind !== 'already_stored') {
      try {
        this.options.afterCommit?.(parsed, bytes);
      } catch (error) {
        this.options.logger.warn({ err: describeError(error) }, 'after-commit hook failed');
      }
    }
    return this.storedOutcome(parsed, recorded.kind, recorded.version);
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
        const owner = await client.query<{ clinic_id: string }>(
          `SELECT clinic_id::text FROM (
             SELECT s.clinic_id, 1 AS o FROM instances i JOIN studies s ON s.id = i.study_ref WHERE i.sop_instance_uid = $1
             UNION ALL SELECT clinic_id, 2 FROM studies WHERE study_instance_uid = $2) x
            WHERE clinic_id <> $3 ORDER BY o LIMIT 1`,
          [parsed.sopInstanceUid, parsed.studyInstanceUid, sender.clinicId],
        );
        const holder = owner.rows[0]?.clinic_id ?? sender.clinicId;
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

  /** Two first arrivals of the same UID can race on a unique index: the loser retries once and sees the winner. */
  private async recordWithRetry(parsed: ParsedInstance, stored: StoredObject, retainUntil: Date, sender: Sender, now: Date): Promise<RecordOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.record(parsed, stored, retainUntil, sender, now);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (attempt < 3 && (code === '23505' || code === '40001' || code === '40P01')) continue;
        throw error;
      }
    }
  }

  private record(parsed: ParsedInstance, stored: StoredObject, retainUntil: Date, sender: Sender, now: Date): Promise<RecordOutcome> {
    return inTransaction(this.options.pool, async (client) => {
      const outcome = await recordInstance(client, {
        clinicId: sender.clinicId,
        studyInstanceUid: parsed.studyInstanceUid,
        seriesInstanceUid: parsed.seriesInstanceUid,
        sopInstanceUid: parsed.sopInstanceUid,
        sopClassUid: parsed.sopClassUid,
        transferSyntaxUid: parsed.transferSyntaxUid,
        attributes: parsed.attributes,
        dicomJson: parsed.dicomJson,
        frames: parsed.frames,
        sha256: stored.sha256,
        datasetSha256: stored.datasetSha256,
        objectKey: stored.key,
        size: stored.size,
        retainUntil,
        copies: stored.copies.map((c) => ({ target: c.target, key: c.key, versionId: c.versionId, size: c.size, retainUntil: c.retainUntil, lockMode: c.lockMode })),
        failedCopies: stored.failed,
        receivedAt: now,
      });
      if (outcome.kind === 'conflict') {
        // Nothing of a refused instance may remain in the catalog: undo the object/copy rows too.
        throw new ConflictRollback(outcome);
      }
      if (outcome.kind !== 'already_stored') {
        await enqueueInTransaction(client, 'study', 'study.announced', jobIds.studyAnnounced(parsed.studyInstanceUid, now.getTime()), {
          studyInstanceUid: parsed.studyInstanceUid,
        });
      }
      // Last statement before COMMIT: the audit chain lock is held as briefly as possible.
      await appendAuditEvent(client, {
        type: 'DICOM Instances Transferred',
        action: outcome.kind === 'already_stored' ? 'R' : 'C',
        actor: sender.actor,
        sourceIp: sender.sourceIp,
        studyInstanceUid: parsed.studyInstanceUid,
        clinicId: sender.clinicId,
        details: {
          via: sender.via,
          sopInstanceUid: parsed.sopInstanceUid,
          sopClassUid: parsed.sopClassUid,
          outcome: outcome.kind,
          version: outcome.version,
          sha256: stored.sha256,
          copies: stored.copies.length,
          failedCopies: stored.failed.map((f) => f.target),
        },
      });
      return outcome;
    }).catch((error: unknown) => {
      if (error instanceof ConflictRollback) return error.outcome;
      throw error;
    });
  }
}

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

class ConflictRollback extends Error {
  constructor(readonly outcome: RecordOutcome) {
    super('conflict');
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
