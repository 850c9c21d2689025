/**
 * A deterministic mutation fuzzer for DICOM Part 10 files (#8). Every mutant is a pure function of
 * (seed file, PRNG state): the same --seed replays the same cases. Structure-aware mutations find the
 * element headers with a small iterative walker (PS3.5 7.1 explicit/implicit VR, 7.5 sequences and
 * items), so length fields, VRs, element boundaries and sequences can be hit on purpose rather than
 * by chance; structure-blind ones (bit flips, garbage) cover what the walker does not see.
 */

/** mulberry32: a tiny, fast 32-bit PRNG; good enough for fault schedules and fuzzing. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }
}

export interface ElementHeader {
  tag: number;
  /** Explicit VR as written, or null (implicit VR, items and delimiters). */
  vr: string | null;
  headerStart: number;
  lengthOffset: number;
  lengthSize: 2 | 4;
  valueOffset: number;
  /** Declared length (0xFFFFFFFF = undefined). */
  length: number;
  /** 0 = top level of the dataset (or file meta); n = inside n items. */
  depth: number;
  meta: boolean;
}

export interface Layout {
  /** First byte after the file meta group (where the dataset starts), or -1 without a Part 10 header. */
  datasetStart: number;
  transferSyntaxUid: string | null;
  explicit: boolean;
  bigEndian: boolean;
  elements: ElementHeader[];
}

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);
const ITEM = 0xfffee000;
const UNDEFINED = 0xffffffff;
const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_BE = '1.2.840.10008.1.2.2';
const DEFLATED = '1.2.840.10008.1.2.1.99';

function isLetter(c: number | undefined): boolean {
  return c !== undefined && c >= 0x41 && c <= 0x5a;
}

/**
 * The element headers of a Part 10 file, found without recursion. Stops quietly at the first thing it
 * cannot walk (mutants need only the headers of the seed, which is valid). Deflated datasets are not
 * walked past the file meta.
 */
export function layoutOf(bytes: Buffer): Layout {
  const elements: ElementHeader[] = [];
  try {
    return walk(bytes, elements);
  } catch (error) {
    // A mutant (stacked mutations walk the previous mutant) may end inside a header: keep what was found.
    if (!(error instanceof RangeError)) throw error;
    return { datasetStart: -1, transferSyntaxUid: null, explicit: true, bigEndian: false, elements };
  }
}

