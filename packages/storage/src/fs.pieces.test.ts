import { unwritten } from './fs.target';

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
