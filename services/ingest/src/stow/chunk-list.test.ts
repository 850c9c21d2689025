import { ChunkList, joinChunks } from './chunk-list';

/** Every way of cutting `bytes` into chunks of 1..maxChunk bytes, sampled by a seeded generator. */
function chunkings(bytes: Buffer, rounds: number, maxChunk: number): Buffer[][] {
  let seed = 7;
  const next = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed;
  };
  return Array.from({ length: rounds }, () => {
    const out: Buffer[] = [];
    for (let i = 0; i < bytes.length; ) {
      const n = 1 + (next() % maxChunk);
      out.push(bytes.subarray(i, i + n));
      i += n;
    }
    return out;
  });
}

describe('ChunkList', () => {
  const bytes = Buffer.from('aab\r\n-\r\n--B\r\n--Bo\r\n--Bound\r\n--Boundary!tail');
  const needles = ['\r\n--Boundary', '\r\n--Bound', 'tail', 'zz', 'a'].map((n) => Buffer.from(n));

  it('finds a needle where Buffer#indexOf does, however the bytes are chunked', () => {
    for (const chunks of chunkings(bytes, 300, 12)) {
      const list = new ChunkList();
      for (const c of chunks) list.push(c);
      for (const needle of needles) expect(list.indexOf(needle)).toBe(bytes.indexOf(needle));
    }
  });

  it('takes bytes as views and keeps the rest in order', () => {
    for (const chunks of chunkings(bytes, 50, 9)) {
      const list = new ChunkList();
      for (const c of chunks) list.push(c);
      const head = joinChunks(list.take(17));
      expect(head.toString()).toBe(bytes.subarray(0, 17).toString());
      expect(list.length).toBe(bytes.length - 17);
      expect(list.byteAt(0)).toBe(bytes[17]);
      expect(list.takeContiguous(list.length).toString()).toBe(bytes.subarray(17).toString());
    }
  });
});
