import type { IngestPipeline } from '@yunying/archive';
import { AppError, type Logger } from '@yunying/core';
import type { Caller } from '../reading.audit';

/** A DICOM object the viewer built (a report SR, a key-image KOS) and what to say when the write path refuses it. */
export interface BuiltObject {
  bytes: Uint8Array;
  /** For the error log, e.g. 'report SR'. */
  what: string;
  /** Ids (no patient data) for the error log, e.g. { reportId }. */
  context: Record<string, string>;
  /** The caller's message when it is not stored; the row is kept, and repeating the request finishes the store. */
  notStored: string;
}

/**
 * Stores a built object through the one write path (three locked copies, the study's retention), as the
 * study's clinic, attributed to the caller. A refusal is logged and answered 503 when retryable (500
 * otherwise); the caller records the store (sr_stored_at, kos_stored_at) only after this returns.
 */
export async function storeBuiltObject(deps: { pipeline: IngestPipeline; logger: Logger }, object: BuiltObject, clinicId: string, caller: Caller): Promise<void> {
  const outcome = await deps.pipeline.ingest(object.bytes, {
    clinicId,
    actor: { userId: caller.principal.userId, username: caller.principal.username, role: caller.principal.role },
    sourceIp: caller.sourceIp,
    via: 'SERVICE',
  });
  if (outcome.status === 'rejected') {
    deps.logger.error({ reason: outcome.reason, ...object.context }, `${object.what} refused by the ingest pipeline`);
    throw new AppError(outcome.retryable ? 'unavailable' : 'internal', object.notStored, { retryable: outcome.retryable });
  }
}
