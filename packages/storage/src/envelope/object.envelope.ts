import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { AppError } from '@yunying/core';
import { SEGMENT_CIPHERS, segmentCipherById, type DataAlgorithm, type SegmentCipher } from './envelope.aead';
import { StorageKeyError, type KeyEncryptionService } from './envelope.keys';

/**
 * Envelope encryption of stored objects (#17, at rest). A sealed object is a header followed by
 * segments; everything about it travels with the bytes, so a copy alone (rebuild-catalog) opens given
 * the key file:
 *
 *   0   8  magic 89 59 59 45 4E 43 0D 0A ("\x89YYENC\r\n": not text, not a DICOM preamble in practice)
 *   8   1  format version (1)
 *   9   1  cipher: 1 AES-256-GCM, 2 SM4-CTR + HMAC-SM3 (envelope.aead.ts)
 *   10  1  log2 of the segment size (16: 64 KiB)
 *   11  1  key id length k (1..64)
 *   12  2  wrapped data key length w, big-endian
 *   14  8  content (plaintext) size, big-endian
 *   22  k  id of the key-encryption key (ASCII)
 *   .   w  the object's data key, wrapped by that KEK (KeyEncryptionService)
 *   then ceil(size / segment) segments (one, empty, for an empty object): ciphertext + tag each
 *
 * Every segment is authenticated with the whole header as associated data and its number as nonce, so a
 * changed header (key id, size), a reordered, cut or extended segment list, or a changed byte fails to
 * open: readers never get bytes that were not sealed under the key. Segments let a byte range (a frame)
 * be opened without the rest, and a stream be opened with one segment in memory.
 *
 * The content address and the catalog's digests stay the SHA-256 of the plaintext: sealing is invisible
 * above the replica targets. Objects written before encryption (or with it off) carry no header and are
 * served as they are: a mixed archive reads both.
 */
const MAGIC = Buffer.from([0x89, 0x59, 0x59, 0x45, 0x4e, 0x43, 0x0d, 0x0a]);
const VERSION = 1;
const FIXED_HEADER_BYTES = 22;
const MAX_WRAPPED_BYTES = 900;
/** Enough to hold any header (22 + 64 + 900 bytes): what range reads fetch first. */
export const ENVELOPE_MAX_HEADER_BYTES = 1024;
/** Enough to tell a sealed object and its content size (stat). */
export const ENVELOPE_SIZE_PROBE_BYTES = FIXED_HEADER_BYTES;
const DEFAULT_SEGMENT_LOG2 = 16;

export interface ContentDigest {
  sha256: string;
  size: number;
}

interface Header {
  bytes: Buffer;
  cipher: SegmentCipher;
  segmentBytes: number;
  contentSize: number;
  keyId: string;
  wrapped: Buffer;
}

export interface ObjectEnvelopeOptions {
  /** The cipher new objects are sealed with; null: new objects are stored as they are (encryption off). */
  seal: DataAlgorithm | null;
  /** Opens sealed objects (and seals new ones); null: none configured, a sealed object cannot be opened. */
  keys: KeyEncryptionService | null;
  /** log2 of the segment size, 12..20; default 16 (64 KiB). */
  segmentLog2?: number;
}

function malformed(what: string): StorageKeyError {
  return new StorageKeyError('malformed', `storage encryption: sealed object is malformed (${what})`);
}

/** True when `head` (the first bytes of a stored object) starts a sealed object. */
export function isSealed(head: Uint8Array): boolean {
  return head.length >= MAGIC.length && MAGIC.equals(Buffer.from(head.buffer, head.byteOffset, MAGIC.length));
}

/** Reads exact amounts from an async iterable of chunks. */
class ByteReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private done = false;
  private readonly iterator: AsyncIterator<Uint8Array>;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Up to `n` bytes; fewer only at the end. */
  async take(n: number): Promise<Buffer> {
    while (this.pendingBytes < n && !this.done) {
      const next = await this.iterator.next();
      if (next.done === true) this.done = true;
      else {
        const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
        this.pending.push(chunk);
        this.pendingBytes += chunk.length;
      }
    }
    const all = this.pending.length === 1 && this.pending[0] !== undefined ? this.pending[0] : Buffer.concat(this.pending);
    const out = all.subarray(0, Math.min(n, all.length));
    const rest = all.subarray(out.length);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
    return out;
  }

  async exactly(n: number, what: string): Promise<Buffer> {
    const got = await this.take(n);
    if (got.length !== n) throw malformed(`${what} cut short`);
    return got;
  }

  async *rest(): AsyncGenerator<Buffer> {
    for (const chunk of this.pending) yield chunk;
    this.pending = [];
    this.pendingBytes = 0;
    while (!this.done) {
      const next = await this.iterator.next();
      if (next.done === true) this.done = true;
      else yield Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    }
  }

  async atEnd(): Promise<boolean> {
    return (await this.take(1)).length === 0;
  }
}