function walk(bytes: Buffer, elements: ElementHeader[]): Layout {
  if (bytes.length < 144 || bytes.toString('latin1', 128, 132) !== 'DICM') {
    return { datasetStart: -1, transferSyntaxUid: null, explicit: true, bigEndian: false, elements };
  }
  let p = 132;
  let transferSyntaxUid: string | null = null;
  while (p + 8 <= bytes.length && bytes.readUInt16LE(p) === 0x0002) {
    const vr = bytes.toString('latin1', p + 4, p + 6);
    const long = LONG_VRS.has(vr);
    const lengthOffset = long ? p + 8 : p + 6;
    const length = long ? bytes.readUInt32LE(lengthOffset) : bytes.readUInt16LE(lengthOffset);
    const valueOffset = lengthOffset + (long ? 4 : 2);
    const tag = ((bytes.readUInt16LE(p) << 16) | bytes.readUInt16LE(p + 2)) >>> 0;
    elements.push({ tag, vr, headerStart: p, lengthOffset, lengthSize: long ? 4 : 2, valueOffset, length, depth: 0, meta: true });
    if (tag === 0x00020010) transferSyntaxUid = bytes.toString('latin1', valueOffset, valueOffset + length).replace(/[\0 ]+$/, '');
    p = valueOffset + length;
  }
  const datasetStart = p;
  const explicit = transferSyntaxUid !== IMPLICIT_LE;
  const bigEndian = transferSyntaxUid === EXPLICIT_BE;
  if (transferSyntaxUid === DEFLATED) return { datasetStart, transferSyntaxUid, explicit, bigEndian, elements };
  const u16 = (at: number): number => (bigEndian ? bytes.readUInt16BE(at) : bytes.readUInt16LE(at));
  const u32 = (at: number): number => (bigEndian ? bytes.readUInt32BE(at) : bytes.readUInt32LE(at));
  // Each open container: where it ends (defined length) or Infinity (undefined: ends at its delimiter).
  const ends: number[] = [bytes.length];
  while (p + 8 <= bytes.length && elements.length < 20_000) {
    while (ends.length > 1 && p >= (ends[ends.length - 1] ?? 0)) ends.pop();
    const group = u16(p);
    const tag = ((group << 16) | u16(p + 2)) >>> 0;
    const depth = ends.length - 1;
    if (group === 0xfffe) {
      // Items and delimiters: tag + 4-byte length, always implicit (PS3.5 7.5), even in explicit syntaxes.
      const length = u32(p + 4);
      elements.push({ tag, vr: null, headerStart: p, lengthOffset: p + 4, lengthSize: 4, valueOffset: p + 8, length, depth, meta: false });
      p += 8;
      if (tag === ITEM) {
        if (length !== UNDEFINED && isContainerContent(bytes, p, length, explicit)) ends.push(p + length);
        else if (length !== UNDEFINED) p += length; // a fragment: skip its bytes
        else ends.push(Infinity);
      } else if (ends.length > 1) {
        ends.pop();
      }
      continue;
    }
    let vr: string | null = null;
    let lengthOffset: number;
    let lengthSize: 2 | 4;
    if (explicit && isLetter(bytes[p + 4]) && isLetter(bytes[p + 5])) {
      vr = bytes.toString('latin1', p + 4, p + 6);
      const long = LONG_VRS.has(vr);
      lengthOffset = long ? p + 8 : p + 6;
      lengthSize = long ? 4 : 2;
    } else {
      lengthOffset = p + 4;
      lengthSize = 4;
    }
    if (lengthOffset + lengthSize > bytes.length) break;
    const length = lengthSize === 2 ? u16(lengthOffset) : u32(lengthOffset);
    const valueOffset = lengthOffset + lengthSize;
    elements.push({ tag, vr, headerStart: p, lengthOffset, lengthSize, valueOffset, length, depth, meta: false });
    if (length === UNDEFINED) {
      ends.push(Infinity); // a sequence or encapsulated pixel data: walk into it
      p = valueOffset;
    } else if (vr === 'SQ') {
      ends.push(valueOffset + length);
      p = valueOffset;
    } else {
      p = valueOffset + length;
    }
  }
  return { datasetStart, transferSyntaxUid, explicit, bigEndian, elements };
}

/** Whether a defined-length item holds elements (a sequence item) rather than fragment bytes. */
function isContainerContent(bytes: Buffer, at: number, length: number, explicit: boolean): boolean {
  if (length < 8 || at + 8 > bytes.length) return false;
  const group = bytes.readUInt16LE(at);
  if (group === 0xfffe || group === 0 || group > 0x7fe0) return false;
  return explicit ? isLetter(bytes[at + 4]) && isLetter(bytes[at + 5]) : true;
}

export interface Mutant {
  bytes: Buffer;
  /** What was done, e.g. "length(0028,0010)=0xFFFFFFFF + bitflip x3". */
  description: string;
}

type Mutation = (rng: Rng, input: Buffer, layout: Layout) => Mutant | null;

const hexTag = (tag: number): string => `(${(tag >>> 16).toString(16).padStart(4, '0')},${(tag & 0xffff).toString(16).padStart(4, '0')})`.toUpperCase();

