import type { Readable } from 'node:stream';
import { AppError, describeError, isAppError, type Logger } from '@yunying/core';
import { isStorageKeyError, type StorageKeyError } from './envelope/envelope.keys';
import { assertObjectKey, objectKey, sha256Hex } from './keys';
import type { ByteRange, CopyMeta, CopyReceipt, ObjectOrigin, ReplicaTarget, VerifyExpectation, VerifyResult } from './target';
import { unverifiedResult } from './target';
import { safeReason, withTimeout } from './util';

/** The S3 version the catalog recorded for each copy of one object, by target name (#17). A target that
 * is absent (or null: no version recorded) holds no copy the catalog vouches for. */
export type CopyVersions = ReadonlyMap<string, string | null>;
/** Where reads learn the recorded versions: the catalog's copies table (see @yunying/catalog). */
export type CopyVersionLookup = (sha256: string) => Promise<CopyVersions>;

export interface ReplicatedStoreOptions {
  targets: ReplicaTarget[];
  /** Copies that must be durable before a put is accepted; 1..targets.length, default 3 (all). */
  writeQuorum?: number;
  /** How many targets the store insists on; default 3 (production). Tests of one target set it lower. */
  replicas?: number;
  /** A copy that takes longer counts as failed (the write may still land later; it is locked anyway). */
  copyTimeoutMs?: number;
  /** Seconds a caller should wait before retrying after a missed quorum. */
  retryAfterSeconds?: number;
  /**
   * With it, every read asks each S3 target for the version the catalog recorded, so that a later version
   * or a delete marker written with a leaked key is never served (#17), and an S3 target with no recorded
   * version is not read. Without it (tests, rebuild-catalog), reads take the current version.
   */
  copyVersions?: CopyVersionLookup;
  logger?: Logger;
}

export interface PutOptions {
  retainUntil: Date;
  legalHold?: boolean;
  /**
   * The SHA-256 of exactly these bytes, from sha256Hex, when the caller has it already (the ingest
   * pipeline needs it before the put, for its re-send check): hashing a 1.5 MB instance a second time
   * was a sixth of ingest's CPU (#14). It becomes the content address, so nothing else may be passed.
   */
  sha256?: string;
  /** Who sent the object and when, written with each copy so the catalog can be rebuilt from them. */
  origin?: ObjectOrigin;
}

export interface FailedCopy {
  target: string;
  /** Safe to store and show: no paths, no patient data. */
  reason: string;
}

export interface StoreResult {
  sha256: string;
  size: number;
  key: string;
  /** Durable, locked copies (at least writeQuorum of them). */
  copies: CopyReceipt[];
  /** Copies that failed: to be recorded and completed by the repair job (completeCopies). */
  failed: FailedCopy[];
}

export interface ReadOptions {
  /** Size the catalog recorded; a copy of another size is skipped. */
  expectedSize?: number;
  /** The recorded versions, when the caller has them already; otherwise the store's lookup is asked. */
  versions?: CopyVersions;
}

export interface ProbeResult {
  up: string[];
  down: FailedCopy[];
}

export interface RepairMeta {
  sha256: string;
  size: number;
  retainUntil: Date;
  legalHold?: boolean;
  /** The recorded versions of the object's copies; otherwise the store's lookup is asked. */
  versions?: CopyVersions;
}

export interface CompleteResult {
  key: string;
  /** Copies that verified, before or after repair. */
  verified: string[];
  repaired: CopyReceipt[];
  failed: FailedCopy[];
}

/**
 * Writes every object to all replica targets in parallel and acknowledges it only when `writeQuorum`
 * copies are durable and locked. Objects are content-addressed (key = SHA-256 of the bytes), so a
 * retry after a missed quorum re-uses the copies that did land, and running anything twice changes
 * nothing. There is no delete here: removal, when retention allows it, is per target and explicit.
 */
export class ReplicatedStore {
  readonly targets: readonly ReplicaTarget[];
  readonly writeQuorum: number;
  private readonly copyTimeoutMs: number;
  private readonly retryAfterSeconds: number;
  private readonly logger: Logger | undefined;
  private readonly copyVersions: CopyVersionLookup | undefined;
  /** Targets unreachable at start, with the timer of their next preparation attempt. */
  private readonly unprepared = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(options: ReplicatedStoreOptions) {
    const replicas = options.replicas ?? 3;
    const { targets } = options;
    if (targets.length !== replicas) {
      throw new AppError('config_invalid', `storage: expected ${replicas} replica targets, got ${targets.length}`);
    }
    const names = new Set(targets.map((t) => t.name));
    if (names.size !== targets.length) throw new AppError('config_invalid', 'storage: replica target names must be unique');
    const quorum = options.writeQuorum ?? targets.length;
    if (!Number.isInteger(quorum) || quorum < 1 || quorum > targets.length) {
      throw new AppError('config_invalid', `storage: writeQuorum must be 1..${targets.length}`);
    }
    this.targets = [...targets];
    this.writeQuorum = quorum;
    this.copyTimeoutMs = options.copyTimeoutMs ?? 120_000;
    this.retryAfterSeconds = options.retryAfterSeconds ?? 30;
    this.logger = options.logger;
    this.copyVersions = options.copyVersions;
  }

