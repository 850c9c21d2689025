import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import { copyPiecesInto, piecesLength } from './pieces';

/**
 * Writing a file with O_DIRECT (#14): the bytes go from this process's memory to the disk without being
 * copied into the page cache first. Three fsync'd copies of every instance on one machine made that copy
 * the largest single cost of ingest (the kernel's `copy_folio_from_iter_atomic`, docs/benchmarks.md);
 * with O_DIRECT the same durable file costs about half the system time. O_DIRECT alone is not durable
 * (the device's cache, the file's size): the fsync after it stays. Readers are unaffected: the kernel
 * keeps the page cache coherent with direct writes, and a later read simply comes from the disk.
 *
 * O_DIRECT wants the memory, the file offset and the length aligned to the device's block (its DMA
 * alignment and logical block size, 512 bytes on most disks). Node gives no say over a Buffer's address,
 * but a WebAssembly memory starts on a page boundary: the staging slots below are 1 MiB pieces of one,
 * never grown (growing would detach the buffer under a write in flight). Each write copies up to a slot
 * of the file's bytes into a slot (a user-space copy, far cheaper than the kernel's) and writes it at a
 * slot-aligned offset; the last block is zero-padded to 4 KiB and the file then cut to its size with
 * ftruncate before the fsync. Where O_DIRECT is refused (EINVAL: a filesystem without it, a device with
 * a larger block) or the staging memory cannot be had, the file is written the ordinary way.
 *
 * The three replicas write the same object at about the same time, each from the same pieces: a slot's worth
 * staged for one is written by all that ask for that part of those pieces while it is staged (one copy of the
 * object into staging memory instead of three, bench:explain's "bytes copied"). Sharing is opportunistic: a
 * writer that comes after the others released a part stages it again.
 */

/** What each write's length is padded to: a page, a multiple of every common block size (the memory is
 * aligned by the arena's page boundary and the offsets by the slot size). */
export const DIRECT_ALIGNMENT = 4096;
/** Bytes per staging slot (and so per write call). */
export const DIRECT_SLOT_BYTES = 1 << 20;
/** Staging slots: writes beyond this many at once wait for a slot (bounded memory: 16 MiB). */
const DIRECT_SLOTS = 16;
/** Files smaller than this (sidecars, markers, small instances) go through the page cache, where the copy
 * saved would be small. */
export const DIRECT_MIN_BYTES = 256 * 1024;

/** Node's WebAssembly global, which this package's type libraries (no DOM) do not declare. */
declare const WebAssembly: { Memory: new (descriptor: { initial: number; maximum?: number }) => { readonly buffer: ArrayBuffer } };

class SlotPool {
  private readonly arena: Buffer;
  private readonly free: number[];
  private readonly waiting: ((slot: number) => void)[] = [];

  constructor(slots: number) {
    const pages = Math.ceil((slots * DIRECT_SLOT_BYTES) / 65536);
    this.arena = Buffer.from(new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer);
    this.free = Array.from({ length: slots }, (_, i) => i);
  }

  view(slot: number): Buffer {
    return this.arena.subarray(slot * DIRECT_SLOT_BYTES, (slot + 1) * DIRECT_SLOT_BYTES);
  }

  acquire(): Promise<number> {
    const slot = this.free.pop();
    if (slot !== undefined) return Promise.resolve(slot);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(slot: number): void {
    const next = this.waiting.shift();
    if (next) next(slot);
    else this.free.push(slot);
  }
}

/**
 * Creates `file` (O_EXCL) with O_DIRECT, writes `pieces` in order, cuts it to their length and fsyncs it.
 * False when the filesystem (or the kernel, for this memory) refuses O_DIRECT: then nothing is left
 * behind and the caller writes the file the ordinary way. Other failures reject, also leaving nothing.
 */
/** A slot's worth of some pieces, staged once for every writer of those pieces that asks while it is held. */
interface StagedPart {
  staged: Promise<{ slot: number; length: number }>;
  users: number;
  /** Where it is listed while held: its pieces' parts, under `id`. */
  parts: Map<string, StagedPart>;
  id: string;
}

export class DirectWriter {
  private pool: SlotPool | null | undefined;
  /** Parts staged now, by the pieces' first buffer (the same object for every copy of one content), then
   * by their total length and the part's offset. */
  private readonly staging = new WeakMap<Uint8Array, Map<string, StagedPart>>();
  /** Bytes copied into staging memory so far (diagnostics and tests: sharing shows as fewer). */
  stagedBytes = 0;