function writeLength(out: Buffer, element: ElementHeader, value: number, bigEndian: boolean): void {
  const be = bigEndian && !element.meta;
  if (element.lengthSize === 2) {
    if (be) out.writeUInt16BE(value & 0xffff, element.lengthOffset);
    else out.writeUInt16LE(value & 0xffff, element.lengthOffset);
  } else if (be) out.writeUInt32BE(value >>> 0, element.lengthOffset);
  else out.writeUInt32LE(value >>> 0, element.lengthOffset);
}

function dataElements(layout: Layout): ElementHeader[] {
  return layout.elements.filter((e) => !e.meta);
}

function find(layout: Layout, tag: number): ElementHeader | undefined {
  return layout.elements.find((e) => e.tag === tag);
}

/** Replaces the value of a top-level (or meta) element, rewriting its length; parents of nested ones go stale on purpose. */
function replaceValue(input: Buffer, layout: Layout, element: ElementHeader, value: Buffer): Buffer {
  const out = Buffer.concat([input.subarray(0, element.valueOffset), value, input.subarray(element.valueOffset + (element.length === UNDEFINED ? 0 : element.length))]);
  writeLength(out, element, element.lengthSize === 2 ? Math.min(value.length, 0xffff) : value.length, layout.bigEndian);
  return out;
}

/** Bytes of one element in the dataset's encoding. */
function encodeElement(layout: Layout, tag: number, vr: string, value: Buffer, length = value.length): Buffer {
  const be = layout.bigEndian;
  const head = (size: number): Buffer => {
    const b = Buffer.alloc(size);
    if (be) {
      b.writeUInt16BE(tag >>> 16, 0);
      b.writeUInt16BE(tag & 0xffff, 2);
    } else {
      b.writeUInt16LE(tag >>> 16, 0);
      b.writeUInt16LE(tag & 0xffff, 2);
    }
    return b;
  };
  if (!layout.explicit) {
    const b = head(8);
    if (be) b.writeUInt32BE(length >>> 0, 4);
    else b.writeUInt32LE(length >>> 0, 4);
    return Buffer.concat([b, value]);
  }
  if (LONG_VRS.has(vr)) {
    const b = head(12);
    b.write(vr, 4, 'latin1');
    if (be) b.writeUInt32BE(length >>> 0, 8);
    else b.writeUInt32LE(length >>> 0, 8);
    return Buffer.concat([b, value]);
  }
  const b = head(8);
  b.write(vr, 4, 'latin1');
  if (be) b.writeUInt16BE(length & 0xffff, 6);
  else b.writeUInt16LE(length & 0xffff, 6);
  return Buffer.concat([b, value]);
}

function evenText(text: string, padByte = 0x20): Buffer {
  const b = Buffer.from(text, 'latin1');
  return b.length % 2 === 0 ? b : Buffer.concat([b, Buffer.from([padByte])]);
}

/** Inserts `bytes` before the first top-level element whose tag is above `tag` (or at the end). */
function insertAtTag(input: Buffer, layout: Layout, tag: number, bytes: Buffer): Buffer {
  const after = dataElements(layout).find((e) => e.depth === 0 && e.tag > tag && (e.tag >>> 16) !== 0xfffe);
  const at = after?.headerStart ?? input.length;
  return Buffer.concat([input.subarray(0, at), bytes, input.subarray(at)]);
}

function us(value: number, bigEndian: boolean): Buffer {
  const b = Buffer.alloc(2);
  if (bigEndian) b.writeUInt16BE(value & 0xffff, 0);
  else b.writeUInt16LE(value & 0xffff, 0);
  return b;
}

const TRANSFER_SYNTAXES = [
  '1.2.840.10008.1.2',
  '1.2.840.10008.1.2.1',
  '1.2.840.10008.1.2.2',
  '1.2.840.10008.1.2.1.99',
  '1.2.840.10008.1.2.4.50',
  '1.2.840.10008.1.2.4.51',
  '1.2.840.10008.1.2.4.57',
  '1.2.840.10008.1.2.4.70',
  '1.2.840.10008.1.2.4.80',
  '1.2.840.10008.1.2.4.90',
  '1.2.840.10008.1.2.4.91',
  '1.2.840.10008.1.2.5',
  '1.2.840.10008.1.2.4.100',
  '1.2.3.4',
  '',
  'not.a.uid',
];