  /**
   * Prepares every target (fs roots, S3 buckets with Object Lock), all at once. A misconfigured target
   * (config_invalid: a bucket without Object Lock, a root that belongs to another replica) stops the start.
   * One that cannot be reached does not, as long as the write quorum is prepared: an ingest process must be
   * able to come back during one endpoint's outage (bench:scale-out found that it could not). It is prepared
   * again in the background every `retryPrepareMs` until it answers; until then copies to it fail like any
   * copy to a down endpoint (the quorum rule decides, the keeper repairs), and no copy can land unlocked:
   * each PutObject carries its own retention, which a bucket without Object Lock refuses.
   */
  async init(retryPrepareMs = 10_000): Promise<void> {
    const settled = await Promise.allSettled(this.targets.map((t) => t.init()));
    const unreachable: { target: ReplicaTarget; reason: unknown }[] = [];
    settled.forEach((outcome, i) => {
      const target = this.targets[i];
      if (outcome.status === 'rejected' && target !== undefined) unreachable.push({ target, reason: outcome.reason });
    });
    const misconfigured = unreachable.find(({ reason }) => isAppError(reason) && reason.code === 'config_invalid');
    if (misconfigured) throw misconfigured.reason;
    if (this.targets.length - unreachable.length < this.writeQuorum) throw unreachable[0]?.reason;
    for (const { target, reason } of unreachable) {
      this.logger?.warn({ replica: target.name, err: describeError(reason) }, 'storage: replica target unreachable at start; preparing it in the background');
      this.prepareLater(target, retryPrepareMs);
    }
  }

  /** Names of the targets not prepared yet (unreachable at start, being retried). */
  unpreparedTargets(): string[] {
    return [...this.unprepared.keys()];
  }

  /** Stops the background preparation of unreachable targets (on shutdown). */
  stopPreparing(): void {
    for (const timer of this.unprepared.values()) clearTimeout(timer);
    this.unprepared.clear();
  }

  private prepareLater(target: ReplicaTarget, delayMs: number): void {
    const timer = setTimeout(() => {
      if (!this.unprepared.has(target.name)) return;
      target.init().then(
        () => {
          this.unprepared.delete(target.name);
          this.logger?.info({ replica: target.name }, 'storage: replica target prepared');
        },
        (error: unknown) => {
          if (!this.unprepared.has(target.name)) return;
          if (isAppError(error) && error.code === 'config_invalid') {
            // An operator has to act: copies to it keep failing and the scrubber keeps reporting them.
            this.logger?.error({ replica: target.name, err: describeError(error) }, 'storage: replica target is misconfigured');
            return;
          }
          this.prepareLater(target, delayMs);
        },
      );
    }, delayMs);
    timer.unref();
    this.unprepared.set(target.name, timer);
  }

  target(name: string): ReplicaTarget {
    const found = this.targets.find((t) => t.name === name);
    if (!found) throw new AppError('not_found', `storage: no replica target named ${name}`);
    return found;
  }

  async put(bytes: Uint8Array, options: PutOptions): Promise<StoreResult> {
    if (!Number.isFinite(options.retainUntil.getTime())) {
      throw new AppError('bad_request', 'storage: retainUntil is not a valid date');
    }
    const sha256 = options.sha256 ?? sha256Hex(bytes);
    const key = objectKey(sha256);
    const meta: CopyMeta = {
      sha256,
      size: bytes.length,
      retainUntil: options.retainUntil,
      legalHold: options.legalHold ?? false,
      ...(options.origin === undefined ? {} : { origin: options.origin }),
    };

    const settled = await Promise.allSettled(this.targets.map((t) => this.timed(t, 'put', t.put(key, bytes, meta))));
    for (const t of this.targets) t.released?.(bytes);
    const copies: CopyReceipt[] = [];
    const failed: FailedCopy[] = [];
    settled.forEach((outcome, i) => {
      const target = this.targets[i];
      if (target === undefined) return;
      if (outcome.status === 'rejected') {
        failed.push({ target: target.name, reason: safeReason(outcome.reason) });
        this.logger?.warn({ replica: target.name, sha256, err: describeError(outcome.reason) }, 'storage: copy failed');
        return;
      }
      const receipt = outcome.value;
      // A receipt must describe what we asked for; anything else is a broken target, not a copy.
      if (receipt.sha256 !== sha256 || receipt.size !== bytes.length || receipt.key !== key || receipt.retainUntil.getTime() < meta.retainUntil.getTime()) {
        failed.push({ target: target.name, reason: 'receipt does not match the object' });
        return;
      }
      copies.push(receipt);
    });

    if (copies.length < this.writeQuorum) {
      // Nothing is acknowledged. Copies that landed stay (locked) and are found again by content address.
      throw new AppError(
        'unavailable',
        `storage quorum not met: ${copies.length} of ${this.targets.length} copies durable, ${this.writeQuorum} required`,
        {
          retryable: true,
          retryAfterSeconds: this.retryAfterSeconds,
          details: { durable: copies.map((c) => c.target), failed },
        },
      );
    }
    return { sha256, size: bytes.length, key, copies, failed };
  }

