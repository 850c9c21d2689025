import { randomBytes } from 'node:crypto';
import { constants as fsConstants, type Dirent } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { AppError, isAppError, type Logger } from '@yunying/core';
import { DIRECT_MIN_BYTES, type DirectWriter, directWriter } from './direct.write';
import { assertObjectKey, sha256Hex } from './keys';
import { piecesLength, unwritten } from './pieces';
import { originFromStrings, originToStrings } from './origin';
import { ENVELOPE_SIZE_PROBE_BYTES, isSealed, ObjectEnvelope } from './envelope/object.envelope';
import { isStorageKeyError } from './envelope/envelope.keys';
import { assertRecordKey, assertRecordPrefix, type RecordReceipt, type RecordVersion } from './records';
import type { ByteRange, CopyMeta, CopyReceipt, CopyStat, ListedObject, ObjectOrigin, ReplicaTarget, VerifyExpectation, VerifyResult } from './target';
import { unverifiedResult } from './target';
import { checkRange, retentionNow, unavailable } from './util';

/**
 * A replica on a local filesystem: the embedded default, three of them on three disks.
 *
 * Layout under `root`:
 *   .yunying-replica.json             marker: this directory is replica `name` (see init)
 *   sha256/ab/cd/<hex>                the object, mode 0440 (directories 0750); sealed (object.envelope.ts)
 *                                     when encryption is on, so the file holds ciphertext
 *   sha256/ab/cd/<hex>.lock.json      retention sidecar {sha256,size,retainUntil,legalHold,origin?}, mode 0440
 *
 * What fs retention can promise: this code never deletes or overwrites a good copy before retain-until
 * (remove() refuses; put() never replaces a file whose bytes hash to its name). What it cannot promise:
 * a process with write access to the directory (or root) can still delete files with rm. Only S3 Object
 * Lock in COMPLIANCE mode is enforced by the storage itself. See README.md.
 */
export interface FsReplicaTargetOptions {
  name: string;
  root: string;
  /** Create the root on init when it is absent (embedded default). Set false in production: a mount
   * point without its marker then reads as "disk not mounted" instead of silently filling the root disk. */
  createRoot?: boolean;
  /** Seals new copies and opens sealed ones (#17); default: none (plain copies, sealed ones do not open). */
  envelope?: ObjectEnvelope;
  /** Object files of 256 KiB and more written with O_DIRECT (direct.write.ts); default on (the shared
   * writer). False, or a filesystem that refuses it, writes them through the page cache. */
  directIo?: boolean | DirectWriter;
  /**
   * When the 65,536 leaf directories (sha256/ab/cd) are made: `ahead`, all of them by the first init of the
   * root (recorded in its marker, so later inits make none), or `on-demand`, each by the first put that
   * needs it (default). A leaf made by a put costs that put a mkdir and an fsync of its parent, per copy:
   * 3 of the 12 fsyncs of an instance (#14) for most of an archive's first 100,000 objects, and for some
   * until ~700,000. `ahead` costs ~256 MiB of empty directories per replica on ext4 and a
   * few seconds at the first start.
   */
  leafDirs?: 'ahead' | 'on-demand';
  logger?: Logger;
}

interface Sidecar {
  v: 1;
  sha256: string;
  size: number;
  retainUntil: string;
  legalHold: boolean;
  /** Who sent the object and when (rebuild-catalog); absent on sidecars written before #18. */
  origin?: ObjectOrigin;
}

/** What a put leaves in the sidecar: the later retain-until, a legal hold never lifted, the first origin kept. */
function mergedSidecar(old: Sidecar | null, meta: CopyMeta): Sidecar {
  const origin = old?.origin ?? meta.origin;
  return {
    v: 1,
    sha256: meta.sha256,
    size: meta.size,
    retainUntil: old !== null && Date.parse(old.retainUntil) > meta.retainUntil.getTime() ? old.retainUntil : meta.retainUntil.toISOString(),
    legalHold: (old?.legalHold ?? false) || meta.legalHold,
    ...(origin === undefined ? {} : { origin }),
  };
}

/** The sidecar as stored: the origin as flat strings, as in S3 metadata. */
function serialiseSidecar(sidecar: Sidecar): Buffer {
  const { origin, ...rest } = sidecar;
  return Buffer.from(JSON.stringify(origin === undefined ? rest : { ...rest, origin: originToStrings(origin) }));
}

const MARKER = '.yunying-replica.json';
const OBJECT_NAME = /^[0-9a-f]{64}$/;
const SIDECAR_SUFFIX = '.lock.json';
// No write bit for anyone (the lock of this backend: see lockMode 'FS_READONLY') and nothing for
// others: the objects are identified patient images (#17 finding 8: they were 0444 in 0755 dirs).
const READ_ONLY = 0o440;
/** Directories: the service user and its group only. */
const DIR_MODE = 0o750;