const VRS = ['AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FL', 'FD', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OW', 'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'ZZ', 'ob', '\0\0'];

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 0x20, 0x5c, 0x2e];

export const mutations: Record<string, Mutation> = {
  bitflip(rng, input) {
    const out = Buffer.from(input);
    const n = rng.int(1, 8);
    for (let i = 0; i < n; i += 1) {
      const at = rng.int(0, out.length - 1);
      out[at] = (out[at] ?? 0) ^ (1 << rng.int(0, 7));
    }
    return { bytes: out, description: `bitflip x${n}` };
  },
  byteset(rng, input) {
    const out = Buffer.from(input);
    const n = rng.int(1, 4);
    // Mostly in the header region, where every byte matters.
    for (let i = 0; i < n; i += 1) out[rng.chance(0.5) ? rng.int(0, Math.min(out.length - 1, 1024)) : rng.int(0, out.length - 1)] = rng.chance(0.7) ? rng.pick(INTERESTING_BYTES) : rng.int(0, 255);
    return { bytes: out, description: `byteset x${n}` };
  },
  truncateRandom(rng, input) {
    const keep = rng.int(0, input.length - 1);
    return { bytes: Buffer.from(input.subarray(0, keep)), description: `truncate at ${keep}/${input.length}` };
  },
  truncateAtBoundary(rng, input, layout) {
    const e = rng.pick(layout.elements.length > 0 ? layout.elements : [null]);
    if (e === null) return null;
    const points = [e.headerStart, e.headerStart + 2, e.lengthOffset, e.valueOffset, e.valueOffset + 1, e.length === UNDEFINED ? e.valueOffset : e.valueOffset + e.length - 1];
    const keep = Math.min(input.length - 1, rng.pick(points));
    return { bytes: Buffer.from(input.subarray(0, keep)), description: `truncate at ${hexTag(e.tag)}+${keep - e.headerStart}` };
  },
  lengthField(rng, input, layout) {
    if (layout.elements.length === 0) return null;
    const e = rng.pick(layout.elements);
    const max = e.lengthSize === 2 ? 0xffff : 0xffffffff;
    const base = e.length === UNDEFINED ? 0 : e.length;
    const choices = [0, base | 1, base + 1, Math.max(0, base - 1), max, max - 1, 0x7ffffff0, base * 1000 + 2, input.length - e.valueOffset + 2, input.length - e.valueOffset - 2, UNDEFINED];
    const value = Math.min(max, Math.max(0, rng.pick(choices)));
    const out = Buffer.from(input);
    writeLength(out, e, value, layout.bigEndian);
    return { bytes: out, description: `length${hexTag(e.tag)}${e.meta ? '[meta]' : ''} ${base}->0x${value.toString(16)}` };
  },
  vrSwap(rng, input, layout) {
    const candidates = layout.elements.filter((e) => e.vr !== null);
    if (candidates.length === 0) return null;
    const e = rng.pick(candidates);
    const vr = rng.pick(VRS);
    const out = Buffer.from(input);
    out.write(vr, e.headerStart + 4, 'latin1');
    return { bytes: out, description: `vr${hexTag(e.tag)} ${e.vr ?? ''}->${JSON.stringify(vr)}` };
  },
  deepNesting(rng, input, layout) {
    if (layout.datasetStart < 0 || layout.transferSyntaxUid === DEFLATED) return null;
    // 50..100000 per the brief, with a share just around the limit (16) and well within it.
    const depth = rng.pick([rng.int(2, 16), rng.int(17, 20), rng.int(50, 200), rng.int(1000, 5000), rng.int(50_000, 100_000)]);
    let nested = deeplyNestedSequence(0x0040a730, depth, layout.explicit);
    if (layout.bigEndian) nested = toBigEndianHeaders(nested, layout.explicit);
    const cut = rng.chance(0.25);
    if (cut) nested = nested.subarray(0, rng.int(0, nested.length)); // delimiters missing
    return { bytes: insertAtTag(input, layout, 0x0040a730, nested), description: `nested sequence depth ${depth}${cut ? ' (cut)' : ''}` };
  },
  hugeDimensions(rng, input, layout) {
    if (layout.datasetStart < 0) return null;
    const which = rng.pick(['NumberOfFrames', 'Rows', 'Columns', 'BitsAllocated', 'SamplesPerPixel'] as const);
    const tags = { NumberOfFrames: 0x00280008, Rows: 0x00280010, Columns: 0x00280011, BitsAllocated: 0x00280100, SamplesPerPixel: 0x00280002 } as const;
    const tag = tags[which];
    const existing = find(layout, tag);
    let value: Buffer;
    if (which === 'NumberOfFrames') {
      value = evenText(rng.pick(['0', '-1', '2', '100000', '2147483648', '99999999999999', '1e9', '1.5', 'abc', '', ' 3 ']));
    } else {
      value = us(rng.pick([0, 1, 3, 0xffff, 0x8000, 12, 32, 64]), layout.bigEndian);
    }
    const description = `${which}=${which === 'NumberOfFrames' ? JSON.stringify(value.toString('latin1')) : (layout.bigEndian ? value.readUInt16BE(0) : value.readUInt16LE(0))}`;
    if (existing !== undefined && existing.depth === 0) return { bytes: replaceValue(input, layout, existing, value), description };
    return { bytes: insertAtTag(input, layout, tag, encodeElement(layout, tag, which === 'NumberOfFrames' ? 'IS' : 'US', value)), description: `${description} (inserted)` };
  },
  undefinedItemNoDelimiter(rng, input, layout) {
    if (layout.datasetStart < 0 || layout.transferSyntaxUid === DEFLATED) return null;
    const item = Buffer.alloc(8);
    item.writeUInt16LE(0xfffe, 0);
    item.writeUInt16LE(0xe000, 2);
    item.writeUInt32LE(UNDEFINED, 4);
    const inner = encodeElement(layout, 0x00080100, 'SH', evenText('X'));
    const seq = encodeElement(layout, 0x00082218, 'SQ', Buffer.concat([item, inner]), UNDEFINED);
    // Either before the rest of the dataset (it swallows everything) or at the very end.
    const atEnd = rng.chance(0.5);
    const bytes = atEnd ? Buffer.concat([input, seq]) : insertAtTag(input, layout, 0x00082218, seq);
    return { bytes, description: `undefined-length sequence/item without delimiters ${atEnd ? 'at end' : 'inside'}` };
  },
  duplicateTag(rng, input, layout) {
    const top = dataElements(layout).filter((e) => e.depth === 0 && e.length !== UNDEFINED && e.valueOffset + e.length <= input.length && e.length < 4096);
    if (top.length === 0) return null;
    const e = rng.pick(top);
    const copy = Buffer.from(input.subarray(e.headerStart, e.valueOffset + e.length));
    if (rng.chance(0.5) && e.length > 0) copy[copy.length - 1] = (copy[copy.length - 1] ?? 0) ^ 0x01; // a different value
    const at = rng.chance(0.5) ? e.valueOffset + e.length : e.headerStart;
    return { bytes: Buffer.concat([input.subarray(0, at), copy, input.subarray(at)]), description: `duplicate ${hexTag(e.tag)}` };
  },
  transferSyntaxSwap(rng, input, layout) {
    const ts = find(layout, 0x00020010);
    const groupLength = find(layout, 0x00020000);
    if (ts === undefined) return null;
    const uid = rng.pick(TRANSFER_SYNTAXES.filter((u) => u !== layout.transferSyntaxUid));
    const out = replaceValue(input, layout, ts, evenText(uid, 0x00));
    const delta = out.length - input.length;
    if (groupLength !== undefined && groupLength.valueOffset + 4 <= out.length && groupLength.headerStart < ts.headerStart) {
      out.writeUInt32LE((out.readUInt32LE(groupLength.valueOffset) + delta) >>> 0, groupLength.valueOffset);
    }
    return { bytes: out, description: `transfer syntax ${layout.transferSyntaxUid ?? '?'} -> ${JSON.stringify(uid)}` };
  },
  metaGroupLength(rng, input, layout) {
    const groupLength = find(layout, 0x00020000);
    if (groupLength === undefined || groupLength.valueOffset + 4 > input.length) return null;
    const current = input.readUInt32LE(groupLength.valueOffset);
    const value = rng.pick([0, 1, current - 2, current + 2, current + 100, 0xffffffff, 0x7fffffff, current * 3]) >>> 0;
    const out = Buffer.from(input);
    out.writeUInt32LE(value, groupLength.valueOffset);
    return { bytes: out, description: `meta group length ${current}->${value}` };
  },
  garbage(rng, input) {
    const size = rng.pick([0, 1, 131, 132, 200, rng.int(0, 4096)]);
    const body = Buffer.alloc(size);
    for (let i = 0; i < size; i += 1) body[i] = rng.int(0, 255);
    const kind = rng.int(0, 3);
    if (kind === 1 && size >= 132) body.write('DICM', 128, 'latin1');
    if (kind === 2) return { bytes: Buffer.concat([input.subarray(0, Math.min(input.length, rng.int(132, 400))), body]), description: `header + ${size} random bytes` };
    if (kind === 3) return { bytes: Buffer.from('%PDF-1.4\n'.repeat(1 + rng.int(0, 50))), description: 'not DICOM (PDF-ish text)' };
    return { bytes: body, description: `${size} random bytes${kind === 1 && size >= 132 ? ' with DICM' : ''}` };
  },
  longPadding(rng, input, layout) {
    // Text whose shape made end-anchored regexes backtrack in O(n²): a long run of padding (spaces, NULs)
    // or of digits, then one other character (#17 finding 9: 40,000 spaces and a letter took 9 s).
    if (layout.datasetStart < 0 || layout.transferSyntaxUid === DEFLATED) return null;
    const target = rng.pick([
      { tag: 0x0040a160, vr: 'UT' }, // TextValue
      { tag: 0x00204000, vr: 'LT' }, // ImageComments
      { tag: 0x00081030, vr: 'LO' }, // StudyDescription
      { tag: 0x00280030, vr: 'DS' }, // PixelSpacing
      { tag: 0x00200013, vr: 'IS' }, // InstanceNumber
    ]);
    const maxRun = target.vr === 'UT' ? 120_000 : 60_000; // 2-byte lengths stop at 65,534
    const run = rng.pick([rng.int(1000, 5000), rng.int(20_000, maxRun)]);
    const fill = rng.pick([' ', '\0', '1', ' \0']);
    const value = evenText(`${fill.repeat(Math.ceil(run / fill.length)).slice(0, run)}${rng.pick(['A', 'x', '\\', '.'])}`);
    const existing = find(layout, target.tag);
    const description = `long ${target.vr}${hexTag(target.tag)}: ${run} x ${JSON.stringify(fill)} + 1`;
    if (existing !== undefined && existing.depth === 0 && existing.length !== UNDEFINED) return { bytes: replaceValue(input, layout, existing, value), description };
    return { bytes: insertAtTag(input, layout, target.tag, encodeElement(layout, target.tag, target.vr, value)), description: `${description} (inserted)` };
  },
  valueSwap(rng, input, layout) {
    // Rewrites an element's value with an odd-length, over-long or binary value (UIDs with letters, 65+ chars).
    const top = dataElements(layout).filter((e) => e.depth === 0 && e.vr !== 'SQ' && e.length !== UNDEFINED && e.length < 256);
    if (top.length === 0) return null;
    const e = rng.pick(top);
    const value = rng.pick([
      Buffer.from('1.2.3'),
      evenText('1.2.840.'.padEnd(80, '9'), 0),
      evenText('1.2.abc.4', 0),
      Buffer.alloc(0),
      Buffer.from([0xff, 0xfe, 0x00, 0xc3]),
      Buffer.from('\\\\\\\\'),
      Buffer.alloc(rng.int(1, 3000), 0x41),
    ]);
    return { bytes: replaceValue(input, layout, e, value), description: `value${hexTag(e.tag)} <- ${value.length} bytes` };
  },
};

