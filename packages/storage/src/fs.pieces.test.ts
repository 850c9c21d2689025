import { copyPiecesInto, unwritten } from './pieces';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const flat = (pieces: readonly Uint8Array[]): number[] => pieces.flatMap((p) => [...p]);

describe('unwritten (what a short writev leaves)', () => {
  const pieces = [bytes(1, 2, 3), bytes(), bytes(4, 5), bytes(6)];

  it('drops empty pieces and keeps the rest whole before anything is written', () => {
    expect(unwritten(pieces, 0).map((p) => p.length)).toEqual([3, 2, 1]);
  });

  it('goes on from the first byte not written, inside a piece or at its edge', () => {
    expect(flat(unwritten(pieces, 2))).toEqual([3, 4, 5, 6]);
    expect(flat(unwritten(pieces, 3))).toEqual([4, 5, 6]);
    expect(flat(unwritten(pieces, 4))).toEqual([5, 6]);
  });

  it('is empty once every byte is written', () => {
    expect(unwritten(pieces, 6)).toEqual([]);
  });
});

describe('copyPiecesInto', () => {
  const pieces = [Uint8Array.from([1, 2, 3]), new Uint8Array(0), Uint8Array.from([4, 5]), Uint8Array.from([6])];

  it('copies a window of the pieces’ concatenation, across piece edges', () => {
    const dest = new Uint8Array(3);
    expect(copyPiecesInto(pieces, 2, dest)).toBe(3);
    expect([...dest]).toEqual([3, 4, 5]);
  });

  it('says how much was left at the end, and copies nothing past it', () => {
    const dest = new Uint8Array(4).fill(9);
    expect(copyPiecesInto(pieces, 4, dest)).toBe(2);
    expect([...dest]).toEqual([5, 6, 9, 9]);
    expect(copyPiecesInto(pieces, 6, dest)).toBe(0);
  });
});