export class ObjectEnvelope {
  readonly sealing: DataAlgorithm | null;
  private readonly keys: KeyEncryptionService | null;
  private readonly segmentLog2: number;
  /** One seal per content buffer: the three copies of a put share one ciphertext (encrypt once). */
  private readonly sealedOf = new WeakMap<Uint8Array, Promise<readonly Buffer[]>>();
  /** The same ciphertext joined into one buffer, for targets that need one (S3 bodies, derived objects). */
  private readonly joinedOf = new WeakMap<Uint8Array, Promise<Uint8Array>>();

  constructor(options: ObjectEnvelopeOptions) {
    if (options.seal !== null && options.keys === null) {
      throw new AppError('config_invalid', 'storage encryption: a cipher is configured but no key (STORAGE_KEY_FILE)');
    }
    const log2 = options.segmentLog2 ?? DEFAULT_SEGMENT_LOG2;
    if (!Number.isInteger(log2) || log2 < 12 || log2 > 20) throw new AppError('config_invalid', 'storage encryption: segment size must be 2^12..2^20 bytes');
    this.sealing = options.seal;
    this.keys = options.keys;
    this.segmentLog2 = log2;
  }

  /** Seals nothing, opens nothing sealed: targets built without encryption settings (tests, tools). */
  static plain(): ObjectEnvelope {
    return new ObjectEnvelope({ seal: null, keys: null });
  }

  /** The id of the KEK new objects are sealed under; null when encryption is off. */
  get activeKeyId(): string | null {
    return this.sealing === null ? null : (this.keys?.activeKeyId ?? null);
  }

  /**
   * The bytes to store for `content`: sealed under a fresh data key, or `content` itself with encryption
   * off. Called once per target with the same buffer, it seals once (the copies carry one ciphertext).
   */
  seal(content: Uint8Array): Promise<Uint8Array> {
    if (this.sealing === null) return this.sealParts(content).then(() => content);
    let joined = this.joinedOf.get(content);
    if (joined === undefined) {
      joined = this.sealParts(content).then((parts) => Buffer.concat(parts));
      this.joinedOf.set(content, joined);
    }
    return joined;
  }

  /**
   * What `seal` returns, as the pieces the cipher made (header, then ciphertext and tag of each segment),
   * for a writer that takes several buffers at once (writev): joining them would copy every byte of the
   * object once more and allocate as much again, which the collector then has to reclaim (#14). Sealed
   * once per content buffer, like `seal`.
   */
  sealParts(content: Uint8Array): Promise<readonly Uint8Array[]> {
    if (this.sealing === null) {
      // A plaintext copy that began with the marker would later be taken for a sealed one.
      if (isSealed(content)) return Promise.reject(new AppError('unprocessable', 'object begins with the storage envelope marker; it can only be stored with encryption on'));
      return Promise.resolve([content]);
    }
    let sealed = this.sealedOf.get(content);
    if (sealed === undefined) {
      sealed = this.sealNow(content, this.sealing);
      this.sealedOf.set(content, sealed);
    }
    return sealed;
  }

  /**
   * Forgets the sealed form of `content` (the copies of it are written): the cache would otherwise keep
   * the ciphertext alive as long as the content, which a batch holds until its commit (#14: that much
   * more memory old enough for a full collection to reclaim). A later seal of it seals anew.
   */
  release(content: Uint8Array): void {
    this.sealedOf.delete(content);
    this.joinedOf.delete(content);
  }

  private async sealNow(content: Uint8Array, algorithm: DataAlgorithm): Promise<readonly Buffer[]> {
    const keys = this.requireKeys();
    const cipher = SEGMENT_CIPHERS[algorithm];
    const dataKey = crypto.randomBytes(cipher.dataKeyBytes);
    const { keyId, wrapped } = await keys.wrap(algorithm, dataKey, wrapContext(cipher.id, this.segmentLog2));
    const header = buildHeader(cipher, this.segmentLog2, content.length, keyId, wrapped);
    const plain = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
    const segmentBytes = 2 ** this.segmentLog2;
    const parts: Buffer[] = [header.bytes];
    const count = segmentCount(content.length, segmentBytes);
    for (let i = 0; i < count; i++) parts.push(...cipher.seal(dataKey, i, header.bytes, plain.subarray(i * segmentBytes, (i + 1) * segmentBytes)));
    return parts;
  }