/** SQ, item, SQ, item... `depth` deep with undefined lengths, then the delimiters; built without recursion. */
function deeplyNestedSequence(tag: number, depth: number, explicit: boolean): Buffer {
  const sq = Buffer.alloc(explicit ? 12 : 8);
  sq.writeUInt16LE(tag >>> 16, 0);
  sq.writeUInt16LE(tag & 0xffff, 2);
  if (explicit) {
    sq.write('SQ', 4, 'latin1');
    sq.writeUInt32LE(UNDEFINED, 8);
  } else sq.writeUInt32LE(UNDEFINED, 4);
  const marker = (element: number, length: number): Buffer => {
    const b = Buffer.alloc(8);
    b.writeUInt16LE(0xfffe, 0);
    b.writeUInt16LE(element, 2);
    b.writeUInt32LE(length, 4);
    return b;
  };
  const open = Buffer.concat([sq, marker(0xe000, UNDEFINED)]);
  const close = Buffer.concat([marker(0xe00d, 0), marker(0xe0dd, 0)]);
  const out = Buffer.alloc((open.length + close.length) * depth);
  for (let i = 0; i < depth; i += 1) open.copy(out, i * open.length);
  for (let i = 0; i < depth; i += 1) close.copy(out, depth * open.length + i * close.length);
  return out;
}

