import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type * as Minio from 'minio';
import { minio } from './minio.lazy';
import { AppError, isAppError, type Logger } from '@yunying/core';
import { GLOBAL_MINIMUM_RETENTION_YEARS } from './retention';
import { assertObjectKey, sha256Hex } from './keys';
import { originFromStrings, originToStrings } from './origin';
import { ObjectEnvelope } from './envelope/object.envelope';
import { isStorageKeyError } from './envelope/envelope.keys';
import { assertRecordKey, assertRecordPrefix, type RecordReceipt, type RecordVersion } from './records';
import type { ByteRange, CopyMeta, CopyReceipt, CopyStat, ListedObject, ReplicaTarget, VerifyExpectation, VerifyResult } from './target';
import { unverifiedResult } from './target';
import { checkRange, retentionNow, safeReason, streamToBytes, unavailable } from './util';

/**
 * A replica in one S3 bucket with Object Lock (MinIO, Ceph RGW, AWS S3). Each of the three copies has
 * its own bucket, each bucket may be on its own endpoint.
 *
 * Retention is enforced by the object store, not by this code: the bucket is created with Object Lock
 * and a default COMPLIANCE retention of the global minimum, so a version is locked from the moment it
 * exists; after the upload the exact retain-until is set on that version (extending only; S3 refuses
 * to shorten COMPLIANCE retention, to switch it to GOVERNANCE, or to delete the version, for anyone).
 *
 * Observed on Ceph RGW 16.2 (see infra/ceph): minio-js cannot send lock headers with putObject, hence
 * the separate putObjectRetention; RGW counts a default-retention "year" as 365 days; RGW answers
 * ObjectLockConfigurationNotFoundError for a version that never had a legal hold; RGW returns an
 * empty ETag for multipart uploads (> 64 MiB), so ETags are never used for integrity here.
 */
export interface S3ReplicaTargetOptions {
  name: string;
  /** `http://host:port` or `https://host`. */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region?: string;
  bucket: string;
  /** Seals new copies and opens sealed ones (#17); default: none (plain copies, sealed ones do not open). */
  envelope?: ObjectEnvelope;
  /** Lifecycle transition of the copies to a cold storage class after `afterDays` (#18); null or absent: none. */
  tiering?: { afterDays: number; storageClass: string } | null;
  logger?: Logger;
}

/** User metadata of a sealed version: the content size (the object's own size is the ciphertext's), so
 * that stat needs no read. Immutable with the version, like the origin. */
const CONTENT_SIZE_META = 'yunying-content-size';

/** The ID of the one lifecycle rule Yunying owns on a copy bucket; other rules are left as they are. */
export const TIERING_RULE_ID = 'yunying-cold-tier';

interface LifecycleRule {
  ID?: string;
  [field: string]: unknown;
}

const MIN_DEFAULT_DAYS = GLOBAL_MINIMUM_RETENTION_YEARS * 365;

