/**
 * A minimal DICOM writer for test fixtures (PS3.10 7.1 file format, PS3.5 7.1 Explicit/Implicit VR
 * Little Endian, A.4 encapsulation). Written by hand rather than with dcmjs because fixtures need what
 * dcmjs cannot produce: values encoded in GB18030, deliberately wrong lengths, sequences nested
 * thousands deep (written without recursion), Implicit VR output and hand-built fragments. dcmjs is
 * used in the tests as an independent reader of what this writes.
 */
import iconv from 'iconv-lite';
import dcmjs from 'dcmjs';

export type Charset = 'ISO_IR 100' | 'ISO_IR 192' | 'GB18030';

export type AttributeValue =
  | string
  | number
  | Array<string | number>
  | Uint8Array
  | AttributeItem[]
  | null;

export interface AttributeItem {
  [keyword: string]: AttributeValue;
}

/** One element ready to write; `tag` is (group << 16 | element) as an unsigned number. */
export type WritableElement =
  | { tag: number; vr: string; value: Exclude<AttributeValue, null> }
  | { tag: number; vr: 'OB'; fragments: Uint8Array[]; basicOffsetTable: boolean; frameStarts?: number[] }
  | { tag: number; raw: Uint8Array };

const CHARSET_VRS = new Set(['SH', 'LO', 'ST', 'LT', 'UT', 'PN', 'UC']);
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);

export function tagOf(keyword: string): { tag: number; vr: string } {
  const hex = /^([0-9A-Fa-f]{4}),?([0-9A-Fa-f]{4})$/.exec(keyword);
  if (hex !== null) {
    const entry = dcmjs.data.DicomMetaDictionary.dictionary[`(${(hex[1] ?? '').toUpperCase()},${(hex[2] ?? '').toUpperCase()})`];
    return { tag: Number.parseInt(`${hex[1]}${hex[2]}`, 16) >>> 0, vr: entry?.vr ?? 'UN' };
  }
  const entry = dcmjs.data.DicomMetaDictionary.nameMap[keyword];
  if (entry === undefined) throw new Error(`Unknown DICOM keyword ${keyword}`);
  const tag = Number.parseInt(entry.tag.replace(/[(),]/g, ''), 16) >>> 0;
  const vr = entry.vr === 'ox' ? 'OW' : entry.vr === 'xs' ? 'US' : entry.vr.length === 2 ? entry.vr : entry.vr.includes('OW') ? 'OW' : 'US';
  return { tag, vr };
}

function encodeText(text: string, vr: string, charset: Charset): Buffer {
  if (!CHARSET_VRS.has(vr)) return Buffer.from(text, 'latin1');
  switch (charset) {
    case 'ISO_IR 100':
      return Buffer.from(text, 'latin1');
    case 'ISO_IR 192':
      return Buffer.from(text, 'utf8');
    case 'GB18030':
      return iconv.encode(text, 'gb18030');
  }
}

function pad(bytes: Buffer, vr: string): Buffer {
  if (bytes.length % 2 === 0) return bytes;
  const padByte = vr === 'UI' || vr === 'OB' || vr === 'UN' ? 0x00 : 0x20;
  return Buffer.concat([bytes, Buffer.from([padByte])]);
}

function encodeValue(vr: string, value: Exclude<AttributeValue, null>, charset: Charset, explicit: boolean): Buffer {
  if (value instanceof Uint8Array) return pad(Buffer.from(value), vr);
  const values = Array.isArray(value) ? value : [value];
  const numeric = (size: number, write: (b: Buffer, v: number, o: number) => void): Buffer => {
    const b = Buffer.alloc(size * values.length);
    values.forEach((v, i) => write(b, Number(v), i * size));
    return b;
  };
  switch (vr) {
    case 'US':
      return numeric(2, (b, v, o) => b.writeUInt16LE(v, o));
    case 'SS':
      return numeric(2, (b, v, o) => b.writeInt16LE(v, o));
    case 'UL':
      return numeric(4, (b, v, o) => b.writeUInt32LE(v, o));
    case 'SL':
      return numeric(4, (b, v, o) => b.writeInt32LE(v, o));
    case 'FL':
      return numeric(4, (b, v, o) => b.writeFloatLE(v, o));
    case 'FD':
      return numeric(8, (b, v, o) => b.writeDoubleLE(v, o));
    case 'SQ':
      return encodeItems(value as AttributeItem[], charset, explicit);
    default:
      return pad(encodeText(values.map(String).join('\\'), vr, charset), vr);
  }
}

function header(tag: number, vr: string, length: number, explicit: boolean): Buffer {
  const group = tag >>> 16;
  const element = tag & 0xffff;
  if (!explicit) {
    const b = Buffer.alloc(8);
    b.writeUInt16LE(group, 0);
    b.writeUInt16LE(element, 2);
    b.writeUInt32LE(length >>> 0, 4);
    return b;
  }
  if (LONG_VRS.has(vr)) {
    const b = Buffer.alloc(12);
    b.writeUInt16LE(group, 0);
    b.writeUInt16LE(element, 2);
    b.write(vr, 4, 'latin1');
    b.writeUInt32LE(length >>> 0, 8);
    return b;
  }
  const b = Buffer.alloc(8);
  b.writeUInt16LE(group, 0);
  b.writeUInt16LE(element, 2);
  b.write(vr, 4, 'latin1');
  b.writeUInt16LE(length, 6);
  return b;
}

