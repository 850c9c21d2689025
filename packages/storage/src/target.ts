import type { Readable } from 'node:stream';
import type { WormRecordTarget } from './records';

export type LockMode = 'COMPLIANCE' | 'FS_READONLY';

/**
 * Who sent an object and when, written with every copy (fs: the retention sidecar; S3: object metadata,
 * immutable per version) so that the catalog can be rebuilt from the copies alone (`rebuild-catalog`,
 * #18): the DICOM bytes do not say which clinic sent them. No patient data: a clinic id and code.
 */
export interface ObjectOrigin {
  clinicId: string;
  clinicCode: string;
  receivedAt: Date;
}

export interface CopyMeta {
  sha256: string;
  size: number;
  retainUntil: Date;
  legalHold: boolean;
  /** Recorded on the first write of a copy only; a later put never changes it. */
  origin?: ObjectOrigin;
}

/** Proof that one copy is durable and retention-locked on one target. */
export interface CopyReceipt {
  target: string;
  key: string;
  sha256: string;
  size: number;
  /** The retain-until in force on the copy: never earlier than asked, later when the copy already had a
   * longer one (re-put) or the S3 bucket's default retention was longer. */
  retainUntil: Date;
  legalHold: boolean;
  lockMode: LockMode;
  /** S3 object version that carries the lock; null on fs. */
  versionId: string | null;
}

export interface CopyStat {
  key: string;
  size: number;
  lockMode: LockMode | null;
  /** Null when the copy carries no retention (fs: sidecar missing; S3: no lock on the version). */
  retainUntil: Date | null;
  legalHold: boolean;
  versionId: string | null;
  /** Null for copies written before origins were recorded, or by a writer that gave none. */
  origin: ObjectOrigin | null;
  /** S3: the version's storage class (STANDARD, or the cold class after a lifecycle transition, #18); fs: null. */
  storageClass: string | null;
}

/** One object found by listing a target (its name and size as the target reports them). */
export interface ListedObject {
  key: string;
  size: number;
}

export interface VerifyExpectation {
  sha256: string;
  size: number;
  retainUntil: Date;
  /** The S3 version the catalog recorded for this copy (#17): that version is the copy, whatever is
   * current. Null or absent: the current version (copies recorded before versions were, and fs). */
  versionId?: string | null;
}

export interface VerifyResult {
  target: string;
  key: string;
  ok: boolean;
  exists: boolean;
  sizeOk: boolean;
  sha256Ok: boolean;
  /** fs: sidecar present, retain-until not earlier than expected, file read-only. S3: COMPLIANCE and not earlier. */
  lockOk: boolean;
  lockMode: LockMode | null;
  retainUntil: Date | null;
  /** Human-readable, safe (no paths, no patient data). Empty when ok. */
  problems: string[];
  /**
   * Signs that someone with the object store's credentials changed the key's history (#17, S3): versions
   * written after the recorded one, delete markers. The recorded version may still be good (then `ok`
   * stays true: reads ask for it), but each is a Security Alert. Always empty on fs (no versions).
   */
  tampering: string[];
  /** S3: the storage class the copy was found in (a transitioned copy is read and verified like any other); fs or not reached: null. */
  storageClass: string | null;
}

export interface ByteRange {
  /** First byte, inclusive. */
  offset: number;
  /** Number of bytes; clipped at the end of the object. */
  length: number;
}

/**
 * One place that holds one copy of every object. Implementations: FsReplicaTarget, S3ReplicaTarget.
 * Every method throws AppError: 'unavailable' (retryable) when the target cannot be reached,
 * 'not_found' for a missing key on read, 'retention_locked' on a refused delete.
 */
export interface ReplicaTarget extends WormRecordTarget {
  readonly name: string;
  readonly kind: 'fs' | 's3';
  /** Prepare the target (fs: root + marker; S3: bucket with Object Lock). Idempotent. */
  init(): Promise<void>;
  /** Durable, locked write. Idempotent for the same content; extends (never shortens) retention. */
  put(key: string, bytes: Uint8Array, meta: CopyMeta): Promise<CopyReceipt>;
  /** Every copy's put of `bytes` has ended (ReplicatedStore.put): drop what was kept for them, the sealed
   * form the copies shared. Optional; a put after it seals again. */
  released?(bytes: Uint8Array): void;
  /** `versionId` (S3): that version, not the current one; ignored on fs. */
  stat(key: string, versionId?: string | null): Promise<CopyStat | null>;
  /** Every object key on the target (`sha256/ab/cd/<hex>` only: no sidecars, temp files or markers), in
   * key order, streamed: the orphan sweep and rebuild-catalog walk billions of them. */
  list(): AsyncIterable<ListedObject>;
  /** Reads take the version the catalog recorded (S3; ignored on fs), so that a later version or a
   * delete marker written with a leaked key is never what is served (#17). Null: the current version. */
  read(key: string, versionId?: string | null): Promise<Uint8Array>;
  readRange(key: string, offset: number, length: number, versionId?: string | null): Promise<Uint8Array>;
  readStream(key: string, range?: ByteRange, versionId?: string | null): Promise<Readable>;
  verify(key: string, expected: VerifyExpectation): Promise<VerifyResult>;
  /** Throws AppError('retention_locked') before retain-until or under legal hold. `now` later than the
   * system clock is not believed (it could only be used to delete early). */
  remove(key: string, now: Date): Promise<void>;
  setLegalHold(key: string, on: boolean): Promise<void>;
  /** Extends the existing copy's lock to at least `retainUntil`, never shortening it (S3: PutObjectRetention
   * COMPLIANCE on `versionId`, or the current version when null; fs: the sidecar). Returns the retain-until
   * now in force, as read back from the store. Throws AppError('not_found') when the copy is absent. */
  extendRetention(key: string, versionId: string | null, retainUntil: Date): Promise<Date>;
  /** For roles that must not prepare targets (read-only credentials): resolves when the bucket / root
   * exists, throws AppError('config_invalid') when it does not (someone must run init with a role allowed
   * to), AppError('unavailable') when it cannot be reached. Changes nothing. */
  assertExists(): Promise<void>;
  /** Readiness: resolves when the target can take writes, throws AppError('unavailable') otherwise. */
  probe(): Promise<void>;
  /**
   * What is wrong with the target's own protection, for the scrubber (#17): S3, Object Lock disabled or
   * the bucket's default retention no longer COMPLIANCE for at least the global minimum; fs, the root's
   * retention marker gone. Empty when all is as `init` left it. Reads only: never changes the target.
   */
  checkProtection(): Promise<string[]>;
}

/** A verification result with nothing confirmed yet; each target fills in what it checks. */
export function unverifiedResult(target: string, key: string, problems: string[] = []): VerifyResult {
  return { target, key, ok: false, exists: false, sizeOk: false, sha256Ok: false, lockOk: false, lockMode: null, retainUntil: null, problems, tampering: [], storageClass: null };
}
