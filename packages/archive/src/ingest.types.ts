/**
 * The types the ingest pipeline and a request's batch share (Sender, outcomes, staged instances) and what
 * a batch needs of the pipeline: here so that ingest.pipeline.ts (which opens batches) and ingest.batch.ts
 * (which drives the pipeline) do not import each other.
 */
import type { AuditActor } from '@yunying/audit';
import type { InstanceRecord } from '@yunying/catalog';
import type { ParsedInstance } from '@yunying/dicom';
import type { StoreResult } from '@yunying/storage';

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

/** An instance whose copies are durable (or a re-send that needs none), waiting for its catalog transaction. */
export type Staged =
  | { kind: 'resend'; parsed: ParsedInstance; version: number; now: Date }
  | { kind: 'copied'; parsed: ParsedInstance; bytes: Uint8Array | null; record: InstanceRecord; stored: StoreResult; now: Date };

export type Prepared = { kind: 'done'; outcome: InstanceOutcome } | Staged;

/** What an IngestBatch needs of the pipeline (IngestPipeline implements it). */
export interface StagingPipeline {
  startTimer(sender: Sender): () => void;
  count(outcome: InstanceOutcome, sender: Sender): void;
  prepare(bytes: Uint8Array, sender: Sender, expectedStudyUid?: string): Promise<Prepared>;
  commit(items: readonly Staged[], sender: Sender): Promise<InstanceOutcome[]>;
}
