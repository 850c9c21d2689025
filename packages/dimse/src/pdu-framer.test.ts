import { PduFramer } from './pdu-framer';

function pduOf(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(6);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(body.length, 2);
  return Buffer.concat([header, body]);
}

/** A small seeded PRNG, so a failing chunking can be replayed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('PduFramer', () => {
  const stream = [pduOf(0x04, Buffer.from('a'.repeat(1000))), pduOf(0x05, Buffer.alloc(4)), pduOf(0x04, Buffer.alloc(0)), pduOf(0x04, Buffer.from('b'.repeat(70_000)))];
  const bytes = Buffer.concat(stream);

  it('hands on each PDU whole, in order, however the bytes are cut (every single cut, any single byte alone, seeded random chunkings)', () => {
    const cuttings: number[][] = [];
    for (let cut = 1; cut < bytes.length; cut += 97) cuttings.push([cut]);
    for (let alone = 0; alone < 20; alone += 1) cuttings.push([alone, alone + 1]);
    for (let seed = 1; seed <= 20; seed += 1) {
      const random = prng(seed);
      const cuts: number[] = [];
      for (let at = 0; at < bytes.length; at += 1 + Math.floor(random() * 9000)) cuts.push(at);
      cuttings.push(cuts);
    }
    for (const cuts of cuttings) {
      const framer = new PduFramer(1 << 20, () => {
        throw new Error('no PDU here is too large');
      });
      const received: Buffer[] = [];
      const edges = [0, ...cuts.filter((c) => c > 0 && c < bytes.length), bytes.length];
      for (let i = 0; i + 1 < edges.length; i += 1) received.push(...framer.accept(bytes.subarray(edges[i], edges[i + 1])));
      expect(received.map((b) => b.toString('hex'))).toEqual(stream.map((b) => b.toString('hex')));
    }
  });

  it('hands a PDU that lies in one chunk on as a view, without copying', () => {
    const framer = new PduFramer(1 << 20, () => undefined);
    const [first] = framer.accept(bytes);
    expect(first?.buffer).toBe(bytes.buffer);
  });

  it('stops at a PDU that declares a length over the limit: told once, nothing more handed on', () => {
    const tooLarge: number[] = [];
    const framer = new PduFramer(2000, (_type, length) => tooLarge.push(length));
    const received = [...framer.accept(bytes.subarray(0, 1006 + 10 + 6 + 3)), ...framer.accept(bytes.subarray(1025))];
    expect(received).toHaveLength(3);
    expect(tooLarge).toEqual([70_000]);
    expect(framer.accept(stream[0]!)).toEqual([]);
  });
});
