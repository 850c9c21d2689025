import { AppError } from '@yunying/core';

/**
 * Named write-once records kept beside the content-addressed copies, under `audit/` (issue #17: the signed
 * audit checkpoints and the exported audit segments). Content addressing does not fit them: a verifier must
 * find them by listing, without an index a database superuser could edit. Each record is written once,
 * retention-locked like a copy (S3: COMPLIANCE on the version; fs: read-only file and retention sidecar), and
 * never replaced: a name that already holds other bytes is refused.
 *
 * On S3 a locked version cannot be deleted or overwritten, but anyone with write access to the bucket can put
 * a NEWER version on top or a delete marker: plain reads then see the forgery or nothing. listRecords therefore
 * returns every version, hidden ones included, so a verifier reads what was written first and reports the rest.
 */
export interface RecordVersion {
  key: string;
  /** S3 version id; null on fs, where a name has one version. */
  versionId: string | null;
  /** False when a later version or a delete marker hides this one from plain reads. */
  latest: boolean;
  /** An S3 delete marker: the name was "removed" (the locked versions beneath it stay readable). */
  deleteMarker: boolean;
  size: number;
  lastModified: Date | null;
}

export interface RecordReceipt {
  target: string;
  key: string;
  versionId: string | null;
  /** Retain-until in force, as read back from the store. */
  retainUntil: Date;
  /** False when the name already held these very bytes (an idempotent re-put). */
  created: boolean;
}

export interface WormRecordTarget {
  readonly name: string;
  /** Writes `bytes` under `key` once, locked until at least `retainUntil`, sealed by the target's envelope as
   * its objects are (records name users and studies). Idempotent for the same bytes (compared opened);
   * throws AppError('conflict') when the name holds other bytes (in any version). */
  putRecord(key: string, bytes: Uint8Array, retainUntil: Date): Promise<RecordReceipt>;
  /** Every version of every record whose key starts with `prefix` (delete markers and hidden versions too). */
  listRecords(prefix: string): Promise<RecordVersion[]>;
  /** The bytes of one version (`versionId` null: the only or current one), opened; a record stored unsealed
   * comes back as stored. AppError('not_found') when absent. */
  readRecord(key: string, versionId: string | null): Promise<Uint8Array>;
}

const RECORD_KEY = /^audit(\/[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}){1,6}$/;
const RECORD_PREFIX = /^audit(\/[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}){0,6}\/?$/;

/** Throws bad_request unless `key` is a record key: `audit/` and up to six safe path parts (none starts with a
 * dot, so no `..`): keeps a caller's key inside the replica root and apart from `sha256/`. */
export function assertRecordKey(key: string): void {
  if (!RECORD_KEY.test(key)) throw new AppError('bad_request', 'record key is not of the form audit/<part>/...');
}

export function assertRecordPrefix(prefix: string): void {
  if (!RECORD_PREFIX.test(prefix)) throw new AppError('bad_request', 'record prefix is not of the form audit/<part>/...');
}
