/**
 * The unread bytes of a stream, kept as the network chunks they arrived in. Nothing is copied to append
 * or to consume: `take` hands out views of the chunks. Only a search across a chunk edge copies, and then
 * at most twice the needle's length (the "bridge"), so a reader over it copies each byte of a body once
 * at most (when a part spans several chunks and its consumer wants it contiguous).
 */
export class ChunkList {
  private readonly chunks: Buffer[] = [];
  private total = 0;

  get length(): number {
    return this.total;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /** The byte at `index` (0 = the first unread byte), or undefined past the end. */
  byteAt(index: number): number | undefined {
    let rest = index;
    for (const chunk of this.chunks) {
      if (rest < chunk.length) return chunk[rest];
      rest -= chunk.length;
    }
    return undefined;
  }

  /**
   * The position of the first occurrence of `needle`, or -1. Each chunk is searched in place; a match that
   * straddles an edge is found in a small bridge of the last needle-1 bytes before the edge and the first
   * needle-1 bytes after it (which may span several short chunks).
   */
  indexOf(needle: Buffer): number {
    let base = 0;
    for (const [i, chunk] of this.chunks.entries()) {
      const inside = chunk.indexOf(needle);
      if (inside >= 0) return base + inside;
      const tailLength = Math.min(needle.length - 1, chunk.length);
      const after = this.gather(i + 1, needle.length - 1);
      const afterBytes = after.reduce((n, b) => n + b.length, 0);
      if (tailLength > 0 && tailLength + afterBytes >= needle.length) {
        const bridge = Buffer.concat([chunk.subarray(chunk.length - tailLength), ...after]);
        const at = bridge.indexOf(needle);
        // A match starting after the edge lies wholly in later chunks: found there, in order.
        if (at >= 0 && at < tailLength) return base + chunk.length - tailLength + at;
      }
      base += chunk.length;
    }
    return -1;
  }

  /** Removes the first `n` bytes and returns them as views of the chunks (no copy). */
  take(n: number): Buffer[] {
    const out: Buffer[] = [];
    let rest = Math.min(n, this.total);
    this.total -= rest;
    while (rest > 0) {
      const chunk = this.chunks[0];
      if (chunk === undefined) break;
      if (chunk.length <= rest) {
        out.push(chunk);
        this.chunks.shift();
        rest -= chunk.length;
      } else {
        out.push(chunk.subarray(0, rest));
        this.chunks[0] = chunk.subarray(rest);
        rest = 0;
      }
    }
    return out;
  }

  /** Removes the first `n` bytes and returns them as one buffer (a copy only when they span chunks). */
  takeContiguous(n: number): Buffer {
    return joinChunks(this.take(n));
  }

  skip(n: number): void {
    this.take(n);
  }

  /** Up to `n` bytes from chunk `from` on, as views. */
  private gather(from: number, n: number): Buffer[] {
    const out: Buffer[] = [];
    let rest = n;
    for (const chunk of this.chunks.slice(from)) {
      if (rest <= 0) break;
      const piece = chunk.length <= rest ? chunk : chunk.subarray(0, rest);
      out.push(piece);
      rest -= piece.length;
    }
    return out;
  }
}

/** One buffer from views: the view itself when there is only one, else one copy of exactly `size` bytes. */
export function joinChunks(chunks: readonly Buffer[], size?: number): Buffer {
  const [only] = chunks;
  if (chunks.length === 1 && only !== undefined) return only;
  return Buffer.concat(chunks, size);
}