function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Bytes to write as one file: one buffer, or pieces written in order (a sealed object's segments). */
type FileBytes = Uint8Array | readonly Uint8Array[];

/** Writes a new read-only file durably under a temporary name in `dir` and returns that name. */
async function writeTemp(dir: string, base: string, bytes: FileBytes, direct?: DirectIo): Promise<string> {
  const tmp = path.join(dir, `${base}.tmp-${randomBytes(6).toString('hex')}`);
  await writeNewFile(tmp, bytes, direct);
  return tmp;
}

/** Creates `file` (never one that is already there: O_EXCL), writes `bytes` and fsyncs it. A failed
 * write removes what it created. The 0440 mode applies to later opens only. With `direct` (a replica's
 * object files), a large file is written with O_DIRECT (direct.write.ts) unless its filesystem refuses. */
async function writeNewFile(file: string, bytes: FileBytes, direct?: DirectIo): Promise<void> {
  const pieces = bytes instanceof Uint8Array ? [bytes] : bytes;
  if (direct?.enabled && piecesLength(pieces) >= DIRECT_MIN_BYTES && (await writeNewFileDirect(file, pieces, direct))) return;
  const handle = await fs.open(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, READ_ONLY);
  try {
    await writeAll(handle, pieces);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await fs.unlink(file).catch(() => undefined);
    throw error;
  }
  await handle.close();
}

/** How a replica writes its object files with O_DIRECT: on until its filesystem first refuses. */
interface DirectIo {
  enabled: boolean;
  readonly writer: DirectWriter;
  readonly replica: string;
  readonly logger: Logger | undefined;
}

/** writeNewFile with O_DIRECT; false (nothing left behind) when the filesystem refuses it, which turns
 * direct writes off for the replica. */
async function writeNewFileDirect(file: string, pieces: readonly Uint8Array[], direct: DirectIo): Promise<boolean> {
  if (await direct.writer.writeNewFile(file, pieces, READ_ONLY)) return true;
  if (direct.enabled) direct.logger?.warn({ replica: direct.replica }, 'storage: the replica’s filesystem refuses O_DIRECT; writing through the page cache');
  direct.enabled = false;
  return false;
}

/** Pieces written in order from the start of the file with as few writev calls as the kernel allows (#14:
 * no joined copy of a sealed object); a short write goes on from the first byte not written. */
async function writeAll(handle: fs.FileHandle, pieces: readonly Uint8Array[]): Promise<void> {
  let rest = unwritten(pieces, 0);
  let position = 0;
  while (rest.length > 0) {
    const { bytesWritten } = await handle.writev(rest, position);
    if (bytesWritten <= 0) throw new Error('write made no progress');
    position += bytesWritten;
    rest = unwritten(rest, bytesWritten);
  }
}

/** The first fan-out level (sha256/00 .. sha256/ff), made at init so a put creates one directory at most. */
const FIRST_LEVEL = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/** The 65,536 leaf directories sha256/ab/cd, by the first four hex digits of the object's SHA-256. */
const LEAF_COUNT = 65_536;
/** What the replica marker records once every leaf directory was made ahead. */
const LEAVES_MADE = 'made';

/** A set of leaf directories, one bit each (8 KiB), keyed by an object's SHA-256 (its first four hex digits). */
class LeafSet {
  private readonly bits = new Uint8Array(LEAF_COUNT / 8);

  has(hex: string): boolean {
    const [byte, bit] = LeafSet.place(hex);
    return ((this.bits[byte] ?? 0) & bit) !== 0;
  }

  add(hex: string): void {
    const [byte, bit] = LeafSet.place(hex);
    this.bits[byte] = (this.bits[byte] ?? 0) | bit;
  }

  /** Whether it was there. */
  delete(hex: string): boolean {
    const [byte, bit] = LeafSet.place(hex);
    const had = ((this.bits[byte] ?? 0) & bit) !== 0;
    this.bits[byte] = (this.bits[byte] ?? 0) & ~bit;
    return had;
  }

  addAll(): void {
    this.bits.fill(0xff);
  }

  /** The byte and the bit of the leaf sha256/ab/cd that holds an object with this SHA-256. */
  private static place(hex: string): [number, number] {
    const leaf = parseInt(hex.slice(0, 4), 16);
    return [leaf >> 3, 1 << (leaf & 7)];
  }
}

interface ReplicaMarker {
  name?: unknown;
  createdAt?: unknown;
  leafDirs?: unknown;
}

export class FsReplicaTarget implements ReplicaTarget {
  readonly kind = 'fs' as const;
  readonly name: string;
  readonly root: string;
  private readonly createRoot: boolean;
  private readonly logger: Logger | undefined;
  private readonly envelope: ObjectEnvelope;
  /** The leaf directories known to exist durably (made ahead, or found or made by a put). */
  private readonly knownLeaves = new LeafSet();
  private readonly leafDirs: 'ahead' | 'on-demand';
  private readonly directIo: DirectIo | undefined;

  constructor(options: FsReplicaTargetOptions) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(options.name)) {
      throw new AppError('config_invalid', 'replica name must be 1-64 characters of [A-Za-z0-9_.-]');
    }
    this.name = options.name;
    this.root = path.resolve(options.root);
    this.createRoot = options.createRoot ?? true;
    this.logger = options.logger;
    this.envelope = options.envelope ?? ObjectEnvelope.plain();
    const writer = options.directIo === undefined || options.directIo === true ? directWriter : options.directIo;
    this.directIo = writer ? { enabled: true, writer, replica: this.name, logger: this.logger } : undefined;
    this.leafDirs = options.leafDirs ?? 'on-demand';
  }

  async init(): Promise<void> {
    const marker = path.join(this.root, MARKER);
    try {
      const existing = JSON.parse(await fs.readFile(marker, 'utf8')) as ReplicaMarker;
      if (existing.name !== this.name) {
        // Two targets configured on one directory would make "three copies" one copy.
        throw new AppError('config_invalid', `replica ${this.name}: its root belongs to replica ${String(existing.name)}`);
      }
      await this.makeFirstLevel();
      await this.prepareLeaves(existing);
      return;
    } catch (error) {
      if (isAppError(error)) throw error;
      if (errnoCode(error) !== 'ENOENT') throw unavailable(this.name, 'cannot read the replica marker', error);
    }
    let created: ReplicaMarker;
    try {
      if (!this.createRoot) await fs.access(this.root);
      await fs.mkdir(this.root, { recursive: true, mode: DIR_MODE });
      const entries = await fs.readdir(this.root);
      if (entries.some((e) => e !== 'lost+found')) {
        throw new AppError('config_invalid', `replica ${this.name}: root is not empty and has no replica marker`);
      }
      created = { name: this.name, createdAt: new Date().toISOString() };
      await this.writeMarker(created);
    } catch (error) {
      if (isAppError(error)) throw error;
      throw unavailable(this.name, 'cannot initialise the replica root', error);
    }
    await this.makeFirstLevel();
    await this.prepareLeaves(created);
  }

  private async writeMarker(marker: ReplicaMarker): Promise<void> {
    const tmp = await writeTemp(this.root, MARKER, Buffer.from(JSON.stringify(marker)));
    await fs.rename(tmp, path.join(this.root, MARKER));
    await fsyncDir(this.root);
  }

  /**
   * With leafDirs `ahead`: every leaf directory, made once (each first-level directory fsync'd after its
   * 256), then recorded in the marker; a later init only reads the record. A crash part way makes the
   * rest at the next init. With `on-demand` nothing here: puts make them.
   */
  private async prepareLeaves(marker: ReplicaMarker): Promise<void> {
    if (this.leafDirs !== 'ahead') return;
    if (marker.leafDirs !== LEAVES_MADE) {
      const started = Date.now();
      try {
        const top = path.join(this.root, 'sha256');
        for (const a of FIRST_LEVEL) {
          const made = await Promise.all(
            FIRST_LEVEL.map((b) =>
              fs.mkdir(path.join(top, a, b), { mode: DIR_MODE }).then(
                () => true,
                (error: unknown) => {
                  if (errnoCode(error) === 'EEXIST') return false;
                  throw error;
                },
              ),
            ),
          );
          if (made.includes(true)) await fsyncDir(path.join(top, a));
        }
        await this.writeMarker({ ...marker, leafDirs: LEAVES_MADE });
      } catch (error) {
        throw unavailable(this.name, 'cannot create the leaf directories', error);
      }
      this.logger?.info({ replica: this.name, leaves: LEAF_COUNT, ms: Date.now() - started }, 'storage: made the leaf directories ahead (first start of this replica)');
    }
    this.knownLeaves.addAll();
  }

  /** sha256/ and its 256 first-level directories, durably: made once here, not by puts (#14). */
  private async makeFirstLevel(): Promise<void> {
    try {
      const top = path.join(this.root, 'sha256');
      const createdTop = await fs.mkdir(top, { recursive: true, mode: DIR_MODE });
      if (createdTop !== undefined) await fsyncDir(this.root);
      let created = false;
      for (const name of FIRST_LEVEL) {
        try {
          await fs.mkdir(path.join(top, name), { mode: DIR_MODE });
          created = true;
        } catch (error) {
          if (errnoCode(error) !== 'EEXIST') throw error;
        }
      }
      if (created) await fsyncDir(top);
    } catch (error) {
      throw unavailable(this.name, 'cannot create the fan-out directories', error);
    }
  }

  released(bytes: Uint8Array): void {
    this.envelope.release(bytes);
  }

  async put(key: string, bytes: Uint8Array, meta: CopyMeta): Promise<CopyReceipt> {
    const hex = assertObjectKey(key);
    if (hex !== meta.sha256 || bytes.length !== meta.size) {
      throw new AppError('internal', `replica ${this.name}: put with bytes that do not match their key`);
    }
    await this.assertMounted();
    const file = this.pathOf(key);
    const dir = path.dirname(file);
    // What goes on disk: the sealed object when encryption is on (one seal shared by the three copies),
    // as the cipher's pieces, written with writev rather than joined first.
    const stored = await this.envelope.sealParts(bytes);
    try {
      return await this.putInDir(key, file, dir, stored, meta, hex);
    } catch (error) {
      // A directory remembered from before may be gone (a replaced disk that init made anew): once more, making it.
      if (errnoCode(error) === 'ENOENT' && this.knownLeaves.delete(hex)) return this.putInDir(key, file, dir, stored, meta, hex).catch((again: unknown) => this.putError(again));
      return this.putError(error);
    }
  }

  private putError(error: unknown): never {
    if (isAppError(error)) throw error;
    throw unavailable(this.name, 'write failed', error);
  }

  /** `stored`: the bytes to write (sealed or plain); the receipt describes the content (`meta`). */
  private async putInDir(key: string, file: string, dir: string, stored: FileBytes, meta: CopyMeta, hex: string): Promise<CopyReceipt> {
    await this.ensureLeaf(hex, dir);
    // The sidecar goes first, so a data file never exists without its retention record. A new object's
    // sidecar is made with O_EXCL before anything is probed (#14: two fewer opens per copy): when that
    // succeeds, no copy was committed here, so the data file is not looked for; should one be there anyway
    // (its sidecar lost), link(2) refuses to replace it and linkNew judges it by its hash.
    const fresh = await this.createFirstSidecar(file, meta);
    const existing = fresh === null ? await this.hashIfPresent(file) : null;
    const sidecar = fresh ?? (await this.mergeSidecar(file, meta));
    if (existing === null) {
      await this.linkNew(file, stored, hex);
    } else if (existing !== hex) {
      await this.replaceCorruptCopy(file, stored, hex);
    }
    await fsyncDir(dir);
    return {
      target: this.name,
      key,
      sha256: hex,
      size: meta.size,
      retainUntil: new Date(sidecar.retainUntil),
      legalHold: sidecar.legalHold,
      lockMode: 'FS_READONLY',
      versionId: null,
    };
  }

  /** The object's leaf directory `dir`, made (and its new entry fsync'd in the parent) the first time only. */
  private async ensureLeaf(hex: string, dir: string): Promise<void> {
    if (this.knownLeaves.has(hex)) return;
    const created = await fs.mkdir(dir, { recursive: true, mode: DIR_MODE });
    if (created !== undefined) await this.fsyncCreatedDirs(created, dir);
    this.knownLeaves.add(hex);
  }

  async stat(key: string): Promise<CopyStat | null> {
    assertObjectKey(key);
    await this.assertMounted();
    const file = this.pathOf(key);
    try {
      const st = await fs.stat(file);
      const sidecar = await this.readSidecar(file);
      return {
        key,
        size: await this.contentSizeOf(file, st.size),
        lockMode: sidecar !== null && (st.mode & 0o222) === 0 ? 'FS_READONLY' : null,
        retainUntil: sidecar === null ? null : new Date(sidecar.retainUntil),
        legalHold: sidecar?.legalHold ?? false,
        versionId: null,
        origin: sidecar?.origin ?? null,
        // Not applicable: a directory has no storage classes (docs/operations.md, storage tiering).
        storageClass: null,
      };
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return null;
      throw unavailable(this.name, 'stat failed', error);
    }
  }

  /** Walks root/sha256/ab/cd in name order. Sidecars and temp files are not objects; nothing is changed
   * (the orphan sweep, not a listing, decides what a stale temp file is). */
  async *list(): AsyncIterable<ListedObject> {
    await this.assertMounted();
    const base = path.join(this.root, 'sha256');
    const level = async (dir: string): Promise<string[]> => {
      try {
        return (await fs.readdir(dir)).filter((n) => /^[0-9a-f]{2}$/.test(n)).sort();
      } catch (error) {
        if (errnoCode(error) === 'ENOENT') return [];
        throw unavailable(this.name, 'list failed', error);
      }
    };
    for (const a of await level(base)) {
      for (const b of await level(path.join(base, a))) {
        const dir = path.join(base, a, b);
        let names: string[];
        try {
          names = (await fs.readdir(dir)).filter((n) => OBJECT_NAME.test(n) && n.startsWith(a + b)).sort();
        } catch (error) {
          throw unavailable(this.name, 'list failed', error);
        }
        for (const name of names) {
          const st = await fs.stat(path.join(dir, name)).catch((error: unknown) => {
            // Removed between readdir and stat (disposal): not there any more, so not listed.
            if (errnoCode(error) === 'ENOENT') return null;
            throw unavailable(this.name, 'list failed', error);
          });
          if (st !== null) yield { key: `sha256/${a}/${b}/${name}`, size: st.size };
        }
      }
    }
  }

  async read(key: string): Promise<Uint8Array> {
    assertObjectKey(key);
    let stored: Uint8Array;
    try {
      stored = await fs.readFile(this.pathOf(key));
    } catch (error) {
      throw this.readError(error);
    }
    return this.envelope.open(stored);
  }

  async readRange(key: string, offset: number, length: number): Promise<Uint8Array> {
    assertObjectKey(key);
    checkRange(offset, length);
    // A sealed copy: only the segments covering the range are read and opened.
    const opened = await this.envelope.openRange((o, l) => this.readStoredRange(key, o, l), offset, length);
    return opened ?? this.readStoredRange(key, offset, length);
  }

  /** Stored bytes [offset, offset+length), clipped at the end of the file. */
  private async readStoredRange(key: string, offset: number, length: number): Promise<Uint8Array> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.pathOf(key), 'r');
    } catch (error) {
      throw this.readError(error);
    }
    try {
      const { size } = await handle.stat();
      const n = Math.max(0, Math.min(length, size - offset));
      const buffer = Buffer.alloc(n);
      let got = 0;
      while (got < n) {
        const { bytesRead } = await handle.read(buffer, got, n - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return buffer.subarray(0, got);
    } catch (error) {
      throw unavailable(this.name, 'read failed', error);
    } finally {
      await handle.close();
    }
  }

  async readStream(key: string, range?: ByteRange): Promise<Readable> {
    assertObjectKey(key);
    if (range) checkRange(range.offset, range.length);
    if (range !== undefined && range.length > 0) {
      const opened = await this.envelope.openRange((o, l) => this.readStoredRange(key, o, l), range.offset, range.length);
      if (opened !== null) return Readable.from([opened]);
    }
    try {
      const handle = await fs.open(this.pathOf(key), 'r');
      if (range && range.length === 0) {
        await handle.close();
        return Readable.from([]);
      }
      if (range) return handle.createReadStream({ start: range.offset, end: range.offset + range.length - 1 });
      // Whole object: opened segment by segment as it streams (unsealed copies pass through).
      return await this.envelope.openStream(handle.createReadStream());
    } catch (error) {
      throw this.readError(error);
    }
  }

  async verify(key: string, expected: VerifyExpectation): Promise<VerifyResult> {
    assertObjectKey(key);
    const result: VerifyResult = unverifiedResult(this.name, key);
    await this.assertMounted();
    const file = this.pathOf(key);
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(file, 'r');
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') throw unavailable(this.name, 'verify failed', error);
      result.problems.push('copy missing');
      return result;
    }
    try {
      result.exists = true;
      const st = await handle.stat();
      // Sealed copies are opened and the content hashed: that proves the key still opens the copy and
      // that it is the object, with the one digest the catalog records (docs/security-storage.md).
      const content = await this.envelope.digest(handle.createReadStream({ autoClose: false })).catch((error: unknown) => {
        if (isStorageKeyError(error) && error.problem !== 'key_unavailable') return null;
        throw error;
      });
      if (content === null) {
        result.problems.push('sealed copy does not authenticate (tampered or corrupt)');
      } else {
        result.sizeOk = content.size === expected.size;
        if (!result.sizeOk) result.problems.push(`size ${content.size}, expected ${expected.size}`);
        result.sha256Ok = content.sha256 === expected.sha256;
        if (!result.sha256Ok) result.problems.push('SHA-256 mismatch');
      }
      const sidecar = await this.readSidecar(file);
      const readOnly = (st.mode & 0o222) === 0;
      if (readOnly) result.lockMode = 'FS_READONLY';
      else result.problems.push('file is writable');
      if (sidecar === null) {
        result.problems.push('retention record missing');
      } else {
        result.retainUntil = new Date(sidecar.retainUntil);
        if (result.retainUntil.getTime() < expected.retainUntil.getTime()) result.problems.push('retain-until earlier than expected');
      }
      result.lockOk = readOnly && sidecar !== null && new Date(sidecar.retainUntil).getTime() >= expected.retainUntil.getTime();
      result.ok = result.sizeOk && result.sha256Ok && result.lockOk;
      return result;
    } catch (error) {
      if (isStorageKeyError(error)) throw error;
      throw unavailable(this.name, 'verify failed', error);
    } finally {
      await handle.close();
    }
  }

  async remove(key: string, now: Date): Promise<void> {
    assertObjectKey(key);
    await this.assertMounted();
    const file = this.pathOf(key);
    const sidecar = await this.readSidecar(file);
    if (sidecar === null) {
      // No retention record: the retention is unknown, so it is treated as unexpired.
      const exists = await fs.stat(file).then(() => true, () => false);
      if (!exists) throw new AppError('not_found', `replica ${this.name}: no such object`);
      throw new AppError('retention_locked', `replica ${this.name}: object has no retention record; refusing to delete`);
    }
    if (sidecar.legalHold) throw new AppError('retention_locked', `replica ${this.name}: object is under legal hold`);
    const until = new Date(sidecar.retainUntil);
    if (retentionNow(now).getTime() < until.getTime()) {
      throw new AppError('retention_locked', `replica ${this.name}: object is retained until ${until.toISOString()}`);
    }
    try {
      await fs.unlink(file).catch((error: unknown) => {
        if (errnoCode(error) !== 'ENOENT') throw error;
      });
      await fs.unlink(file + SIDECAR_SUFFIX);
      await fsyncDir(path.dirname(file));
    } catch (error) {
      throw unavailable(this.name, 'delete failed', error);
    }
  }

  async extendRetention(key: string, _versionId: string | null, retainUntil: Date): Promise<Date> {
    const hex = assertObjectKey(key);
    await this.assertMounted();
    const file = this.pathOf(key);
    try {
      const st = await fs.stat(file).catch((error: unknown) => {
        if (errnoCode(error) === 'ENOENT') throw new AppError('not_found', `replica ${this.name}: no such object`);
        throw error;
      });
      const old = await this.readSidecar(file);
      // The sidecar keeps what it says about the object; only the date grows (mergeSidecar takes the later).
      const next = await this.mergeSidecar(file, {
        sha256: old?.sha256 ?? hex,
        size: old?.size ?? st.size,
        retainUntil,
        legalHold: false,
      });
      await fsyncDir(path.dirname(file));
      return new Date(next.retainUntil);
    } catch (error) {
      if (isAppError(error)) throw error;
      throw unavailable(this.name, 'cannot extend the retention record', error);
    }
  }

  async setLegalHold(key: string, on: boolean): Promise<void> {
    assertObjectKey(key);
    await this.assertMounted();
    const file = this.pathOf(key);
    const sidecar = await this.readSidecar(file);
    if (sidecar === null) throw new AppError('not_found', `replica ${this.name}: no such object`);
    try {
      await this.writeSidecar(file, { ...sidecar, legalHold: on });
      await fsyncDir(path.dirname(file));
    } catch (error) {
      throw unavailable(this.name, 'legal hold update failed', error);
    }
  }

  /** The root with its marker; a missing marker reads as an unmounted disk (unavailable), as elsewhere. */
  async assertExists(): Promise<void> {
    await this.assertMounted();
  }

  async probe(): Promise<void> {
    await this.assertMounted();
    try {
      const tmp = await writeTemp(this.root, '.probe', Buffer.from('probe'));
      await fs.unlink(tmp);
    } catch (error) {
      throw unavailable(this.name, 'not writable', error);
    }
  }

  /** fs has no bucket lock configuration; what stands for it is the root's marker, which must still name
   * this replica (a swapped or re-initialised disk would not). A missing marker is an unmounted disk:
   * unavailable, not a finding. Per-file modes and sidecars are checked by verify. */
  async checkProtection(): Promise<string[]> {
    await this.assertMounted();
    try {
      const marker = JSON.parse(await fs.readFile(path.join(this.root, MARKER), 'utf8')) as { name?: unknown };
      return marker.name === this.name ? [] : ['replica marker names another replica'];
    } catch (error) {
      if (error instanceof SyntaxError) return ['replica marker is not valid JSON'];
      throw unavailable(this.name, 'cannot read the replica marker', error);
    }
  }

  /** A record is published like a copy (sidecar first, then link(2), which never replaces a name). */
  async putRecord(key: string, bytes: Uint8Array, retainUntil: Date): Promise<RecordReceipt> {
    assertRecordKey(key);
    await this.assertMounted();
    const file = this.pathOf(key);
    const hex = sha256Hex(bytes);
    const meta: CopyMeta = { sha256: hex, size: bytes.length, retainUntil, legalHold: false };
    try {
      const there = await this.hashIfPresent(file);
      if (there !== null && there !== hex) throw new AppError('conflict', `replica ${this.name}: record already holds other content`);
      await fs.mkdir(path.dirname(file), { recursive: true, mode: DIR_MODE });
      const sidecar = await this.mergeSidecar(file, meta);
      if (there === null) {
        // Sealed like the objects (audit records name users and studies); `there` above compares plaintext.
        const tmp = await writeTemp(path.dirname(file), path.basename(file), await this.envelope.seal(bytes));
        try {
          await fs.link(tmp, file);
        } catch (error) {
          if (errnoCode(error) !== 'EEXIST') throw error;
          // Another writer got there first: fine when it wrote the same bytes.
          if ((await this.hashIfPresent(file)) !== hex) throw new AppError('conflict', `replica ${this.name}: record already holds other content`);
        } finally {
          await fs.unlink(tmp).catch(() => undefined);
        }
        await fsyncDir(path.dirname(file));
      }
      return { target: this.name, key, versionId: null, retainUntil: new Date(sidecar.retainUntil), created: there === null };
    } catch (error) {
      if (isAppError(error)) throw error;
      throw unavailable(this.name, 'record write failed', error);
    }
  }

  async listRecords(prefix: string): Promise<RecordVersion[]> {
    assertRecordPrefix(prefix);
    await this.assertMounted();
    const out: RecordVersion[] = [];
    const walk = async (dir: string, keyPrefix: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (error) {
        if (errnoCode(error) === 'ENOENT') return;
        throw unavailable(this.name, 'record listing failed', error);
      }
      for (const entry of entries) {
        const key = `${keyPrefix}${entry.name}`;
        if (entry.isDirectory()) await walk(path.join(dir, entry.name), `${key}/`);
        else if (entry.isFile() && !entry.name.endsWith(SIDECAR_SUFFIX) && !entry.name.includes('.tmp-') && key.startsWith(prefix)) {
          const st = await fs.stat(path.join(dir, entry.name));
          out.push({ key, versionId: null, latest: true, deleteMarker: false, size: st.size, lastModified: st.mtime });
        }
      }
    };
    // Walk from the deepest directory the prefix names; a partial last part filters by name.
    const dirKey = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    await walk(this.pathOf(dirKey.replace(/\/$/, '')), dirKey);
    return out.sort((a, b) => a.key.localeCompare(b.key));
  }

  async readRecord(key: string, _versionId: string | null): Promise<Uint8Array> {
    assertRecordKey(key);
    let stored: Uint8Array;
    try {
      stored = await fs.readFile(this.pathOf(key));
    } catch (error) {
      throw this.readError(error);
    }
    // Records written before they were sealed (or with encryption off) are returned as they are.
    return this.envelope.open(stored);
  }

  private pathOf(key: string): string {
    return path.join(this.root, ...key.split('/'));
  }

  /** The marker proves the root is the replica (mounted), not an empty mount point or a missing dir. */
  private async assertMounted(): Promise<void> {
    try {
      await fs.access(path.join(this.root, MARKER));
    } catch (error) {
      throw unavailable(this.name, 'replica root not available (not mounted or not initialised)', error);
    }
  }

  private readError(error: unknown): AppError {
    if (isStorageKeyError(error)) return error;
    if (errnoCode(error) === 'ENOENT') return new AppError('not_found', `replica ${this.name}: no such object`);
    return unavailable(this.name, 'read failed', error);
  }

  /**
   * SHA-256 of the content of the file at `file` (a sealed copy opened), or null when there is none. A
   * sealed copy that does not authenticate hashes to nothing (`''`): it is corrupt. One whose key is not
   * in the key file throws: a copy that cannot be judged is never replaced.
   */
  private async hashIfPresent(file: string): Promise<string | null> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(file, 'r');
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return null;
      throw error;
    }
    try {
      return (await this.envelope.digest(handle.createReadStream({ autoClose: false }))).sha256;
    } catch (error) {
      if (isStorageKeyError(error) && error.problem !== 'key_unavailable') return '';
      throw error;
    } finally {
      await handle.close();
    }
  }

  /** The content size of a copy: its file size, or the size its envelope header records. */
  private async contentSizeOf(file: string, storedSize: number): Promise<number> {
    if (storedSize < ENVELOPE_SIZE_PROBE_BYTES) return storedSize;
    const handle = await fs.open(file, 'r');
    try {
      const head = Buffer.alloc(ENVELOPE_SIZE_PROBE_BYTES);
      const { bytesRead } = await handle.read(head, 0, head.length, 0);
      const probe = head.subarray(0, bytesRead);
      return isSealed(probe) ? this.envelope.contentSize(probe, storedSize) : storedSize;
    } finally {
      await handle.close();
    }
  }

  /** A new copy is published with link(2), which fails when the name exists: a good copy that another
   * writer put there meanwhile is never replaced. */
  private async linkNew(file: string, bytes: FileBytes, hex: string): Promise<void> {
    const tmp = await writeTemp(path.dirname(file), hex, bytes, this.directIo);
    try {
      await fs.link(tmp, file);
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw error;
      const there = await this.hashIfPresent(file);
      if (there !== hex) await this.replaceCorruptCopy(file, bytes, hex);
    } finally {
      await fs.unlink(tmp).catch(() => undefined);
    }
  }

  /**
   * The explicit repair path, and the only place a file is replaced. Safe because the address is the
   * content: the file is re-hashed immediately before, and replaced only when its bytes do NOT hash to
   * its own name (so it is not a copy of anything worth keeping), by bytes that do.
   */
  private async replaceCorruptCopy(file: string, bytes: FileBytes, hex: string): Promise<void> {
    const there = await this.hashIfPresent(file);
    if (there === hex) return;
    this.logger?.warn({ replica: this.name, sha256: hex }, 'storage: replacing a corrupt copy');
    const tmp = await writeTemp(path.dirname(file), hex, bytes, this.directIo);
    await fs.rename(tmp, file);
  }

  private async readSidecar(file: string): Promise<Sidecar | null> {
    try {
      const parsed = JSON.parse(await fs.readFile(file + SIDECAR_SUFFIX, 'utf8')) as Partial<Omit<Sidecar, 'origin'>> & { origin?: unknown };
      if (typeof parsed.retainUntil !== 'string' || Number.isNaN(Date.parse(parsed.retainUntil))) return null;
      const origin = typeof parsed.origin === 'object' && parsed.origin !== null ? originFromStrings(parsed.origin as Record<string, unknown>) : null;
      return {
        v: 1,
        sha256: String(parsed.sha256),
        size: Number(parsed.size),
        retainUntil: parsed.retainUntil,
        legalHold: parsed.legalHold === true,
        ...(origin === null ? {} : { origin }),
      };
    } catch (error) {
      if (errnoCode(error) === 'ENOENT' || error instanceof SyntaxError) return null;
      throw unavailable(this.name, 'cannot read the retention record', error);
    }
  }

  /** Retention only grows: the later retain-until wins, and a put never lifts a legal hold. The first
   * origin recorded stays (a sidecar from before #18 gets one from the next put that brings one). */
  private async mergeSidecar(file: string, meta: CopyMeta): Promise<Sidecar> {
    const old = await this.readSidecar(file);
    const next = mergedSidecar(old, meta);
    if (old === null) {
      await this.createSidecar(file, next);
    } else if (old.retainUntil !== next.retainUntil || old.legalHold !== next.legalHold || old.sha256 !== next.sha256 || old.origin !== next.origin) {
      await this.writeSidecar(file, next);
    }
    return next;
  }

  /** The sidecar of an object that has none yet, made in place with O_EXCL; null when one exists (merge it). */
  private async createFirstSidecar(file: string, meta: CopyMeta): Promise<Sidecar | null> {
    const sidecar = mergedSidecar(null, meta);
    try {
      await writeNewFile(file + SIDECAR_SUFFIX, serialiseSidecar(sidecar));
      return sidecar;
    } catch (error) {
      if (errnoCode(error) === 'EEXIST') return null;
      throw error;
    }
  }

  /**
   * A first sidecar is written in place, without a temp file and rename (#14): the data file, linked
   * after it, is the commit point, so a sidecar cut short by a crash has no data file beside it and is
   * replaced on the next put. One that is already there (unreadable) is replaced via rename.
   */
  private async createSidecar(file: string, sidecar: Sidecar): Promise<void> {
    try {
      await writeNewFile(file + SIDECAR_SUFFIX, serialiseSidecar(sidecar));
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw error;
      await this.writeSidecar(file, sidecar);
    }
  }

  private async writeSidecar(file: string, sidecar: Sidecar): Promise<void> {
    const tmp = await writeTemp(path.dirname(file), path.basename(file) + SIDECAR_SUFFIX, serialiseSidecar(sidecar));
    await fs.rename(tmp, file + SIDECAR_SUFFIX);
  }

  /** mkdir -p made `created` .. `dir`; each new entry must reach the disk via its parent's fsync. */
  private async fsyncCreatedDirs(created: string, dir: string): Promise<void> {
    let current = dir;
    for (;;) {
      await fsyncDir(path.dirname(current));
      if (current === created || path.dirname(current) === current) break;
      current = path.dirname(current);
    }
  }
}