  /** `alignment`: what lengths are padded to (DIRECT_ALIGNMENT); tests set one the kernel refuses. */
  constructor(private readonly options: { slots?: number; alignment?: number } = {}) {}

  async writeNewFile(file: string, pieces: readonly Uint8Array[], mode: number): Promise<boolean> {
    const pool = this.slots();
    if (pool === null) return false;
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_DIRECT, mode);
    } catch (error) {
      if (isEinval(error)) return false;
      throw error;
    }
    try {
      await this.write(handle, pieces, pool);
      await handle.sync();
    } catch (error) {
      await handle.close().catch(() => undefined);
      await fs.unlink(file).catch(() => undefined);
      if (isEinval(error)) return false;
      throw error;
    }
    await handle.close();
    return true;
  }

  /** The staging slots, made on first use; null when the memory cannot be had (an address-space limit). */
  private slots(): SlotPool | null {
    if (this.pool === undefined) {
      try {
        this.pool = new SlotPool(this.options.slots ?? DIRECT_SLOTS);
      } catch {
        this.pool = null;
      }
    }
    return this.pool;
  }

  private async write(handle: fs.FileHandle, pieces: readonly Uint8Array[], pool: SlotPool): Promise<void> {
    const total = piecesLength(pieces);
    const alignment = this.options.alignment ?? DIRECT_ALIGNMENT;
    for (let position = 0; position < total; position += DIRECT_SLOT_BYTES) {
      const part = this.join(pieces, total, position, pool, alignment);
      try {
        const { slot, length } = await part.staged;
        const view = pool.view(slot);
        let written = 0;
        while (written < length) {
          const { bytesWritten } = await handle.write(view, written, length - written, position + written);
          if (bytesWritten <= 0) throw new Error('write made no progress');
          written += bytesWritten;
        }
      } finally {
        this.leave(pieces, part, pool);
      }
    }
    if (total % alignment !== 0) await handle.truncate(total);
  }

  /** The part of `pieces` at `position`, staged (zero-padded to the alignment) by its first writer. */
  private join(pieces: readonly Uint8Array[], total: number, position: number, pool: SlotPool, alignment: number): StagedPart {
    const key = pieces[0] as Uint8Array;
    const id = `${total}:${position}`;
    let parts = this.staging.get(key);
    if (parts === undefined) {
      parts = new Map();
      this.staging.set(key, parts);
    }
    const held = parts.get(id);
    if (held !== undefined) {
      held.users += 1;
      return held;
    }
    const staged = pool.acquire().then((slot) => {
      try {
        const view = pool.view(slot);
        const n = copyPiecesInto(pieces, position, view);
        this.stagedBytes += n;
        const length = Math.ceil(n / alignment) * alignment;
        view.fill(0, n, length);
        return { slot, length };
      } catch (error) {
        pool.release(slot);
        throw error;
      }
    });
    const part: StagedPart = { staged, users: 1, parts, id };
    parts.set(id, part);
    return part;
  }

  /** One writer is done with a part; the last one gives its slot back. */
  private leave(pieces: readonly Uint8Array[], part: StagedPart, pool: SlotPool): void {
    part.users -= 1;
    if (part.users > 0) return;
    part.parts.delete(part.id);
    if (part.parts.size === 0 && this.staging.get(pieces[0] as Uint8Array) === part.parts) this.staging.delete(pieces[0] as Uint8Array);
    // A part whose staging failed gave its slot back already (and its writers saw the error).
    void part.staged.then(({ slot }) => pool.release(slot), () => undefined);
  }
}

/** The writer the replicas share (one staging arena per process). */
export const directWriter = new DirectWriter();

function isEinval(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'EINVAL';
}