  /** The content of a whole stored object (sealed or not). Throws StorageKeyError when it does not open. */
  async open(stored: Uint8Array): Promise<Uint8Array> {
    if (!isSealed(stored)) return stored;
    const parts: Buffer[] = [];
    for await (const part of this.openChunks([stored])) parts.push(part);
    return parts.length === 1 && parts[0] !== undefined ? parts[0] : Buffer.concat(parts);
  }

  /**
   * The content of a stored stream, segment by segment, each released only once it authenticated; the
   * stream errors with StorageKeyError at a later segment that does not. The header, the data key and the
   * first segment are checked before this resolves, so a missing key or a wrong header is an error the
   * caller gets before it sends anything (and can try another copy). Unsealed objects pass through.
   */
  async openStream(stored: Readable): Promise<Readable> {
    const chunks = this.openChunks(stored as AsyncIterable<Uint8Array>);
    let first: IteratorResult<Buffer>;
    try {
      first = await chunks.next();
    } catch (error) {
      stored.destroy();
      throw error;
    }
    async function* all(): AsyncGenerator<Buffer> {
      if (first.done !== true) yield first.value;
      yield* chunks;
    }
    const out = Readable.from(all(), { objectMode: false });
    // Closing the reader early must close the source (a file handle, an S3 socket).
    out.once('close', () => stored.destroy());
    return out;
  }

  /** SHA-256 and size of the content a stored stream holds: opens (and so authenticates) sealed objects. */
  async digest(stored: Readable): Promise<ContentDigest> {
    const hash = crypto.createHash('sha256');
    let size = 0;
    for await (const part of this.openChunks(stored as AsyncIterable<Uint8Array>)) {
      hash.update(part);
      size += part.length;
    }
    return { sha256: hash.digest('hex'), size };
  }

  /** The content size of a stored object from its first ENVELOPE_SIZE_PROBE_BYTES and its stored size. */
  contentSize(head: Uint8Array, storedSize: number): number {
    if (!isSealed(head) || head.length < FIXED_HEADER_BYTES) return storedSize;
    return Number(Buffer.from(head.buffer, head.byteOffset, head.byteLength).readBigUInt64BE(14));
  }

  /**
   * Content bytes [offset, offset+length) of a sealed object, opening only the segments that cover them;
   * `raw(offset, length)` reads stored bytes (clipped at the end). Null when the object is not sealed:
   * the caller reads the range as it is.
   */
  async openRange(raw: (offset: number, length: number) => Promise<Uint8Array>, offset: number, length: number): Promise<Uint8Array | null> {
    let head = Buffer.from(await raw(0, ENVELOPE_MAX_HEADER_BYTES));
    if (!isSealed(head)) return null;
    if (head.length < FIXED_HEADER_BYTES) throw malformed('header cut short');
    const headerLength = FIXED_HEADER_BYTES + (head[11] ?? 0) + head.readUInt16BE(12);
    if (head.length < headerLength) head = Buffer.from(await raw(0, headerLength));
    const header = parseHeader(head.subarray(0, headerLength));
    const dataKey = await this.dataKeyOf(header);
    const size = header.contentSize;
    const end = Math.min(size, offset + length);
    if (offset >= end) return Buffer.alloc(0);
    const S = header.segmentBytes;
    const T = header.cipher.tagBytes;
    const first = Math.floor(offset / S);
    const last = Math.floor((end - 1) / S);
    const storedStart = header.bytes.length + first * (S + T);
    const storedEnd = header.bytes.length + last * (S + T) + segmentLength(size, S, last) + T;
    const stored = Buffer.from(await raw(storedStart, storedEnd - storedStart));
    if (stored.length !== storedEnd - storedStart) throw malformed('segments cut short');
    const parts: Buffer[] = [];
    let at = 0;
    for (let i = first; i <= last; i++) {
      const sealedLength = segmentLength(size, S, i) + T;
      parts.push(this.openSegment(header, dataKey, i, stored.subarray(at, at + sealedLength)));
      at += sealedLength;
    }
    const opened = Buffer.concat(parts);
    return opened.subarray(offset - first * S, end - first * S);
  }