function itemTag(group: number, element: number, length: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(group, 0);
  b.writeUInt16LE(element, 2);
  b.writeUInt32LE(length >>> 0, 4);
  return b;
}

function encodeItems(items: AttributeItem[], charset: Charset, explicit: boolean): Buffer {
  // Defined-length items (PS3.5 7.5.1); nesting here follows the caller's object depth.
  return Buffer.concat(
    items.map((item) => {
      const body = writeDataset(elementsFrom(item), charset, explicit);
      return Buffer.concat([itemTag(0xfffe, 0xe000, body.length), body]);
    }),
  );
}

export function elementsFrom(attributes: Record<string, AttributeValue>): WritableElement[] {
  const out: WritableElement[] = [];
  for (const [keyword, value] of Object.entries(attributes)) {
    if (value === null) continue;
    const { tag, vr } = tagOf(keyword);
    out.push({ tag, vr, value });
  }
  return out;
}

/** Encodes elements in tag order. */
export function writeDataset(elements: WritableElement[], charset: Charset, explicit: boolean): Buffer {
  const sorted = [...elements].sort((a, b) => a.tag - b.tag);
  const parts: Buffer[] = [];
  for (const element of sorted) {
    if ('raw' in element) {
      parts.push(Buffer.from(element.raw));
    } else if ('fragments' in element) {
      // PS3.5 A.4: undefined length, Basic Offset Table item, one item per fragment, delimiter.
      parts.push(header(element.tag, 'OB', 0xffffffff, explicit));
      // The Basic Offset Table lists the first fragment of each frame (frameStarts; default: each).
      const starts = element.frameStarts ?? element.fragments.map((_, i) => i);
      const bot = Buffer.alloc(element.basicOffsetTable ? 4 * starts.length : 0);
      let offset = 0;
      let written = 0;
      element.fragments.forEach((fragment, i) => {
        if (element.basicOffsetTable && starts.includes(i)) {
          bot.writeUInt32LE(offset, written * 4);
          written += 1;
        }
        offset += 8 + fragment.length + (fragment.length % 2);
      });
      parts.push(itemTag(0xfffe, 0xe000, bot.length), bot);
      for (const fragment of element.fragments) {
        const body = pad(Buffer.from(fragment), 'OB');
        parts.push(itemTag(0xfffe, 0xe000, body.length), body);
      }
      parts.push(itemTag(0xfffe, 0xe0dd, 0));
    } else {
      const body = encodeValue(element.vr, element.value, charset, explicit);
      parts.push(header(element.tag, element.vr, body.length, explicit), body);
    }
  }
  return Buffer.concat(parts);
}

export interface FileMeta {
  mediaStorageSopClassUid: string;
  mediaStorageSopInstanceUid: string;
  transferSyntaxUid: string;
}

const IMPLEMENTATION_CLASS_UID = '1.2.826.0.1.3680043.10.1557.1';

/** PS3.10 7.1: 128-byte preamble, "DICM", group 0002 in Explicit VR LE with its group length. */
export function writePart10(meta: FileMeta, dataset: Buffer): Buffer {
  const metaElements: WritableElement[] = [
    { tag: 0x00020001, vr: 'OB', value: Uint8Array.from([0, 1]) },
    { tag: 0x00020002, vr: 'UI', value: meta.mediaStorageSopClassUid },
    { tag: 0x00020003, vr: 'UI', value: meta.mediaStorageSopInstanceUid },
    { tag: 0x00020010, vr: 'UI', value: meta.transferSyntaxUid },
    { tag: 0x00020012, vr: 'UI', value: IMPLEMENTATION_CLASS_UID },
    { tag: 0x00020013, vr: 'SH', value: 'YUNYING_0_1' },
  ];
  const body = writeDataset(metaElements, 'ISO_IR 100', true);
  const groupLength = writeDataset([{ tag: 0x00020000, vr: 'UL', value: body.length }], 'ISO_IR 100', true);
  const preamble = Buffer.alloc(132);
  preamble.write('DICM', 128, 'latin1');
  return Buffer.concat([preamble, groupLength, body, dataset]);
}

/**
 * A sequence nested `depth` levels deep, written iteratively with undefined lengths (so any depth can
 * be produced without recursion): SQ, item, SQ, item, ... then the delimiters.
 */
export function deeplyNestedSequence(tag: number, depth: number, explicit: boolean): Uint8Array {
  const open = Buffer.concat([header(tag, 'SQ', 0xffffffff, explicit), itemTag(0xfffe, 0xe000, 0xffffffff)]);
  const close = Buffer.concat([itemTag(0xfffe, 0xe00d, 0), itemTag(0xfffe, 0xe0dd, 0)]);
  const out = Buffer.alloc((open.length + close.length) * depth);
  for (let i = 0; i < depth; i += 1) open.copy(out, i * open.length);
  for (let i = 0; i < depth; i += 1) close.copy(out, depth * open.length + i * close.length);
  return out;
}
