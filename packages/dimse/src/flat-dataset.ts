import dcmjs from 'dcmjs';

/**
 * Encodes a flat naturalized dataset (keyword -> string, number or list of them) in Implicit or Explicit
 * VR Little Endian (PS3.5 7.1, 6.2 padding), the shape of every C-FIND match the archive sends.
 *
 * Why not dcmjs: its writer builds several objects per element and a fresh buffer stream per dataset;
 * for a C-FIND with 1000 matches that was most of the archive's time (bench:find). Anything this does
 * not handle (a sequence, a PN object, binary data, an unknown keyword or VR, another transfer syntax or
 * character set) returns null and the caller falls back to dcmjs, so the output is never a guess. The
 * unit test checks it byte for byte against dcmjs.
 */

const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';

const STRING_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UI', 'UR', 'UT']);
/** VRs whose values are in the dataset's character set (PS3.5 6.1.2.3); the others are the default repertoire. */
const CHARSET_VRS = new Set(['LO', 'LT', 'PN', 'SH', 'ST', 'UC', 'UT']);
const BINARY_VRS: Record<string, { bytes: number; write: (b: Buffer, v: number, at: number) => void }> = {
  US: { bytes: 2, write: (b, v, at) => b.writeUInt16LE(v, at) },
  SS: { bytes: 2, write: (b, v, at) => b.writeInt16LE(v, at) },
  UL: { bytes: 4, write: (b, v, at) => b.writeUInt32LE(v, at) },
  SL: { bytes: 4, write: (b, v, at) => b.writeInt32LE(v, at) },
};
/** Explicit VR with a 4-byte length (PS3.5 Table 7.1-1). */
const LONG_VRS = new Set(['UC', 'UR', 'UT']);

interface Entry {
  tag: number;
  vr: string;
}

const entries = new Map<string, Entry | null>();

function entryOf(keyword: string): Entry | null {
  const cached = entries.get(keyword);
  if (cached !== undefined) return cached;
  const found = dcmjs.data.DicomMetaDictionary.nameMap[keyword];
  const entry = found === undefined || !/^\([0-9A-F]{4},[0-9A-F]{4}\)$/.test(found.tag) ? null : { tag: Number.parseInt(found.tag.replace(/[(),]/g, ''), 16) >>> 0, vr: found.vr };
  entries.set(keyword, entry);
  return entry;
}

function valueBytes(vr: string, value: unknown, utf8: boolean): Buffer | null {
  const items: unknown[] = Array.isArray(value) ? value : [value];
  const binary = BINARY_VRS[vr];
  if (binary !== undefined) {
    if (!items.every((v) => typeof v === 'number' && Number.isInteger(v))) return null;
    const out = Buffer.alloc(items.length * binary.bytes);
    items.forEach((v, i) => binary.write(out, v as number, i * binary.bytes));
    return out;
  }
  if (!STRING_VRS.has(vr)) return null;
  const texts: string[] = [];
  for (const item of items) {
    if (typeof item === 'string') texts.push(item);
    else if (typeof item === 'number' && (vr === 'IS' || vr === 'DS')) texts.push(String(item));
    else return null;
  }
  const text = texts.join('\\');
  // Outside the character set's VRs only the default repertoire is allowed; anything else is left to dcmjs.
  // eslint-disable-next-line no-control-regex
  if (!CHARSET_VRS.has(vr) && !/^[\x00-\x7f]*$/.test(text)) return null;
  const bytes = Buffer.from(text, CHARSET_VRS.has(vr) && utf8 ? 'utf8' : 'latin1');
  if (bytes.length % 2 === 0) return bytes;
  return Buffer.concat([bytes, Buffer.from(vr === 'UI' ? [0] : [0x20])]);
}

/** The dataset's encoding, or null when it is not flat (see above). */
export function encodeFlatDataset(elements: Record<string, unknown>, transferSyntaxUid: string | undefined): Buffer | null {
  const syntax = transferSyntaxUid ?? IMPLICIT_LE;
  if (syntax !== IMPLICIT_LE && syntax !== EXPLICIT_LE) return null;
  const explicit = syntax === EXPLICIT_LE;
  const charset = elements.SpecificCharacterSet;
  if (charset !== undefined && charset !== 'ISO_IR 192' && charset !== '') return null;
  const utf8 = charset === 'ISO_IR 192';
  const encoded: { tag: number; bytes: Buffer }[] = [];
  for (const [keyword, value] of Object.entries(elements)) {
    if (keyword.startsWith('_')) continue;
    const entry = entryOf(keyword);
    if (entry === null || value === null || value === undefined) return null;
    const body = valueBytes(entry.vr, value, utf8);
    if (body === null) return null;
    let header: Buffer;
    if (!explicit) {
      header = Buffer.alloc(8);
      header.writeUInt32LE(body.length, 4);
    } else if (LONG_VRS.has(entry.vr)) {
      header = Buffer.alloc(12);
      header.write(entry.vr, 4, 'latin1');
      header.writeUInt32LE(body.length, 8);
    } else {
      if (body.length > 0xffff) return null;
      header = Buffer.alloc(8);
      header.write(entry.vr, 4, 'latin1');
      header.writeUInt16LE(body.length, 6);
    }
    header.writeUInt16LE(entry.tag >>> 16, 0);
    header.writeUInt16LE(entry.tag & 0xffff, 2);
    encoded.push({ tag: entry.tag, bytes: Buffer.concat([header, body]) });
  }
  encoded.sort((a, b) => a.tag - b.tag);
  return Buffer.concat(encoded.map((e) => e.bytes));
}