  /** The whole object from the first target whose copy hashes to its key (content address); the next
   * target is tried when a copy is missing, unreachable or corrupt. */
  async read(key: string, options: ReadOptions = {}): Promise<Uint8Array> {
    const hex = assertObjectKey(key);
    return this.firstGood(key, options, async (target, version) => {
      const bytes = await target.read(key, version);
      if (options.expectedSize !== undefined && bytes.length !== options.expectedSize) throw new Error('size mismatch');
      if (sha256Hex(bytes) !== hex) throw new Error('SHA-256 mismatch');
      return bytes;
    });
  }

  /** Bytes [offset, offset+length) from the first target whose copy has the expected size (a range
   * cannot be hashed; the scrubber catches corruption inside). */
  async readRange(key: string, offset: number, length: number, options: ReadOptions = {}): Promise<Uint8Array> {
    assertObjectKey(key);
    return this.firstGood(key, options, async (target, version) => {
      await this.checkSize(target, key, options.expectedSize, version);
      return target.readRange(key, offset, length, version);
    });
  }

  async readStream(key: string, range?: ByteRange, options: ReadOptions = {}): Promise<{ stream: Readable; target: string }> {
    assertObjectKey(key);
    return this.firstGood(key, options, async (target, version) => {
      await this.checkSize(target, key, options.expectedSize, version);
      return { stream: await target.readStream(key, range, version), target: target.name };
    });
  }

  async verifyCopy(key: string, targetName: string, expected: VerifyExpectation): Promise<VerifyResult> {
    return this.target(targetName).verify(key, expected);
  }

  /** Verifies every copy; an unreachable target gives a not-ok result rather than an exception. */
  async verifyAll(key: string, expected: VerifyExpectation, versions?: CopyVersions): Promise<VerifyResult[]> {
    return Promise.all(
      this.targets.map(async (t) => {
        try {
          return await this.timed(t, 'verify', t.verify(key, { ...expected, versionId: versions?.get(t.name) ?? null }));
        } catch (error) {
          return unverifiedResult(t.name, key, [`not verified: ${safeReason(error)}`]);
        }
      }),
    );
  }

  /**
   * Rewrites the copy on `toTarget` from `fromTarget`: the source is read in full and must hash to the
   * object's SHA-256 before anything is written; the repaired copy gets the same retain-until (or the
   * longer one it already had) and is verified after the write.
   */
  async repairCopy(key: string, fromTarget: string, toTarget: string, meta: RepairMeta): Promise<CopyReceipt> {
    const hex = assertObjectKey(key);
    if (hex !== meta.sha256) throw new AppError('bad_request', 'storage repair: key and sha256 disagree');
    if (fromTarget === toTarget) throw new AppError('bad_request', 'storage repair: source and destination are the same');
    const from = this.target(fromTarget);
    const to = this.target(toTarget);
    const versions = meta.versions ?? (await this.copyVersions?.(hex));
    const sourceVersion = this.pinnedVersion(from, versions);
    if (sourceVersion === undefined) {
      throw new AppError('conflict', `storage repair: no recorded version on ${fromTarget}; choose another source`);
    }
    const bytes = await from.read(key, sourceVersion);
    if (bytes.length !== meta.size || sha256Hex(bytes) !== hex) {
      throw new AppError('conflict', `storage repair: the copy on ${fromTarget} is not good; choose another source`);
    }
    // The repaired copy carries the source's origin, so a rebuild can still attribute it (#18).
    const origin = (await from.stat(key, sourceVersion))?.origin ?? undefined;
    const receipt = await to.put(key, bytes, {
      sha256: hex,
      size: meta.size,
      retainUntil: meta.retainUntil,
      legalHold: meta.legalHold ?? false,
      ...(origin === undefined ? {} : { origin }),
    });
    const check = await to.verify(key, { sha256: hex, size: meta.size, retainUntil: meta.retainUntil, versionId: receipt.versionId });
    if (!check.ok) {
      throw new AppError('unavailable', `storage repair: the copy on ${toTarget} did not verify (${check.problems.join('; ')})`, { retryable: true });
    }
    this.logger?.info({ replica: toTarget, from: fromTarget, sha256: hex }, 'storage: copy repaired');
    return receipt;
  }

