/**
 * The DICOM JSON Model, PS3.18 Annex F: one object per dataset keyed by 8 uppercase hex digits, each
 * attribute { vr, Value | InlineBinary | BulkDataURI }. PN values are objects with Alphabetic /
 * Ideographic / Phonetic groups (F.2.2); IS, DS and binary numbers are JSON numbers (F.2.3); sequences
 * are arrays of objects; empty attributes have no Value (F.2.5). Group 0002 and group lengths are left
 * out. Pixel Data and binary values over the inline threshold become BulkDataURI (F.2.6) so ingest
 * never base64-encodes images.
 *
 * Recursion here is bounded: parse.ts has already refused datasets nested deeper than the limit.
 */
import type { DataSet, Element } from 'dicom-parser';
import type { CharsetDecoder } from './charset';
import { dictionaryVr } from './dictionary';
import { trimTrailingNul, trimTrailingPadding } from './padding';
import { temporalNormaliser } from './temporal';

export interface DicomJsonPersonName {
  Alphabetic?: string;
  Ideographic?: string;
  Phonetic?: string;
}

export type DicomJsonValue = string | number | null | DicomJsonPersonName | DicomJsonObject;

export interface DicomJsonAttribute {
  vr: string;
  Value?: DicomJsonValue[];
  InlineBinary?: string;
  BulkDataURI?: string;
}

export type DicomJsonObject = Record<string, DicomJsonAttribute>;

export interface JsonOptions {
  /**
   * The BulkDataURI for a bulk value. `path` is the tag (8 hex digits) for top-level attributes, or
   * '<seqTag>/<itemIndex>/.../<tag>' inside sequences. Default: `bulkdata/<path>` (relative, for the
   * caller to rewrite into a WADO-RS bulkdata URL).
   */
  bulkDataUri?: (path: string) => string;
  /** Binary values up to this many bytes are inlined as base64 (default 1024). */
  inlineBinaryThreshold?: number;
}

const PIXEL_DATA_TAGS = new Set(['x7fe00008', 'x7fe00009', 'x7fe00010']);
const BINARY_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);
const TEXT_VRS_SINGLE = new Set(['LT', 'ST', 'UT', 'UR']);
const CHARSET_VRS = new Set(['SH', 'LO', 'ST', 'LT', 'UT', 'PN', 'UC']);

interface Context {
  decoder: CharsetDecoder;
  bulkDataUri: (path: string) => string;
  threshold: number;
  pixelRepresentation: number;
}

function jsonTag(tag: string): string {
  return tag.slice(1).toUpperCase();
}

function resolveVr(element: Element, context: Context): string {
  if (element.items !== undefined) return 'SQ';
  let vr = element.vr ?? dictionaryVr(element.tag);
  // PS3.5 6.2.2: a UN element of a tag the dictionary knows is read with the dictionary's VR (as
  // pydicom and dcmtk do), so UIDs and names written as UN still appear as values.
  if (vr === 'UN') {
    const known = dictionaryVr(element.tag);
    if (known !== 'UN' && known !== 'SQ' && !(known.length === 2 && BINARY_VRS.has(known))) vr = known;
  }
  // dcmjs spells the ambiguous dictionary VRs 'ox' (OB or OW) and 'xs' (US or SS).
  if (vr === 'ox') return 'OW';
  if (vr === 'xs') return context.pixelRepresentation === 1 ? 'SS' : 'US';
  if (vr.length === 2) return vr;
  if (vr.includes('SS') && vr.includes('US') && !vr.includes('OW')) return context.pixelRepresentation === 1 ? 'SS' : 'US';
  if (vr.includes('OW')) return 'OW';
  return 'UN';
}

function numbers(dataSet: DataSet, element: Element, size: number, read: (position: number) => number): number[] {
  const count = Math.floor(element.length / size);
  const out: number[] = [];
  for (let i = 0; i < count; i += 1) out.push(read(element.dataOffset + i * size));
  return out;
}

function bigNumber(value: bigint): number | string {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value.toString();
}

function finite(value: number): number | string {
  return Number.isFinite(value) ? value : String(value);
}

function stringValues(text: string, vr: string): Array<string | null> {
  const parts = TEXT_VRS_SINGLE.has(vr) ? [text] : text.split('\\');
  return parts.map((part) => {
    // A NUL inside a value (not padding) means nothing in DICOM text (PS3.5 6.1.2) and PostgreSQL jsonb
    // refuses U+0000: kept, it made the catalog write fail and STOW answer 503 "retry later" forever (#8 fuzzing).
    const trimmed = (TEXT_VRS_SINGLE.has(vr) ? trimTrailingPadding(part) : trimTrailingNul(part).trim()).replace(/\0/g, '');
    return trimmed === '' ? null : trimmed;
  });
}

function personName(value: string | null): DicomJsonPersonName | null {
  if (value === null) return null;
  const [alphabetic, ideographic, phonetic] = value.split('=');
  const name: DicomJsonPersonName = {};
  if (alphabetic !== undefined && alphabetic !== '') name.Alphabetic = alphabetic;
  if (ideographic !== undefined && ideographic !== '') name.Ideographic = ideographic;
  if (phonetic !== undefined && phonetic !== '') name.Phonetic = phonetic;
  return Object.keys(name).length === 0 ? null : name;
}

/**
 * PS3.18 F.2.3.1: IS and DS values are JSON numbers. A value that is no IS/DS at all (seen: DS
 * "1.9.10.0") has no number to give, and a string there breaks clients that read the attribute as a
 * number (OHIF); it is dropped (null, so the other values keep their positions) and the instance is
 * still stored: the Part 10 object keeps the bytes as received.
 */
