/**
 * The two encodings dicom-parser's parseDicom gets wrong, read with its own element readers:
 *
 * - Deflated Explicit VR Little Endian (PS3.5 A.5): parseDicom inflates behind the file meta but then
 *   reads from byte 0, so the preamble and "DICM" came out as two bogus UN attributes in the metadata.
 *   Here the dataset is read from the end of the file meta. The inflated size is capped (a deflate bomb
 *   is refused as too large, not allocated).
 * - Explicit VR Big Endian with a UN element of undefined length (PS3.5 6.2.2, CP-246): the value is a
 *   sequence encoded in Implicit VR *Little* Endian whatever the transfer syntax; parseDicom reads it
 *   with the big-endian parser, finds no delimiter and swallows the rest of the file. Here such an
 *   element at the top level is read as an Implicit VR Little Endian sequence. (Nested inside an
 *   explicit big-endian SQ it is still read the old way: not seen in practice, left out.)
 *
 * Offsets in the returned dataset are into the returned `bytes` (for deflate: file meta + inflated
 * dataset, the same layout parse.ts's readFrame rebuilds).
 */
import zlib from 'node:zlib';
import dicomParser from 'dicom-parser';
import type { ByteArrayParser, DataSet, Element } from 'dicom-parser';

const UNDEFINED_LENGTH = 0xffffffff;

/** The same shape parseDicom throws, so parse.ts classifies both alike. */
class ParserFailure extends Error {
  constructor(
    readonly exception: unknown,
    readonly dataSet: DataSet,
  ) {
    super('dicom-parser failed');
  }
}

function tagAt(parser: ByteArrayParser, bytes: Uint8Array, position: number): string {
  const group = parser.readUint16(bytes, position);
  const element = parser.readUint16(bytes, position + 2);
  return `x${((group << 16) >>> 0 | element).toString(16).padStart(8, '0')}`;
}

/** Explicit VR dataset from `start` to the end, with CP-246 UN sequences read as Implicit VR LE. */
function readExplicit(bytes: Uint8Array, start: number, parser: ByteArrayParser, vrCallback: (tag: string) => string, meta: DataSet): DataSet {
  const elements: Record<string, Element> = {};
  const dataSet = new dicomParser.DataSet(parser, bytes, elements);
  dataSet.warnings = [];
  const stream = new dicomParser.ByteStream(parser, bytes, start);
  try {
    while (stream.position < bytes.length) {
      const at = stream.position;
      const unSequence =
        at + 12 <= bytes.length && bytes[at + 4] === 0x55 && bytes[at + 5] === 0x4e && parser.readUint32(bytes, at + 8) === UNDEFINED_LENGTH;
      if (unSequence) {
        const element: Element = { tag: tagAt(parser, bytes, at), vr: 'UN', length: UNDEFINED_LENGTH, dataOffset: at + 12, hadUndefinedLength: true };
        const little = new dicomParser.ByteStream(dicomParser.littleEndianByteArrayParser, bytes, at + 12);
        dicomParser.readSequenceItemsImplicit(little, element, vrCallback);
        dataSet.warnings.push(...little.warnings);
        elements[element.tag] = element;
        stream.seek(little.position - stream.position);
        continue;
      }
      const element = dicomParser.readDicomElementExplicit(stream, dataSet.warnings);
      elements[element.tag] = element;
    }
  } catch (error) {
    throw new ParserFailure(error, dataSet);
  }
  // As parseDicom does: the file meta elements (little endian, their own parser) join the dataset.
  for (const [tag, element] of Object.entries(meta.elements)) elements[tag] = element;
  return dataSet;
}

export interface DeflatedDataSet {
  dataSet: DataSet;
  /** File meta followed by the inflated dataset. */
  bytes: Buffer;
}

/** Thrown when the inflated dataset would exceed the size limit. */
export class InflatedTooLarge extends Error {}

export function readDeflated(bytes: Uint8Array, meta: DataSet, metaEnd: number, maxBytes: number, vrCallback: (tag: string) => string): DeflatedDataSet {
  let inflated: Buffer;
  try {
    inflated = zlib.inflateRawSync(bytes.subarray(metaEnd), { maxOutputLength: Math.max(1, maxBytes - metaEnd) });
  } catch (error) {
    // By code, not instanceof RangeError: zlib's errors come from Node's realm, not a test sandbox's.
    if (typeof error === 'object' && error !== null && 'code' in error && error.code === 'ERR_BUFFER_TOO_LARGE') {
      throw new InflatedTooLarge('The inflated dataset is larger than the instance limit.');
    }
    throw new ParserFailure(error, meta);
  }
  const whole = Buffer.concat([Buffer.from(bytes.buffer, bytes.byteOffset, metaEnd), inflated]);
  return { dataSet: readExplicit(whole, metaEnd, dicomParser.littleEndianByteArrayParser, vrCallback, meta), bytes: whole };
}

export function readBigEndian(bytes: Uint8Array, meta: DataSet, metaEnd: number, vrCallback: (tag: string) => string): DataSet {
  return readExplicit(bytes, metaEnd, dicomParser.bigEndianByteArrayParser, vrCallback, meta);
}
