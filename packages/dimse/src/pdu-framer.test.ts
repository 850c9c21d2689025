import { PduFramer, expectsStoreDataset, type PduFramerEvents } from './pdu-framer';
import { cFindCommand, cStoreCommand, implicitIdentifier, pData, pdu } from './testing';

/** A small seeded PRNG, so a failing chunking can be replayed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Every single cut (every 97th byte), any of the first 20 bytes alone, 20 seeded random chunkings. */
function cuttingsOf(length: number): number[][] {
  const cuttings: number[][] = [];
  for (let cut = 1; cut < length; cut += 97) cuttings.push([cut]);
  for (let alone = 0; alone < 20; alone += 1) cuttings.push([alone, alone + 1]);
  for (let seed = 1; seed <= 20; seed += 1) {
    const random = prng(seed);
    const cuts: number[] = [];
    for (let at = 0; at < length; at += 1 + Math.floor(random() * 9000)) cuts.push(at);
    cuttings.push(cuts);
  }
  return cuttings;
}

function feed(framer: PduFramer, bytes: Buffer, cuts: number[]): Buffer[] {
  const received: Buffer[] = [];
  const edges = [0, ...cuts.filter((c) => c > 0 && c < bytes.length), bytes.length];
  for (let i = 0; i + 1 < edges.length; i += 1) received.push(...framer.accept(bytes.subarray(edges[i], edges[i + 1])));
  return received;
}

function recorder(limit = 1 << 20): { framer: PduFramer; stored: Buffer[][]; problems: string[] } {
  const stored: Buffer[][] = [];
  const problems: string[] = [];
  const events: PduFramerEvents = {
    onTooLarge: (_type, length) => problems.push(`too large ${length}`),
    onMalformed: (reason) => problems.push(reason),
    onStoreData: (values) => stored.push(values),
  };
  return { framer: new PduFramer(limit, events), stored, problems };
}

/** One P-DATA-TF holding several PDVs. */
function pDataOf(pdvs: { value: Buffer; command: boolean; last: boolean }[]): Buffer {
  return pdu(0x04, Buffer.concat(pdvs.map(({ value, command, last }) => pData(1, value, command, last).subarray(6))));
}

const US_IMAGE = '1.2.840.10008.5.1.4.1.1.6.1';
const STUDY_ROOT_FIND = '1.2.840.10008.5.1.4.1.2.2.1';