// Unambiguous on purpose: `\d+\.?\d*` splits a run of digits in n ways and backtracked in O(n²) on a
// long DS such as 20,000 digits and a letter (1.4 s); here the fraction needs its '.', so each digit is
// read once.
const DECIMAL_STRING = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function numericString(value: string | null, integer: boolean): number | null {
  if (value === null) return null;
  const wellFormed = integer ? /^[+-]?\d+$/.test(value) : DECIMAL_STRING.test(value);
  if (!wellFormed) return null;
  const n = integer ? Number.parseInt(value, 10) : Number.parseFloat(value);
  return Number.isFinite(n) ? n : null;
}

function attribute(dataSet: DataSet, element: Element, path: string, context: Context, depth: number): DicomJsonAttribute {
  const vr = resolveVr(element, context);
  if (vr === 'SQ') {
    const items = (element.items ?? []).map((item, index) =>
      item.dataSet === undefined ? {} : datasetToJson(item.dataSet, context, `${path}/${index}/`, depth + 1),
    );
    return items.length === 0 ? { vr } : { vr, Value: items };
  }
  if (PIXEL_DATA_TAGS.has(element.tag)) {
    return { vr: element.encapsulatedPixelData === true ? 'OB' : vr, BulkDataURI: context.bulkDataUri(path) };
  }
  if (element.length === 0) return { vr };
  if (BINARY_VRS.has(vr)) {
    if (element.length > context.threshold) return { vr, BulkDataURI: context.bulkDataUri(path) };
    const bytes = dataSet.byteArray.subarray(element.dataOffset, element.dataOffset + element.length);
    return { vr, InlineBinary: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') };
  }
  const parser = dataSet.byteArrayParser;
  const array = dataSet.byteArray;
  const view = (): DataView => new DataView(array.buffer, array.byteOffset + element.dataOffset, element.length);
  const littleEndian = parser !== undefined && parser.readUint16(new Uint8Array([1, 0]), 0) === 1;
  switch (vr) {
    case 'US':
      return { vr, Value: numbers(dataSet, element, 2, (p) => parser.readUint16(array, p)) };
    case 'SS':
      return { vr, Value: numbers(dataSet, element, 2, (p) => parser.readInt16(array, p)) };
    case 'UL':
      return { vr, Value: numbers(dataSet, element, 4, (p) => parser.readUint32(array, p)) };
    case 'SL':
      return { vr, Value: numbers(dataSet, element, 4, (p) => parser.readInt32(array, p)) };
    case 'FL':
      return { vr, Value: numbers(dataSet, element, 4, (p) => parser.readFloat(array, p)).map(finite) };
    case 'FD':
      return { vr, Value: numbers(dataSet, element, 8, (p) => parser.readDouble(array, p)).map(finite) };
    case 'UV':
    case 'SV': {
      const v = view();
      const out: Array<number | string> = [];
      for (let i = 0; i + 8 <= element.length; i += 8) {
        out.push(bigNumber(vr === 'UV' ? v.getBigUint64(i, littleEndian) : v.getBigInt64(i, littleEndian)));
      }
      return { vr, Value: out };
    }
    case 'AT': {
      const out: string[] = [];
      for (let p = element.dataOffset; p + 4 <= element.dataOffset + element.length; p += 4) {
        const group = parser.readUint16(array, p).toString(16).padStart(4, '0');
        const elem = parser.readUint16(array, p + 2).toString(16).padStart(4, '0');
        out.push(`${group}${elem}`.toUpperCase());
      }
      return { vr, Value: out };
    }
    default:
      break;
  }
  const bytes = array.subarray(element.dataOffset, element.dataOffset + element.length);
  const text = CHARSET_VRS.has(vr)
    ? context.decoder.decode(bytes)
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  const values = stringValues(text, vr);
  let out: DicomJsonValue[];
  if (vr === 'PN') out = values.map(personName);
  else if (vr === 'IS') out = values.map((v) => numericString(v, true));
  else if (vr === 'DS') out = values.map((v) => numericString(v, false));
  else {
    const normalise = temporalNormaliser(vr);
    out = normalise === null ? values : values.map((v) => (v === null ? null : normalise(v)));
  }
  return out.every((v) => v === null) ? { vr } : { vr, Value: out };
}

function datasetToJson(dataSet: DataSet, context: Context, prefix: string, depth: number): DicomJsonObject {
  const out: DicomJsonObject = {};
  const tags = Object.keys(dataSet.elements).sort();
  for (const tag of tags) {
    const element = dataSet.elements[tag];
    if (element === undefined) continue;
    const group = tag.slice(1, 5);
    if (group === '0002' || group === 'fffe' || tag.slice(5, 9) === '0000') continue;
    out[jsonTag(tag)] = attribute(dataSet, element, `${prefix}${jsonTag(tag)}`, context, depth);
  }
  return out;
}

export function buildDicomJson(dataSet: DataSet, decoder: CharsetDecoder, options: JsonOptions = {}): DicomJsonObject {
  const pixelRepresentation = dataSet.elements.x00280103 !== undefined ? (dataSet.uint16('x00280103') ?? 0) : 0;
  const context: Context = {
    decoder,
    bulkDataUri: options.bulkDataUri ?? ((path) => `bulkdata/${path}`),
    threshold: options.inlineBinaryThreshold ?? 1024,
    pixelRepresentation,
  };
  return datasetToJson(dataSet, context, '', 0);
}