function s3Code(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** RGW returns nanoseconds ("2050-01-01T00:00:00.000000000Z"); keep milliseconds. */
function parseS3Date(value: string): Date {
  return new Date(value.replace(/(\.\d{3})\d+/, '$1'));
}

interface Version {
  size: number;
  versionId: string | null;
  /** User metadata of the version (minio: lower-case names without the x-amz-meta- prefix). */
  metadata: Record<string, unknown>;
}

/** HEAD answers x-amz-storage-class only for a class other than STANDARD (AWS and RGW alike). */
function storageClassOf(metadata: Record<string, unknown>): string {
  const value = metadata['x-amz-storage-class'];
  return typeof value === 'string' && value !== '' ? value : 'STANDARD';
}

/** A version's content size: its own, or the one a sealed version records in its metadata. */
function contentSizeOf(version: Version): number {
  const recorded = version.metadata[CONTENT_SIZE_META];
  const size = typeof recorded === 'string' && /^\d{1,15}$/.test(recorded) ? Number(recorded) : null;
  return size ?? version.size;
}

/** minio's get/stat options for one version, or the current one. */
function versionOpts(versionId: string | null): { versionId?: string } {
  return versionId === null ? {} : { versionId };
}

const OBJECT_KEY = /^sha256\/[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{64}$/;

interface Lock {
  mode: string | null;
  retainUntil: Date | null;
}

export class S3ReplicaTarget implements ReplicaTarget {
  readonly kind = 's3' as const;
  readonly name: string;
  readonly bucket: string;
  readonly endpoint: string;
  private readonly region: string;
  private readonly client: Minio.Client;
  private readonly logger: Logger | undefined;
  private readonly tiering: { afterDays: number; storageClass: string } | null;
  /** The bucket's default retention in days, as ensureBucket found or set it (the global minimum before). */
  private defaultRetentionDays = MIN_DEFAULT_DAYS;
  private readonly envelope: ObjectEnvelope;

  constructor(options: S3ReplicaTargetOptions) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(options.name)) {
      throw new AppError('config_invalid', 'replica name must be 1-64 characters of [A-Za-z0-9_.-]');
    }
    let url: URL;
    try {
      url = new URL(options.endpoint);
    } catch {
      throw new AppError('config_invalid', `replica ${options.name}: S3 endpoint is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new AppError('config_invalid', `replica ${options.name}: S3 endpoint must be http(s)`);
    }
    this.name = options.name;
    this.bucket = options.bucket;
    this.endpoint = url.origin;
    this.region = options.region ?? 'us-east-1';
    this.logger = options.logger;
    this.tiering = options.tiering ?? null;
    if (this.tiering !== null && (!Number.isInteger(this.tiering.afterDays) || this.tiering.afterDays < 1)) {
      throw new AppError('config_invalid', `replica ${options.name}: tiering needs a whole number of days ≥ 1`);
    }
    this.envelope = options.envelope ?? ObjectEnvelope.plain();
    const useSSL = url.protocol === 'https:';
    this.client = new (minio().Client)({
      endPoint: url.hostname,
      port: url.port === '' ? (useSSL ? 443 : 80) : Number(url.port),
      useSSL,
      accessKey: options.accessKey,
      secretKey: options.secretKey,
      region: this.region,
      pathStyle: true,
    });
  }

  init(): Promise<void> {
    return this.ensureBucket();
  }

  /**
   * Creates the bucket with Object Lock (which turns on versioning) when absent, and makes sure its
   * default retention is COMPLIANCE for at least the global minimum. Refuses a bucket without Object Lock:
   * it cannot be turned on later, and copies there would be deletable.
   */
  async ensureBucket(): Promise<void> {
    try {
      if (!(await this.client.bucketExists(this.bucket))) {
        try {
          await this.client.makeBucket(this.bucket, this.region, { ObjectLocking: true });
        } catch (error) {
          if (s3Code(error) !== 'BucketAlreadyOwnedByYou') throw error;
        }
      }
      let config: Minio.ObjectLockInfo | undefined;
      try {
        // The one-argument overload is typed void in minio 8 but returns a promise.
        config = await (this.client.getObjectLockConfig(this.bucket) as unknown as Promise<Minio.ObjectLockInfo>);
      } catch (error) {
        const code = s3Code(error);
        if (code !== 'ObjectLockConfigurationNotFoundError' && code !== 'NoSuchObjectLockConfiguration') throw error;
      }
      if (config === undefined || !('objectLockEnabled' in config) || config.objectLockEnabled !== 'Enabled') {
        throw new AppError('config_invalid', `replica ${this.name}: bucket has no Object Lock; create a new bucket`);
      }
      const days = config.unit === 'Years' ? config.validity * 365 : config.unit === 'Days' ? config.validity : 0;
      this.defaultRetentionDays = config.mode === 'COMPLIANCE' && days >= MIN_DEFAULT_DAYS ? days : MIN_DEFAULT_DAYS;
      if (config.mode !== 'COMPLIANCE' || days < MIN_DEFAULT_DAYS) {
        await (this.client.setObjectLockConfig(this.bucket, {
          mode: minio().RETENTION_MODES.COMPLIANCE,
          unit: minio().RETENTION_VALIDITY_UNITS.YEARS,
          validity: GLOBAL_MINIMUM_RETENTION_YEARS,
        }) as unknown as Promise<void>);
      }
      await this.applyTiering();
    } catch (error) {
      throw this.mapError(error, 'cannot prepare the bucket');
    }
  }

  /**
   * PutObject with its COMPLIANCE retention (and legal hold) in the same request, as x-amz-object-lock-*
   * headers (minio's putObject would turn them into user metadata). One request rather than PutObject then
   * PutObjectRetention matters for tiering (#18): RGW 16.2's lifecycle does not transition a version whose
   * lock was set after the upload (ECANCELED in its log; observed). The retain-until is the later of the
   * one asked (rounded up to the second: S3 dates have seconds) and the bucket's default retention, which
   * an explicit date would otherwise replace. Returns the new version id.
   */
  private async putLocked(key: string, body: Buffer, userMeta: Record<string, string>, meta: CopyMeta): Promise<string | null> {
    const floor = Date.now() + this.defaultRetentionDays * 86_400_000;
    const until = new Date(Math.ceil(Math.max(meta.retainUntil.getTime(), floor) / 1000) * 1000);
    const headers: Record<string, string | number> = {
      'Content-Type': 'application/octet-stream',
      'Content-Length': body.length,
      'Content-MD5': createHash('md5').update(body).digest('base64'),
      'x-amz-object-lock-mode': 'COMPLIANCE',
      'x-amz-object-lock-retain-until-date': until.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      ...(meta.legalHold ? { 'x-amz-object-lock-legal-hold': 'ON' } : {}),
    };
    for (const [name, value] of Object.entries(userMeta)) headers[`x-amz-meta-${name}`] = value;
    const response = await this.client.makeRequestAsync({ method: 'PUT', bucketName: this.bucket, objectName: key, headers }, body, [200]);
    response.resume();
    const versionId = response.headers['x-amz-version-id'];
    return typeof versionId === 'string' && versionId !== '' ? versionId : null;
  }

  /**
   * Storage tiering (#18): one lifecycle rule on the copies (sha256/ only; audit records stay hot) moves
   * each version `afterDays` after it was written to the cold storage class, current and noncurrent alike
   * (a noncurrent version is still a recorded copy). A transition changes where the bytes lie, not the
   * version, its metadata or its Object Lock retention; reads need no restore on Ceph RGW classes (pools
   * of the same cluster). Without a policy the rule is removed; rules of others are kept.
   */
  private async applyTiering(): Promise<void> {
    let rules: LifecycleRule[] = [];
    try {
      const current = (await this.client.getBucketLifecycle(this.bucket)) as unknown as { Rule?: LifecycleRule | LifecycleRule[] } | null;
      rules = current?.Rule === undefined ? [] : Array.isArray(current.Rule) ? current.Rule : [current.Rule];
    } catch (error) {
      if (s3Code(error) !== 'NoSuchLifecycleConfiguration') throw error;
    }
    const others = rules.filter((r) => r.ID !== TIERING_RULE_ID);
    if (this.tiering === null) {
      if (others.length === rules.length) return;
      if (others.length === 0) await this.client.removeBucketLifecycle(this.bucket);
      else await this.client.setBucketLifecycle(this.bucket, { Rule: others } as unknown as Minio.LifecycleConfig);
      return;
    }
    const ours: LifecycleRule = {
      ID: TIERING_RULE_ID,
      Status: 'Enabled',
      Filter: { Prefix: 'sha256/' },
      Transition: { Days: this.tiering.afterDays, StorageClass: this.tiering.storageClass },
      NoncurrentVersionTransition: { NoncurrentDays: this.tiering.afterDays, StorageClass: this.tiering.storageClass },
    };
    await this.client.setBucketLifecycle(this.bucket, { Rule: [...others, ours] } as unknown as Minio.LifecycleConfig);
  }

  released(bytes: Uint8Array): void {
    this.envelope.release(bytes);
  }

  async put(key: string, bytes: Uint8Array, meta: CopyMeta): Promise<CopyReceipt> {
    const hex = assertObjectKey(key);
    if (hex !== meta.sha256 || bytes.length !== meta.size) {
      throw new AppError('internal', `replica ${this.name}: put with bytes that do not match their key`);
    }
    try {
      let version = await this.currentVersion(key);
      let existingHold = false;
      if (version !== null && (await this.hashVersion(key, version.versionId)) === hex) {
        // Idempotent re-put: the good version stays; only its retention may grow.
        existingHold = await this.legalHoldOf(key, version.versionId);
      } else {
        if (version !== null) {
          // A corrupt current version cannot be overwritten (it is locked); a new good version goes on
          // top and the bad one expires with its own retention.
          this.logger?.warn({ replica: this.name, sha256: hex }, 'storage: current S3 version is corrupt, writing a new one');
        }
        // The sealed object when encryption is on (one seal shared by the three copies).
        const stored = await this.envelope.seal(bytes);
        const buffer = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
        // The origin rides as user metadata: immutable with the version, so it is as durable as the bytes.
        const userMeta = { sha256: hex, ...(stored === bytes ? {} : { [CONTENT_SIZE_META]: String(bytes.length) }), ...(meta.origin === undefined ? {} : originToStrings(meta.origin)) };
        const uploadedVersion = await this.putLocked(key, buffer, userMeta, meta);
        version = uploadedVersion !== null ? { size: buffer.length, versionId: uploadedVersion, metadata: {} } : await this.currentVersion(key);
        if (version === null) throw new AppError('unavailable', `replica ${this.name}: object not visible after upload`, { retryable: true });
      }
      if (version.versionId === null) {
        throw new AppError('config_invalid', `replica ${this.name}: bucket is not versioned (no Object Lock)`);
      }
      const retainUntil = await this.lockAtLeast(key, version.versionId, meta.retainUntil);
      if (meta.legalHold && !existingHold && !(await this.legalHoldOf(key, version.versionId))) await this.writeLegalHold(key, version.versionId, true);
      return {
        target: this.name,
        key,
        sha256: hex,
        size: bytes.length,
        retainUntil,
        legalHold: meta.legalHold || existingHold,
        lockMode: 'COMPLIANCE',
        versionId: version.versionId,
      };
    } catch (error) {
      throw this.mapError(error, 'write failed');
    }
  }

  async stat(key: string, versionId: string | null = null): Promise<CopyStat | null> {
    assertObjectKey(key);
    try {
      const version = await this.currentVersion(key, versionId);
      if (version === null) return null;
      const lock = await this.lockOf(key, version.versionId);
      return {
        key,
        size: contentSizeOf(version),
        lockMode: lock.mode === 'COMPLIANCE' ? 'COMPLIANCE' : null,
        retainUntil: lock.retainUntil,
        legalHold: await this.legalHoldOf(key, version.versionId),
        versionId: version.versionId,
        origin: originFromStrings(version.metadata),
        storageClass: storageClassOf(version.metadata),
      };
    } catch (error) {
      throw this.mapError(error, 'stat failed');
    }
  }

  /** ListObjectsV2 under sha256/ (key order, 1000 a page, streamed): current versions only, since a key's
   * current version is the copy (a delete marker hides a key, as a missing copy). */
  async *list(): AsyncIterable<ListedObject> {
    try {
      for await (const item of this.client.listObjectsV2(this.bucket, 'sha256/', true) as AsyncIterable<{ name?: string; size?: number }>) {
        if (typeof item.name === 'string' && OBJECT_KEY.test(item.name)) yield { key: item.name, size: item.size ?? 0 };
      }
    } catch (error) {
      throw this.mapError(error, 'list failed');
    }
  }

  async read(key: string, versionId: string | null = null): Promise<Uint8Array> {
    assertObjectKey(key);
    let stored: Uint8Array;
    try {
      stored = await streamToBytes(await this.client.getObject(this.bucket, key, versionOpts(versionId)));
    } catch (error) {
      throw this.mapError(error, 'read failed');
    }
    return this.envelope.open(stored);
  }

  async readRange(key: string, offset: number, length: number, versionId: string | null = null): Promise<Uint8Array> {
    return streamToBytes(await this.readStream(key, { offset, length }, versionId));
  }

  async readStream(key: string, range?: ByteRange, versionId: string | null = null): Promise<Readable> {
    assertObjectKey(key);
    if (range) checkRange(range.offset, range.length);
    // minio treats length 0 as "to the end"; an empty range is empty.
    if (range && range.length === 0) return Readable.from([]);
    if (range) {
      // A sealed copy: the header, then only the segments covering the range (two ranged GETs).
      const opened = await this.envelope.openRange(async (o, l) => streamToBytes(await this.storedStream(key, { offset: o, length: l }, versionId)), range.offset, range.length);
      if (opened !== null) return Readable.from([opened]);
      return this.storedStream(key, range, versionId);
    }
    let stored: Readable;
    try {
      stored = await this.client.getObject(this.bucket, key, versionOpts(versionId));
    } catch (error) {
      throw this.mapError(error, 'read failed');
    }
    // Whole object: opened segment by segment as it streams (unsealed copies pass through).
    return this.envelope.openStream(stored);
  }

  /** The stored bytes of a range, as they are in the bucket. */
  private async storedStream(key: string, range: ByteRange, versionId: string | null): Promise<Readable> {
    if (range.length === 0) return Readable.from([]);
    try {
      return await this.client.getPartialObject(this.bucket, key, range.offset, range.length, versionOpts(versionId));
    } catch (error) {
      // A range that starts at or after the end is empty, as on fs.
      if (s3Code(error) === 'InvalidRange') return Readable.from([]);
      throw this.mapError(error, 'read failed');
    }
  }

  async verify(key: string, expected: VerifyExpectation): Promise<VerifyResult> {
    assertObjectKey(key);
    const result: VerifyResult = unverifiedResult(this.name, key);
    const recorded = expected.versionId ?? null;
    try {
      result.tampering = await this.historyProblems(key, recorded);
      const version = await this.currentVersion(key, recorded);
      if (version === null) {
        result.problems.push(recorded === null ? 'copy missing' : 'recorded version missing');
        return result;
      }
      result.exists = true;
      result.storageClass = storageClassOf(version.metadata);
      // Sealed copies are opened and the content hashed (see the fs target and docs/security-storage.md).
      const content = await this.contentOf(key, version.versionId);
      if (content === null) {
        result.problems.push('sealed copy does not authenticate (tampered or corrupt)');
      } else {
        result.sizeOk = content.size === expected.size;
        if (!result.sizeOk) result.problems.push(`size ${content.size}, expected ${expected.size}`);
        result.sha256Ok = content.sha256 === expected.sha256;
        if (!result.sha256Ok) result.problems.push('SHA-256 mismatch');
      }
      const lock = await this.lockOf(key, version.versionId);
      result.lockMode = lock.mode === 'COMPLIANCE' ? 'COMPLIANCE' : null;
      result.retainUntil = lock.retainUntil;
      if (result.lockMode === null) result.problems.push(`lock mode ${lock.mode ?? 'none'}, expected COMPLIANCE`);
      const longEnough = lock.retainUntil !== null && lock.retainUntil.getTime() >= expected.retainUntil.getTime();
      if (!longEnough) result.problems.push('retain-until earlier than expected');
      result.lockOk = result.lockMode === 'COMPLIANCE' && longEnough;
      result.ok = result.sizeOk && result.sha256Ok && result.lockOk;
      return result;
    } catch (error) {
      throw this.mapError(error, 'verify failed');
    }
  }

  /** Refuses before retain-until and under legal hold; the bucket refuses as well (COMPLIANCE), this
   * check only gives the caller a clear error. Deletes the current version only. */
  async remove(key: string, now: Date): Promise<void> {
    assertObjectKey(key);
    let version: Version | null;
    let lock: Lock;
    let hold: boolean;
    try {
      version = await this.currentVersion(key);
      if (version === null) throw new AppError('not_found', `replica ${this.name}: no such object`);
      lock = await this.lockOf(key, version.versionId);
      hold = await this.legalHoldOf(key, version.versionId);
    } catch (error) {
      throw this.mapError(error, 'delete failed');
    }
    if (hold) throw new AppError('retention_locked', `replica ${this.name}: object is under legal hold`);
    if (lock.retainUntil !== null && retentionNow(now).getTime() < lock.retainUntil.getTime()) {
      throw new AppError('retention_locked', `replica ${this.name}: object is retained until ${lock.retainUntil.toISOString()}`);
    }
    try {
      await this.client.removeObject(this.bucket, key, version.versionId === null ? {} : { versionId: version.versionId });
    } catch (error) {
      if (s3Code(error) === 'AccessDenied') {
        throw new AppError('retention_locked', `replica ${this.name}: the bucket refused the delete (object lock)`, { cause: error });
      }
      throw this.mapError(error, 'delete failed');
    }
  }

  async setLegalHold(key: string, on: boolean): Promise<void> {
    assertObjectKey(key);
    try {
      const version = await this.currentVersion(key);
      if (version === null) throw new AppError('not_found', `replica ${this.name}: no such object`);
      await this.writeLegalHold(key, version.versionId, on);
    } catch (error) {
      throw this.mapError(error, 'legal hold update failed');
    }
  }

  async assertExists(): Promise<void> {
    let exists: boolean;
    try {
      exists = await this.client.bucketExists(this.bucket);
    } catch (error) {
      throw unavailable(this.name, 'S3 endpoint not reachable', error);
    }
    if (!exists) {
      throw new AppError('config_invalid', `replica ${this.name}: bucket ${this.bucket} is missing; this role does not create buckets (start ingest or keeper first)`);
    }
  }

  async probe(): Promise<void> {
    let exists: boolean;
    try {
      exists = await this.client.bucketExists(this.bucket);
    } catch (error) {
      throw unavailable(this.name, 'S3 endpoint not reachable', error);
    }
    if (!exists) throw new AppError('unavailable', `replica ${this.name}: bucket missing`, { retryable: true });
  }

  /**
   * The bucket's Object Lock configuration as `ensureBucket` left it (#17): enabled, default COMPLIANCE of
   * at least the global minimum. Someone holding a key with PutBucketObjectLockConfiguration can lower the
   * default, so that new versions would no longer be locked; that is a finding, never silently put back
   * here (only an init, by a role allowed to, writes the configuration).
   */
  async checkProtection(): Promise<string[]> {
    let config: Minio.ObjectLockInfo | undefined;
    try {
      config = await (this.client.getObjectLockConfig(this.bucket) as unknown as Promise<Minio.ObjectLockInfo>);
    } catch (error) {
      const code = s3Code(error);
      if (code === 'ObjectLockConfigurationNotFoundError' || code === 'NoSuchObjectLockConfiguration') return ['bucket Object Lock is disabled'];
      throw this.mapError(error, 'lock configuration read failed');
    }
    if (config === undefined || !('objectLockEnabled' in config) || config.objectLockEnabled !== 'Enabled') return ['bucket Object Lock is disabled'];
    const problems: string[] = [];
    if (config.mode !== 'COMPLIANCE') problems.push(`bucket default retention mode ${config.mode ?? 'none'}, expected COMPLIANCE`);
    const days = config.unit === 'Years' ? config.validity * 365 : config.unit === 'Days' ? config.validity : 0;
    if (days < MIN_DEFAULT_DAYS) problems.push(`bucket default retention ${days} days, expected at least ${MIN_DEFAULT_DAYS}`);
    return problems;
  }

  /**
   * What was written at the key after the recorded version (#17): later versions and delete markers. The
   * archive writes at most one version of a key, and a second only on top of a corrupt one (put), which the
   * catalog then records; versions older than the recorded one are therefore history, not findings.
   * Without a recorded version, only delete markers are counted (they hide the copy).
   */
  private async historyProblems(key: string, recorded: string | null): Promise<string[]> {
    type Listed = { name?: string; lastModified?: Date; versionId?: string | null; isDeleteMarker?: boolean };
    const versions: Listed[] = [];
    for await (const item of this.client.listObjects(this.bucket, key, true, { IncludeVersion: true }) as AsyncIterable<Listed>) {
      if (item.name === key) versions.push(item);
    }
    const recordedAt = versions.find((v) => v.versionId === recorded && v.isDeleteMarker !== true)?.lastModified?.getTime();
    const markers = versions.filter((v) => v.isDeleteMarker === true).length;
    const later =
      recorded === null || recordedAt === undefined
        ? 0
        : versions.filter((v) => v.isDeleteMarker !== true && v.versionId !== recorded && (v.lastModified?.getTime() ?? Infinity) >= recordedAt).length;
    const problems: string[] = [];
    if (later > 0) problems.push(`${later} version(s) written after the recorded one`);
    if (markers > 0) problems.push(`${markers} delete marker(s)`);
    return problems;
  }

  /** The legal hold status of the current version (S3 API), for tests and auditors. */
  async legalHold(key: string): Promise<boolean> {
    assertObjectKey(key);
    try {
      const version = await this.currentVersion(key);
      if (version === null) throw new AppError('not_found', `replica ${this.name}: no such object`);
      return await this.legalHoldOf(key, version.versionId);
    } catch (error) {
      throw this.mapError(error, 'legal hold read failed');
    }
  }

  /** The recorded version when one is given, else the current one; null when absent. */
  private async currentVersion(key: string, versionId: string | null = null): Promise<Version | null> {
    try {
      const st = await this.client.statObject(this.bucket, key, versionOpts(versionId));
      return { size: st.size, versionId: st.versionId ?? null, metadata: st.metaData };
    } catch (error) {
      const code = s3Code(error);
      if (code === 'NotFound' || code === 'NoSuchKey' || code === 'NoSuchVersion') return null;
      throw error;
    }
  }

  /** SHA-256 of a version's content (a sealed one opened); `''` when a sealed version does not
   * authenticate (corrupt). A version whose key is not in the key file throws: it cannot be judged. */
  private async hashVersion(key: string, versionId: string | null): Promise<string> {
    return (await this.contentOf(key, versionId))?.sha256 ?? '';
  }

  /** The content digest of a version; null when it is sealed and does not authenticate. */
  private async contentOf(key: string, versionId: string | null): Promise<{ sha256: string; size: number } | null> {
    const stream = await this.client.getObject(this.bucket, key, versionId === null ? {} : { versionId });
    try {
      return await this.envelope.digest(stream);
    } catch (error) {
      if (isStorageKeyError(error) && error.problem !== 'key_unavailable') return null;
      throw error;
    }
  }

  private async lockOf(key: string, versionId: string | null): Promise<Lock> {
    try {
      const info = await this.client.getObjectRetention(this.bucket, key, versionId === null ? undefined : { versionId });
      if (!info?.retainUntilDate) return { mode: info?.mode ?? null, retainUntil: null };
      return { mode: info.mode, retainUntil: parseS3Date(info.retainUntilDate) };
    } catch (error) {
      const code = s3Code(error);
      if (code === 'NoSuchObjectLockConfiguration' || code === 'ObjectLockConfigurationNotFoundError') return { mode: null, retainUntil: null };
      throw error;
    }
  }

  private async legalHoldOf(key: string, versionId: string | null): Promise<boolean> {
    try {
      // Typed as a string, but minio 8 returns the parsed XML ({ Status: 'ON' }); accept both.
      const status: unknown = await this.client.getObjectLegalHold(this.bucket, key, versionId === null ? undefined : { versionId });
      const value = typeof status === 'object' && status !== null ? (status as { Status?: unknown }).Status : status;
      return value === 'ON';
    } catch (error) {
      const code = s3Code(error);
      // RGW/AWS: a version that never had a legal hold has no legal hold configuration.
      if (code === 'NoSuchObjectLockConfiguration' || code === 'ObjectLockConfigurationNotFoundError') return false;
      throw error;
    }
  }

  private async writeLegalHold(key: string, versionId: string | null, on: boolean): Promise<void> {
    const status = on ? minio().LEGAL_HOLD_STATUS.ENABLED : minio().LEGAL_HOLD_STATUS.DISABLED;
    // Typed void in minio 8, but it is async: wait for it, or a failure would go unnoticed.
    await (this.client.setObjectLegalHold(this.bucket, key, versionId === null ? { status } : { status, versionId }) as unknown as Promise<void>);
  }

  async extendRetention(key: string, versionId: string | null, retainUntil: Date): Promise<Date> {
    assertObjectKey(key);
    try {
      // The catalog records the version that was locked; without one, the current version is the copy.
      const version = versionId ?? (await this.currentVersion(key))?.versionId ?? null;
      if (version === null) throw new AppError('not_found', `replica ${this.name}: no such object`);
      // RGW/AWS accept a later COMPLIANCE date on a locked version and refuse an earlier one; lockAtLeast
      // below never asks for an earlier one.
      return await this.lockAtLeast(key, version, retainUntil);
    } catch (error) {
      throw this.mapError(error, 'retention extension failed');
    }
  }

  async putRecord(key: string, bytes: Uint8Array, retainUntil: Date): Promise<RecordReceipt> {
    assertRecordKey(key);
    try {
      const hex = sha256Hex(bytes);
      const versions = (await this.listRecords(key)).filter((v) => v.key === key);
      for (const v of versions) {
        // Compared opened (a sealed version's size is not the content's): a retry of the same record is no conflict.
        if (v.deleteMarker || v.versionId === null) continue;
        if (sha256Hex(await this.readRecord(key, v.versionId)) !== hex) continue;
        return { target: this.name, key, versionId: v.versionId, retainUntil: await this.lockAtLeast(key, v.versionId, retainUntil), created: false };
      }
      // A second version under the name would hide the first from plain reads: never write one.
      if (versions.length > 0) throw new AppError('conflict', `replica ${this.name}: record already holds other content`);
      // Sealed like the objects: audit records name users and studies.
      const stored = await this.envelope.seal(bytes);
      const buffer = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
      const uploaded = await this.client.putObject(this.bucket, key, buffer, buffer.length, { 'Content-Type': 'application/octet-stream' });
      if (!uploaded.versionId) throw new AppError('config_invalid', `replica ${this.name}: bucket is not versioned (no Object Lock)`);
      return { target: this.name, key, versionId: uploaded.versionId, retainUntil: await this.lockAtLeast(key, uploaded.versionId, retainUntil), created: true };
    } catch (error) {
      throw this.mapError(error, 'record write failed');
    }
  }

  async listRecords(prefix: string): Promise<RecordVersion[]> {
    assertRecordPrefix(prefix);
    type Listed = { name?: string; size?: number; lastModified?: Date; versionId?: string | null; isLatest?: unknown; isDeleteMarker?: boolean };
    const out: RecordVersion[] = [];
    try {
      const stream = this.client.listObjects(this.bucket, prefix, true, { IncludeVersion: true });
      for await (const item of stream as AsyncIterable<Listed>) {
        if (item.name === undefined) continue;
        out.push({
          key: item.name,
          versionId: item.versionId ?? null,
          // The XML parser gives "true"/"false" strings.
          latest: String(item.isLatest) === 'true',
          deleteMarker: item.isDeleteMarker === true,
          size: item.size ?? 0,
          lastModified: item.lastModified ?? null,
        });
      }
    } catch (error) {
      throw this.mapError(error, 'record listing failed');
    }
    return out;
  }

  async readRecord(key: string, versionId: string | null): Promise<Uint8Array> {
    assertRecordKey(key);
    let stored: Uint8Array;
    try {
      stored = await streamToBytes(await this.client.getObject(this.bucket, key, versionId === null ? {} : { versionId }));
    } catch (error) {
      throw this.mapError(error, 'record read failed');
    }
    // Records written before they were sealed (or with encryption off) are returned as they are.
    return this.envelope.open(stored);
  }

  /** Sets COMPLIANCE retention to `wanted` unless the version already has COMPLIANCE at least that long
   * (bucket default or an earlier put); returns the retain-until now in force, as read back. */
  private async lockAtLeast(key: string, versionId: string, wanted: Date): Promise<Date> {
    const current = await this.lockOf(key, versionId);
    if (current.mode === 'COMPLIANCE' && current.retainUntil !== null && current.retainUntil.getTime() >= wanted.getTime()) {
      return current.retainUntil;
    }
    await this.client.putObjectRetention(this.bucket, key, {
      mode: minio().RETENTION_MODES.COMPLIANCE,
      retainUntilDate: wanted.toISOString(),
      versionId,
    });
    const after = await this.lockOf(key, versionId);
    if (after.mode !== 'COMPLIANCE' || after.retainUntil === null || after.retainUntil.getTime() < wanted.getTime()) {
      throw new AppError('unavailable', `replica ${this.name}: retention did not take effect`, { retryable: true });
    }
    return after.retainUntil;
  }

  private mapError(error: unknown, what: string): AppError {
    if (isAppError(error)) return error;
    const code = s3Code(error);
    if (code === 'NotFound' || code === 'NoSuchKey' || code === 'NoSuchVersion') return new AppError('not_found', `replica ${this.name}: no such object`);
    this.logger?.warn({ replica: this.name, code, reason: safeReason(error) }, `storage: S3 ${what}`);
    return unavailable(this.name, what, error);
  }
}