describe('PduFramer', () => {
  // A C-FIND (command, identifier in two fragments), an A-RELEASE-RQ, an empty P-DATA-TF, a large non-store dataset PDV.
  const identifier = implicitIdentifier([[0x00080052, 'STUDY'], [0x00100010, 'A'.repeat(3000)]]);
  const plain = [
    pData(1, cFindCommand({ messageId: 1, sopClassUid: STUDY_ROOT_FIND }), true, true),
    pDataOf([
      { value: identifier.subarray(0, 1000), command: false, last: false },
      { value: identifier.subarray(1000), command: false, last: true },
    ]),
    pdu(0x05, Buffer.alloc(4)),
    pdu(0x04, Buffer.alloc(0)),
    pData(3, Buffer.from('b'.repeat(70_000)), false, true),
  ];
  const plainBytes = Buffer.concat(plain);

  it('hands on each PDU whole and unchanged, in order, however the bytes are cut, when no C-STORE dataset is in them', () => {
    for (const cuts of cuttingsOf(plainBytes.length)) {
      const { framer, stored, problems } = recorder();
      expect(feed(framer, plainBytes, cuts).map((b) => b.toString('hex'))).toEqual(plain.map((b) => b.toString('hex')));
      expect(stored).toEqual([]);
      expect(problems).toEqual([]);
    }
  });

  it('hands a PDU other than P-DATA-TF that lies in one chunk on as a view, without copying', () => {
    const release = pdu(0x05, Buffer.alloc(4));
    const { framer } = recorder();
    const [first] = framer.accept(release);
    expect(first?.buffer).toBe(release.buffer);
  });

  // Two C-STOREs: the first dataset in 16,000-byte PDVs (one per PDU) and its command fragmented, the second
  // with the last dataset PDV and the next message's command in one PDU; then a C-STORE-RQ without a data set.
  const datasetA = Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 7) & 0xff));
  const datasetB = Buffer.from(Array.from({ length: 900 }, (_, i) => (i * 13) & 0xff));
  const commandA = cStoreCommand({ messageId: 1, sopClassUid: US_IMAGE, sopInstanceUid: '2.25.1' });
  const commandB = cStoreCommand({ messageId: 2, sopClassUid: US_IMAGE, sopInstanceUid: '2.25.2' });
  const commandNoData = Buffer.from(commandB);
  commandNoData.writeUInt16LE(0x0101, commandNoData.indexOf(Buffer.from([0x00, 0x00, 0x00, 0x08])) + 8);
  const fragmentsA = [0, 16_000, 32_000, 48_000].map((at) => datasetA.subarray(at, at + 16_000));
  const stores = [
    pData(1, commandA.subarray(0, 30), true, false),
    pData(1, commandA.subarray(30), true, true),
    ...fragmentsA.map((fragment, i) => pData(1, fragment, false, i === fragmentsA.length - 1)),
    pData(1, commandB, true, true),
    pDataOf([
      { value: datasetB, command: false, last: true },
      { value: commandNoData, command: true, last: true },
    ]),
    // Not a store dataset (the command said none): handed on with its value.
    pData(1, Buffer.from('after'), false, true),
  ];
  const storeBytes = Buffer.concat(stores);
  /** What dcmjs-dimse is given: the same PDUs, each store dataset PDV with an empty value. */
  const emptied = [
    stores[0],
    stores[1],
    ...fragmentsA.map((_fragment, i) => pData(1, Buffer.alloc(0), false, i === fragmentsA.length - 1)),
    stores[6],
    pDataOf([
      { value: Buffer.alloc(0), command: false, last: true },
      { value: commandNoData, command: true, last: true },
    ]),
    stores[8],
  ] as Buffer[];

  it('takes each C-STORE dataset PDV value out, in order, and gives dcmjs-dimse the same PDVs emptied, however the bytes are cut', () => {
    for (const cuts of cuttingsOf(storeBytes.length)) {
      const { framer, stored, problems } = recorder();
      expect(feed(framer, storeBytes, cuts).map((b) => b.toString('hex'))).toEqual(emptied.map((b) => b.toString('hex')));
      expect(problems).toEqual([]);
      // One entry per dataset PDV, each exactly that PDV's value.
      expect(stored.map((values) => Buffer.concat(values).toString('hex'))).toEqual([...fragmentsA, datasetB].map((b) => b.toString('hex')));
    }
  });

  it('hands a dataset value on as views of the received chunks, without copying', () => {
    const { framer, stored } = recorder();
    const chunks = [storeBytes.subarray(0, 20_000), storeBytes.subarray(20_000)].map((part) => Buffer.from(part));
    for (const chunk of chunks) framer.accept(chunk);
    const views = stored.flat();
    expect(views.length).toBeGreaterThan(fragmentsA.length);
    for (const view of views) expect(chunks.some((chunk) => chunk.buffer === view.buffer)).toBe(true);
  });

  it('stops at a PDU that declares a length over the limit: told once, nothing more handed on', () => {
    const { framer, problems } = recorder(2000);
    const first = plain[0] as Buffer;
    const received = [...framer.accept(plainBytes.subarray(0, first.length + 10)), ...framer.accept(plainBytes.subarray(first.length + 10))];
    // The C-FIND command, then the identifier's PDU (over 2000 bytes) stops it.
    expect(received).toHaveLength(1);
    expect(problems).toEqual([`too large ${(plain[1] as Buffer).length - 6}`]);
    expect(framer.accept(first)).toEqual([]);
  });

  it('stops at a PDV item that does not fit its P-DATA-TF PDU: told once, nothing more handed on', () => {
    const broken = Buffer.from(pData(1, Buffer.from('abcd'), false, true));
    broken.writeUInt32BE(100, 6);
    const { framer, problems } = recorder();
    expect(framer.accept(Buffer.concat([broken, plain[0] as Buffer]))).toEqual([]);
    expect(problems).toEqual(['a PDV item length does not fit its P-DATA-TF PDU']);
  });
});

describe('expectsStoreDataset', () => {
  it('is true for a C-STORE-RQ with a data set only', () => {
    expect(expectsStoreDataset(cStoreCommand({ messageId: 1, sopClassUid: US_IMAGE, sopInstanceUid: '2.25.9' }))).toBe(true);
    expect(expectsStoreDataset(cFindCommand({ messageId: 1, sopClassUid: STUDY_ROOT_FIND }))).toBe(false);
    const noData = cStoreCommand({ messageId: 1, sopClassUid: US_IMAGE, sopInstanceUid: '2.25.9' });
    noData.writeUInt16LE(0x0101, noData.indexOf(Buffer.from([0x00, 0x00, 0x00, 0x08])) + 8);
    expect(expectsStoreDataset(noData)).toBe(false);
    expect(expectsStoreDataset(Buffer.alloc(0))).toBe(false);
  });
});
