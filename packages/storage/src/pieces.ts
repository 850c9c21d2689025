/**
 * A file's bytes as pieces in order (a sealed object's header and segments, #14): written as they are
 * (writev, or O_DIRECT through staging slots) instead of being joined into one buffer first.
 */

/** Total length of some pieces. */
export function piecesLength(pieces: readonly Uint8Array[]): number {
  return pieces.reduce((n, p) => n + p.length, 0);
}

/** What is left of `pieces` once their first `written` bytes are written (empty pieces dropped). */
export function unwritten(pieces: readonly Uint8Array[], written: number): Uint8Array[] {
  let skip = written;
  for (const [i, piece] of pieces.entries()) {
    if (skip < piece.length) return [piece.subarray(skip), ...pieces.slice(i + 1).filter((p) => p.length > 0)];
    skip -= piece.length;
  }
  return [];
}

/**
 * Copies bytes [from, from + dest.length) of the concatenation of `pieces` into `dest` and returns how
 * many were there to copy (less than dest.length only at the end).
 */
export function copyPiecesInto(pieces: readonly Uint8Array[], from: number, dest: Uint8Array): number {
  let filled = 0;
  for (const piece of unwritten(pieces, from)) {
    const n = Math.min(piece.length, dest.length - filled);
    dest.set(piece.subarray(0, n), filled);
    filled += n;
    if (filled === dest.length) break;
  }
  return filled;
}
