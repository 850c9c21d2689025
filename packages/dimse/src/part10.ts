/**
 * PS3.10 7.1: wraps a dataset received over DIMSE, byte for byte as it arrived, in a Part 10 file
 * (128-byte preamble, "DICM", group 0002 in Explicit VR Little Endian), so a C-STORE yields the same
 * bytes a STOW-RS part carries and the stored object is the sender's encoding untouched. The archive's
 * SCP and the clinic gateway write the same layout (only the implementation identity differs), so an
 * instance sent through the gateway and one sent straight to the archive are the same dataset.
 */

/** (0002,0012) / (0002,0013), also sent in the A-ASSOCIATE-AC (PS3.7 D.3.3.2). One per product. */
export interface ImplementationIdentity {
  classUid: string;
  /** SH: at most 16 characters. */
  versionName: string;
}

export interface Part10Meta {
  /** (0002,0002) from the C-STORE-RQ's Affected SOP Class UID (0000,0002). */
  mediaStorageSopClassUid: string;
  /** (0002,0003) from the C-STORE-RQ's Affected SOP Instance UID (0000,1000). */
  mediaStorageSopInstanceUid: string;
  /** (0002,0010): the transfer syntax accepted for the presentation context the dataset came on. */
  transferSyntaxUid: string;
  /** (0002,0016): the calling AE title. */
  sourceApplicationEntityTitle: string;
}

type ShortVr = 'UI' | 'SH' | 'AE' | 'UL';

/** A short-form element (PS3.5 7.1.2): tag, VR, 16-bit length. Values are ASCII; UI pads with NUL, others with space. */
function shortElement(element: number, vr: ShortVr, value: string | number): Buffer {
  let body: Buffer;
  if (typeof value === 'number') {
    body = Buffer.alloc(4);
    body.writeUInt32LE(value >>> 0, 0);
  } else {
    // Values come from the peer's command set: never let one overflow the 16-bit length.
    const text = value.slice(0, vr === 'UI' ? 64 : 16);
    const padded = text.length % 2 === 0 ? text : text + (vr === 'UI' ? '\0' : ' ');
    body = Buffer.from(padded, 'latin1');
  }
  const header = Buffer.alloc(8);
  header.writeUInt16LE(0x0002, 0);
  header.writeUInt16LE(element, 2);
  header.write(vr, 4, 'latin1');
  header.writeUInt16LE(body.length, 6);
  return Buffer.concat([header, body]);
}

/** (0002,0001) File Meta Information Version: OB, long form, value 00 01. */
function versionElement(): Buffer {
  const out = Buffer.alloc(14);
  out.writeUInt16LE(0x0002, 0);
  out.writeUInt16LE(0x0001, 2);
  out.write('OB', 4, 'latin1');
  out.writeUInt32LE(2, 8);
  out[12] = 0x00;
  out[13] = 0x01;
  return out;
}

/** The preamble, "DICM" and the file meta group, to be followed by the dataset bytes. */
export function part10Header(meta: Part10Meta, implementation: ImplementationIdentity): Buffer {
  const body = Buffer.concat([
    versionElement(),
    shortElement(0x0002, 'UI', meta.mediaStorageSopClassUid),
    shortElement(0x0003, 'UI', meta.mediaStorageSopInstanceUid),
    shortElement(0x0010, 'UI', meta.transferSyntaxUid),
    shortElement(0x0012, 'UI', implementation.classUid),
    shortElement(0x0013, 'SH', implementation.versionName),
    ...(meta.sourceApplicationEntityTitle.trim() === '' ? [] : [shortElement(0x0016, 'AE', meta.sourceApplicationEntityTitle.trim())]),
  ]);
  const preamble = Buffer.alloc(132);
  preamble.write('DICM', 128, 'latin1');
  return Buffer.concat([preamble, shortElement(0x0000, 'UL', body.length), body]);
}

/** The Part 10 file: header + the dataset chunks as received (one copy). */
export function wrapPart10(meta: Part10Meta, datasetChunks: readonly Buffer[], implementation: ImplementationIdentity): Buffer {
  const header = part10Header(meta, implementation);
  return Buffer.concat([header, ...datasetChunks]);
}

/** A stored Part 10 file taken apart for a C-STORE sub-operation: what its file meta says, and the dataset bytes behind it. */
export interface Part10Parts {
  transferSyntaxUid: string;
  sopClassUid: string;
  sopInstanceUid: string;
  /** The dataset exactly as stored (still deflated for Deflated Explicit VR LE). */
  dataset: Buffer;
}

/** Explicit VR long-form VRs (PS3.5 7.1.2): 2 reserved bytes and a 32-bit length. */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

function text(bytes: Buffer): string {
  return bytes.toString('latin1').replace(/[\0 ]+$/, '');
}

/**
 * Reads the file meta group (PS3.10 7.1, always Explicit VR LE) of a stored instance and returns the
 * dataset that follows it, so a C-STORE sends the stored encoding untouched. Throws on a file that is
 * not Part 10 (the archive stores only Part 10, so that is corruption, reported as a failed sub-operation).
 */
export function splitPart10(file: Uint8Array): Part10Parts {
  const bytes = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (bytes.length < 132 || bytes.toString('latin1', 128, 132) !== 'DICM') throw new Error('stored object is not a Part 10 file');
  const found = new Map<number, string>();
  let at = 132;
  while (at + 8 <= bytes.length && bytes.readUInt16LE(at) === 0x0002) {
    const element = bytes.readUInt16LE(at + 2);
    const vr = bytes.toString('latin1', at + 4, at + 6);
    const long = LONG_VRS.has(vr);
    const length = long ? bytes.readUInt32LE(at + 8) : bytes.readUInt16LE(at + 6);
    const start = at + (long ? 12 : 8);
    if (start + length > bytes.length) throw new Error('stored object has a truncated file meta group');
    if (element === 0x0002 || element === 0x0003 || element === 0x0010) found.set(element, text(bytes.subarray(start, start + length)));
    at = start + length;
  }
  const transferSyntaxUid = found.get(0x0010);
  const sopClassUid = found.get(0x0002);
  const sopInstanceUid = found.get(0x0003);
  if (transferSyntaxUid === undefined || sopClassUid === undefined || sopInstanceUid === undefined) throw new Error('stored object lacks its file meta UIDs');
  return { transferSyntaxUid, sopClassUid, sopInstanceUid, dataset: bytes.subarray(at) };
}