function toBigEndianHeaders(nested: Buffer, explicit: boolean): Buffer {
  // deeplyNestedSequence writes LE headers; swap the 16-bit tag halves and 32-bit lengths for BE datasets.
  const out = Buffer.from(nested);
  let p = 0;
  while (p + 8 <= out.length) {
    out.writeUInt16BE(out.readUInt16LE(p), p);
    out.writeUInt16BE(out.readUInt16LE(p + 2), p + 2);
    const group = out.readUInt16BE(p);
    if (group !== 0xfffe && explicit) {
      out.writeUInt32BE(out.readUInt32LE(p + 8), p + 8);
      p += 12;
    } else {
      out.writeUInt32BE(out.readUInt32LE(p + 4), p + 4);
      p += 8;
    }
  }
  return out;
}

export const MUTATION_NAMES = Object.keys(mutations);

/**
 * One mutant of `input`: a single mutation, or (a quarter of the time) a stack of two or three (descriptions joined by " | ").
 * Mutations that do not apply to this input (no file meta, nothing to walk) fall back to a bit flip.
 */
export function mutate(rng: Rng, input: Buffer, layout: Layout = layoutOf(input)): Mutant {
  const rounds = rng.chance(0.25) ? rng.int(2, 3) : 1;
  let bytes = input;
  let current = layout;
  const done: string[] = [];
  for (let i = 0; i < rounds; i += 1) {
    const name = rng.pick(MUTATION_NAMES);
    const mutation = mutations[name];
    const result = mutation?.(rng, bytes, current) ?? mutations.bitflip?.(rng, bytes, current);
    if (result === null || result === undefined) continue;
    bytes = result.bytes;
    done.push(`${name}: ${result.description}`);
    if (i + 1 < rounds) current = layoutOf(bytes);
  }
  return { bytes, description: done.join(' | ') };
}