  /**
   * The repair job's entry point (#8): verifies every copy and rewrites each bad one from a verified
   * good one. Targets still down are reported in `failed`, for the next attempt.
   */
  async completeCopies(key: string, meta: RepairMeta): Promise<CompleteResult> {
    const versions = meta.versions ?? (await this.copyVersions?.(assertObjectKey(key)));
    const results = await this.verifyAll(key, meta, versions);
    const good = results.filter((r) => r.ok).map((r) => r.target);
    const result: CompleteResult = { key, verified: [...good], repaired: [], failed: [] };
    const source = good[0];
    for (const bad of results.filter((r) => !r.ok)) {
      if (source === undefined) {
        result.failed.push({ target: bad.target, reason: 'no verified copy to repair from' });
        continue;
      }
      try {
        result.repaired.push(await this.repairCopy(key, source, bad.target, { ...meta, ...(versions === undefined ? {} : { versions }) }));
        result.verified.push(bad.target);
      } catch (error) {
        result.failed.push({ target: bad.target, reason: safeReason(error) });
      }
    }
    return result;
  }

  /** Readiness: which targets take writes now. */
  async probe(): Promise<ProbeResult> {
    const outcomes = await Promise.allSettled(this.targets.map((t) => this.timed(t, 'probe', t.probe(), 10_000)));
    const up: string[] = [];
    const down: FailedCopy[] = [];
    outcomes.forEach((o, i) => {
      const name = this.targets[i]?.name ?? String(i);
      if (o.status === 'fulfilled') up.push(name);
      else down.push({ target: name, reason: safeReason(o.reason) });
    });
    return { up, down };
  }

  private timed<T>(target: ReplicaTarget, what: string, promise: Promise<T>, ms = this.copyTimeoutMs): Promise<T> {
    return withTimeout(
      promise,
      ms,
      () => new AppError('unavailable', `replica ${target.name}: ${what} timed out after ${ms} ms`, { retryable: true }),
    );
  }

  private async checkSize(target: ReplicaTarget, key: string, expectedSize: number | undefined, version: string | null): Promise<void> {
    const stat = await target.stat(key, version);
    if (stat === null) throw new AppError('not_found', `replica ${target.name}: no such object`);
    if (expectedSize !== undefined && stat.size !== expectedSize) throw new Error('size mismatch');
  }

  /**
   * The version to read on `target`: null (the current one) when nothing is pinned or on fs; undefined when
   * versions are pinned and the S3 target has none recorded, so it must not be read at all.
   */
  private pinnedVersion(target: ReplicaTarget, versions: CopyVersions | undefined): string | null | undefined {
    if (versions === undefined || target.kind !== 's3') return null;
    return versions.get(target.name) ?? undefined;
  }

  private async firstGood<T>(key: string, options: ReadOptions, attempt: (target: ReplicaTarget, version: string | null) => Promise<T>): Promise<T> {
    const versions = options.versions ?? (await this.copyVersions?.(assertObjectKey(key)));
    let allMissing = true;
    let last: unknown;
    let keyMissing: StorageKeyError | undefined;
    for (const target of this.targets) {
      try {
        const version = this.pinnedVersion(target, versions);
        if (version === undefined) throw new AppError('not_found', `replica ${target.name}: no recorded version`);
        return await attempt(target, version);
      } catch (error) {
        last = error;
        if (isAppError(error) && error.code === 'bad_request') throw error;
        if (isStorageKeyError(error) && error.problem === 'key_unavailable') keyMissing = error;
        if (!(isAppError(error) && error.code === 'not_found')) allMissing = false;
        this.logger?.warn({ replica: target.name, key, err: describeError(error) }, 'storage: copy not readable, trying the next');
      }
    }
    if (allMissing) throw new AppError('not_found', 'storage: object not found on any replica');
    // A sealed object whose key is not in the key file: say so (a configuration fault, not an outage).
    if (keyMissing !== undefined) throw keyMissing;
    throw new AppError('unavailable', 'storage: no replica could serve the object', { retryable: true, cause: last });
  }
}