  private async *openChunks(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Buffer> {
    const reader = new ByteReader(toAsync(source));
    const first = await reader.take(MAGIC.length);
    if (!isSealed(first)) {
      if (first.length > 0) yield first;
      yield* reader.rest();
      return;
    }
    const fixed = Buffer.concat([first, await reader.exactly(FIXED_HEADER_BYTES - MAGIC.length, 'header')]);
    const variable = await reader.exactly((fixed[11] ?? 0) + fixed.readUInt16BE(12), 'header');
    const header = parseHeader(Buffer.concat([fixed, variable]));
    const dataKey = await this.dataKeyOf(header);
    const S = header.segmentBytes;
    const count = segmentCount(header.contentSize, S);
    for (let i = 0; i < count; i++) {
      const sealed = await reader.exactly(segmentLength(header.contentSize, S, i) + header.cipher.tagBytes, 'segments');
      yield this.openSegment(header, dataKey, i, sealed);
    }
    if (!(await reader.atEnd())) throw malformed('bytes after the last segment');
  }

  private openSegment(header: Header, dataKey: Buffer, index: number, sealed: Buffer): Buffer {
    const plain = header.cipher.open(dataKey, index, header.bytes, sealed);
    if (plain === null) throw new StorageKeyError('not_authentic', 'storage encryption: a segment does not authenticate (tampered or corrupt copy)');
    return plain;
  }

  private async dataKeyOf(header: Header): Promise<Buffer> {
    const dataKey = await this.requireKeys().unwrap(header.keyId, header.wrapped, wrapContext(header.cipher.id, Math.log2(header.segmentBytes)));
    if (dataKey.length !== header.cipher.dataKeyBytes) throw new StorageKeyError('not_authentic', 'storage encryption: the data key has the wrong length');
    return dataKey;
  }

  private requireKeys(): KeyEncryptionService {
    if (this.keys === null) throw new StorageKeyError('key_unavailable', 'storage encryption: the object is sealed but no key file is configured (STORAGE_KEY_FILE)');
    return this.keys;
  }
}

async function* toAsync(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) yield chunk;
}

function segmentCount(contentSize: number, segmentBytes: number): number {
  return Math.max(1, Math.ceil(contentSize / segmentBytes));
}

function segmentLength(contentSize: number, segmentBytes: number, index: number): number {
  return Math.max(0, Math.min(segmentBytes, contentSize - index * segmentBytes));
}

/** What a wrapped data key is bound to: the format, the cipher and the segment size. */
function wrapContext(cipherId: number, segmentLog2: number): Buffer {
  return Buffer.concat([MAGIC, Buffer.from([VERSION, cipherId, segmentLog2])]);
}

function buildHeader(cipher: SegmentCipher, segmentLog2: number, contentSize: number, keyId: string, wrapped: Buffer): Header {
  const id = Buffer.from(keyId, 'ascii');
  if (id.length < 1 || id.length > 64 || wrapped.length > MAX_WRAPPED_BYTES) throw new AppError('internal', 'storage encryption: key id or wrapped key out of bounds');
  const fixed = Buffer.alloc(FIXED_HEADER_BYTES);
  MAGIC.copy(fixed, 0);
  fixed[8] = VERSION;
  fixed[9] = cipher.id;
  fixed[10] = segmentLog2;
  fixed[11] = id.length;
  fixed.writeUInt16BE(wrapped.length, 12);
  fixed.writeBigUInt64BE(BigInt(contentSize), 14);
  return { bytes: Buffer.concat([fixed, id, wrapped]), cipher, segmentBytes: 2 ** segmentLog2, contentSize, keyId, wrapped };
}

function parseHeader(bytes: Buffer): Header {
  if (bytes.length < FIXED_HEADER_BYTES || !isSealed(bytes)) throw malformed('no header');
  if (bytes[8] !== VERSION) throw malformed(`format version ${bytes[8] ?? '?'}`);
  const cipher = segmentCipherById(bytes[9] ?? 0);
  if (cipher === null) throw malformed('unknown cipher');
  const log2 = bytes[10] ?? 0;
  if (log2 < 12 || log2 > 20) throw malformed('segment size');
  const idLength = bytes[11] ?? 0;
  const wrappedLength = bytes.readUInt16BE(12);
  const contentSize = bytes.readBigUInt64BE(14);
  if (idLength < 1 || idLength > 64 || wrappedLength > MAX_WRAPPED_BYTES || contentSize > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed('header fields');
  if (bytes.length !== FIXED_HEADER_BYTES + idLength + wrappedLength) throw malformed('header length');
  const keyId = bytes.subarray(FIXED_HEADER_BYTES, FIXED_HEADER_BYTES + idLength).toString('ascii');
  if (!/^[A-Za-z0-9._:/-]{1,64}$/.test(keyId)) throw malformed('key id');
  return {
    bytes,
    cipher,
    segmentBytes: 2 ** log2,
    contentSize: Number(contentSize),
    keyId,
    wrapped: bytes.subarray(FIXED_HEADER_BYTES + idLength),
  };
}
