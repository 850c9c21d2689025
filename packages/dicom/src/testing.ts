/**
 * Deterministic DICOM fixtures for tests across the repo (import from '@yunying/dicom/testing').
 *
 * Pixel values follow a known pattern so decoders can be checked exactly: `expectedFrame(options, k)`
 * returns the native bytes of frame k. JPEG Baseline fixtures hold real baseline JPEG codestreams
 * whose 8x8 blocks are flat: pixel (r, c) decodes to the pattern value at (r & ~7, c & ~7).
 * UIDs are random (newUid) unless given or derived from `seed`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import dicomParser from 'dicom-parser';
import { encodeDcOnlyJpeg } from './jpeg';
import { SopClass, TransferSyntax } from './uids';
import { deeplyNestedSequence, elementsFrom, tagOf, writeDataset, writePart10 } from './writer';
import type { AttributeItem, AttributeValue, Charset, WritableElement } from './writer';

export type { AttributeItem, AttributeValue, Charset } from './writer';

export type FixtureTransferSyntax =
  | typeof TransferSyntax.ExplicitVRLittleEndian
  | typeof TransferSyntax.ImplicitVRLittleEndian
  | typeof TransferSyntax.JPEGBaseline
  | typeof TransferSyntax.RLELossless;

export type PixelPattern = (frame: number, row: number, column: number, sample: number) => number;

export interface InstanceOptions {
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  sopInstanceUid?: string;
  /** Default: US Image Storage, or US Multi-frame Image Storage when frames > 1. */
  sopClassUid?: string;
  /** Written into (0002,0002) instead of sopClassUid (for mismatch tests). */
  metaSopClassUid?: string;
  /** Derive unset UIDs from this seed, so the same options give the same bytes. */
  seed?: string;
  patientName?: string;
  patientId?: string;
  birthDate?: string;
  studyDate?: string;
  studyTime?: string;
  accessionNumber?: string;
  studyDescription?: string;
  seriesDescription?: string;
  seriesNumber?: number;
  instanceNumber?: number;
  modality?: string;
  charset?: Charset;
  rows?: number;
  columns?: number;
  frames?: number;
  photometric?: 'MONOCHROME2' | 'MONOCHROME1' | 'RGB' | 'YBR_FULL' | 'YBR_FULL_422' | 'PALETTE COLOR';
  bitsAllocated?: 8 | 16;
  /** BitsStored (default BitsAllocated); HighBit is BitsStored - 1. */
  bitsStored?: number;
  /** 1: two's complement samples; the pattern's negative values are written as such. */
  pixelRepresentation?: 0 | 1;
  /** Native colour only: 1 writes colour-by-plane (RRR..GGG..BBB..). */
  planarConfiguration?: 0 | 1;
  /** PALETTE COLOR: the three LUTs (written as OW, 16-bit words) and their descriptor. */
  palette?: { red: number[]; green: number[]; blue: number[]; firstMapped?: number; bits?: 8 | 16 };
  transferSyntax?: FixtureTransferSyntax;
  pixelPattern?: PixelPattern;
  /** JPEG only: split each frame's codestream into this many fragments (default 1). */
  fragmentsPerFrame?: number;
  /** JPEG only: write a Basic Offset Table (default: when frames > 1). */
  basicOffsetTable?: boolean;
  /** Write no Pixel Data at all. */
  noPixelData?: boolean;
  sequenceOfUltrasoundRegions?: boolean;
  /** Extra attributes by keyword (or 'GGGGEEEE'); they override generated ones; null removes one. */
  extra?: Record<string, AttributeValue>;
}

/** A UID in the 2.25 form from a UUID (PS3.5 B.2). */
export function newUid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`).toString()}`;
}

/** A deterministic 2.25 UID from a seed string. */
export function uidFromSeed(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex').slice(0, 32);
  // Clear the top bits as a v4 UUID would have them fixed; keeps the number under 39 digits.
  return `2.25.${(BigInt(`0x${hex}`) >> 2n).toString()}`;
}

export const defaultPixelPattern: PixelPattern = (frame, row, column, sample) =>
  frame * 31 + row * 7 + column * 3 + sample * 85;

interface Resolved {
  rows: number;
  columns: number;
  frames: number;
  samples: 1 | 3;
  bitsAllocated: 8 | 16;
  bitsStored: number;
  pixelRepresentation: 0 | 1;
  planarConfiguration: 0 | 1;
  photometric: string;
  transferSyntax: FixtureTransferSyntax;
  pattern: PixelPattern;
}

function resolve(options: InstanceOptions): Resolved {
  const transferSyntax = options.transferSyntax ?? TransferSyntax.ExplicitVRLittleEndian;
  const photometric = options.photometric ?? 'MONOCHROME2';
  const bitsAllocated = transferSyntax === TransferSyntax.JPEGBaseline ? 8 : (options.bitsAllocated ?? 8);
  if (transferSyntax === TransferSyntax.JPEGBaseline && options.bitsAllocated === 16) {
    throw new Error('JPEG Baseline fixtures are 8-bit only');
  }
  if (transferSyntax === TransferSyntax.RLELossless && (photometric === 'YBR_FULL_422' || options.planarConfiguration === 1)) {
    throw new Error('RLE fixtures are colour-by-plane by construction (PS3.5 G.2): no YBR_FULL_422 or planarConfiguration');
  }
  if (transferSyntax === TransferSyntax.JPEGBaseline && photometric === 'RGB') {
    throw new Error('JPEG Baseline fixtures are MONOCHROME2 or YBR_FULL (PS3.5 8.2.1), not RGB');
  }
  return {
    rows: options.rows ?? 16,
    columns: options.columns ?? 16,
    frames: options.frames ?? 1,
    samples: photometric === 'RGB' || photometric.startsWith('YBR_FULL') ? 3 : 1,
    bitsAllocated,
    bitsStored: options.bitsStored ?? bitsAllocated,
    pixelRepresentation: options.pixelRepresentation ?? 0,
    planarConfiguration: options.planarConfiguration ?? 0,
    photometric,
    transferSyntax,
    pattern: options.pixelPattern ?? defaultPixelPattern,
  };
}

/**
 * The native bytes of frame `frameIndex` as makeInstance writes them (LE; colour-by-pixel unless
 * planarConfiguration is 1). YBR_FULL_422 (PS3.3 C.7.6.3.1.2): Y1 Y2 Cb Cr per pixel pair, the
 * chroma taken from the pair's first pixel.
 */
export function expectedFrame(options: InstanceOptions, frameIndex: number): Uint8Array {
  const r = resolve(options);
  if (r.photometric === 'YBR_FULL_422') {
    const out = Buffer.alloc(r.rows * r.columns * 2);
    let i = 0;
    for (let row = 0; row < r.rows; row += 1) {
      for (let column = 0; column < r.columns; column += 2) {
        out[i++] = r.pattern(frameIndex, row, column, 0) & 0xff;
        out[i++] = r.pattern(frameIndex, row, column + 1, 0) & 0xff;
        out[i++] = r.pattern(frameIndex, row, column, 1) & 0xff;
        out[i++] = r.pattern(frameIndex, row, column, 2) & 0xff;
      }
    }
    return out;
  }
  if (r.planarConfiguration === 1 && r.samples === 3) {
    const interleaved = expectedFrame({ ...options, planarConfiguration: 0 }, frameIndex);
    const bytesPerSample = r.bitsAllocated / 8;
    const pixels = r.rows * r.columns;
    const out = Buffer.alloc(interleaved.length);
    for (let p = 0; p < pixels; p += 1) {
      for (let s = 0; s < 3; s += 1) {
        for (let b = 0; b < bytesPerSample; b += 1) out[(s * pixels + p) * bytesPerSample + b] = interleaved[(p * 3 + s) * bytesPerSample + b] ?? 0;
      }
    }
    return out;
  }
  const bytesPerSample = r.bitsAllocated / 8;
  const out = Buffer.alloc(r.rows * r.columns * r.samples * bytesPerSample);
  const mask = r.bitsAllocated === 8 ? 0xff : 0xffff;
  let i = 0;
  for (let row = 0; row < r.rows; row += 1) {
    for (let column = 0; column < r.columns; column += 1) {
      for (let sample = 0; sample < r.samples; sample += 1) {
        const value = r.pattern(frameIndex, row, column, sample) & mask;
        if (bytesPerSample === 1) out[i] = value;
        else out.writeUInt16LE(value, i);
        i += bytesPerSample;
      }
    }
  }
  return out;
}

/**
 * The JPEG Baseline codestream of frame `frameIndex` as makeInstance writes it, padded with one 0x00
 * after EOI when odd (PS3.5 A.4: fragments have even length), so it equals what readFrame returns.
 */
export function expectedJpegFrame(options: InstanceOptions, frameIndex: number): Uint8Array {
  const r = resolve(options);
  const codestream = encodeDcOnlyJpeg(r.rows, r.columns, r.samples, (br, bc, c) =>
    r.pattern(frameIndex, Math.min(br * 8, r.rows - 1), Math.min(bc * 8, r.columns - 1), c) & 0xff,
  );
  if (codestream.length % 2 === 0) return codestream;
  const padded = new Uint8Array(codestream.length + 1);
  padded.set(codestream, 0);
  return padded;
}

function ultrasoundRegions(rows: number, columns: number): AttributeItem[] {
  return [
    {
      RegionSpatialFormat: 1,
      RegionDataType: 1,
      RegionFlags: 0,
      RegionLocationMinX0: 0,
      RegionLocationMinY0: 0,
      RegionLocationMaxX1: columns - 1,
      RegionLocationMaxY1: rows - 1,
      PhysicalUnitsXDirection: 3,
      PhysicalUnitsYDirection: 3,
      PhysicalDeltaX: 0.01,
      PhysicalDeltaY: 0.01,
    },
  ];
}

interface Built {
  elements: WritableElement[];
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntax: FixtureTransferSyntax;
  charset: Charset;
}

function build(options: InstanceOptions): Built {
  const r = resolve(options);
  const charset = options.charset ?? 'ISO_IR 192';
  const seeded = (what: string): string => (options.seed === undefined ? newUid() : uidFromSeed(`${options.seed}/${what}`));
  const sopClassUid = options.sopClassUid ?? (r.frames > 1 ? SopClass.UltrasoundMultiFrameImage : SopClass.UltrasoundImage);
  const sopInstanceUid = options.sopInstanceUid ?? seeded('instance');
  const attributes: Record<string, AttributeValue> = {
    SpecificCharacterSet: charset,
    SOPClassUID: sopClassUid,
    SOPInstanceUID: sopInstanceUid,
    StudyDate: options.studyDate ?? '20240102',
    StudyTime: options.studyTime ?? '101500',
    AccessionNumber: options.accessionNumber ?? 'ACC0001',
    Modality: options.modality ?? 'US',
    Manufacturer: 'Yunying Fixtures',
    ReferringPhysicianName: '',
    StudyDescription: options.studyDescription ?? 'Thyroid US',
    SeriesDescription: options.seriesDescription ?? 'Thyroid',
    PatientName: options.patientName ?? 'Test^Patient',
    PatientID: options.patientId ?? 'PID0001',
    PatientBirthDate: options.birthDate ?? '19800101',
    PatientSex: 'F',
    BodyPartExamined: 'THYROID',
    StudyInstanceUID: options.studyInstanceUid ?? seeded('study'),
    SeriesInstanceUID: options.seriesInstanceUid ?? seeded('series'),
    StudyID: '1',
    SeriesNumber: String(options.seriesNumber ?? 1),
    InstanceNumber: String(options.instanceNumber ?? 1),
  };
  if (options.noPixelData !== true) {
    Object.assign(attributes, {
      SamplesPerPixel: r.samples,
      PhotometricInterpretation: r.photometric,
      Rows: r.rows,
      Columns: r.columns,
      BitsAllocated: r.bitsAllocated,
      BitsStored: r.bitsStored,
      HighBit: r.bitsStored - 1,
      PixelRepresentation: r.pixelRepresentation,
    });
    if (r.samples === 3) attributes.PlanarConfiguration = r.planarConfiguration;
    if (r.photometric === 'PALETTE COLOR') Object.assign(attributes, paletteAttributes(options, r));
    if (r.frames > 1 || sopClassUid === SopClass.UltrasoundMultiFrameImage) {
      attributes.NumberOfFrames = String(r.frames);
      attributes.FrameIncrementPointer = Uint8Array.from([0x18, 0x00, 0x63, 0x10]); // (0018,1063) FrameTime
      attributes.FrameTime = '33.3';
    }
    if (r.transferSyntax === TransferSyntax.JPEGBaseline) {
      attributes.LossyImageCompression = '01';
      attributes.LossyImageCompressionRatio = '10';
      attributes.LossyImageCompressionMethod = 'ISO_10918_1';
    }
  }
  if (options.sequenceOfUltrasoundRegions === true) {
    attributes.SequenceOfUltrasoundRegions = ultrasoundRegions(r.rows, r.columns);
  }
  Object.assign(attributes, options.extra ?? {});
  const elements = elementsFrom(attributes);
  // FrameIncrementPointer is AT; written as raw LE bytes above.
  for (const e of elements) if ('vr' in e && e.tag === 0x00280009) e.vr = 'AT';
  if (options.noPixelData !== true && !(options.extra !== undefined && 'PixelData' in options.extra)) {
    const pixelTag = tagOf('PixelData').tag;
    if (r.transferSyntax === TransferSyntax.RLELossless) {
      const fragments = Array.from({ length: r.frames }, (_, k) => [encodeRleFrame(expectedFrame(options, k), r.rows * r.columns, r.samples, r.bitsAllocated)]);
      elements.push({ tag: pixelTag, vr: 'OB', fragments: fragments.flat(), basicOffsetTable: options.basicOffsetTable ?? r.frames > 1, frameStarts: fragmentStarts(fragments) });
    } else if (r.transferSyntax === TransferSyntax.JPEGBaseline) {
      const fragments = Array.from({ length: r.frames }, (_, k) => splitEven(expectedJpegFrame(options, k), options.fragmentsPerFrame ?? 1));
      elements.push({ tag: pixelTag, vr: 'OB', fragments: fragments.flat(), basicOffsetTable: options.basicOffsetTable ?? r.frames > 1, frameStarts: fragmentStarts(fragments) });
    } else {
      const frames = Array.from({ length: r.frames }, (_, k) => expectedFrame(options, k));
      elements.push({ tag: pixelTag, vr: r.bitsAllocated === 16 ? 'OW' : 'OB', value: Buffer.concat(frames) });
    }
  }
  return { elements, sopClassUid, sopInstanceUid, transferSyntax: r.transferSyntax, charset };
}

function paletteAttributes(options: InstanceOptions, r: Resolved): Record<string, AttributeValue> {
  const palette = options.palette;
  if (palette === undefined) throw new Error('PALETTE COLOR fixtures need the palette option');
  const words = (values: number[]): Uint8Array => {
    const out = Buffer.alloc(values.length * 2);
    values.forEach((v, i) => out.writeUInt16LE(v & 0xffff, 2 * i));
    return out;
  };
  const descriptor = [palette.red.length === 65536 ? 0 : palette.red.length, palette.firstMapped ?? 0, palette.bits ?? 16];
  void r;
  return {
    RedPaletteColorLookupTableDescriptor: descriptor,
    GreenPaletteColorLookupTableDescriptor: descriptor,
    BluePaletteColorLookupTableDescriptor: descriptor,
    RedPaletteColorLookupTableData: words(palette.red),
    GreenPaletteColorLookupTableData: words(palette.green),
    BluePaletteColorLookupTableData: words(palette.blue),
  };
}

/**
 * RLE Lossless (PS3.5 Annex G) of one frame's colour-by-pixel LE native bytes: one PackBits segment
 * per byte plane, most significant byte first, sample by sample, after a 64-byte header.
 */
export function encodeRleFrame(native: Uint8Array, pixels: number, samples: number, bitsAllocated: number): Uint8Array {
  const bytesPerSample = bitsAllocated / 8;
  const segments: Buffer[] = [];
  for (let s = 0; s < samples; s += 1) {
    for (let b = bytesPerSample - 1; b >= 0; b -= 1) {
      const plane = Buffer.alloc(pixels);
      for (let p = 0; p < pixels; p += 1) plane[p] = native[(p * samples + s) * bytesPerSample + b] ?? 0;
      segments.push(packBits(plane));
    }
  }
  const header = Buffer.alloc(64);
  header.writeUInt32LE(segments.length, 0);
  let offset = 64;
  segments.forEach((segment, i) => {
    header.writeUInt32LE(offset, 4 + 4 * i);
    offset += segment.length;
  });
  return Buffer.concat([header, ...segments]);
}

/** PackBits (PS3.5 G.3.1): runs of 3+ as replicate runs, the rest as literal runs; each segment even-length. */
function packBits(plane: Uint8Array): Buffer {
  const out: number[] = [];
  let i = 0;
  while (i < plane.length) {
    let run = 1;
    while (i + run < plane.length && run < 128 && plane[i + run] === plane[i]) run += 1;
    if (run >= 3) {
      out.push(257 - run, plane[i] ?? 0);
      i += run;
      continue;
    }
    const start = i;
    while (i < plane.length && i - start < 128) {
      if (i + 2 < plane.length && plane[i] === plane[i + 1] && plane[i] === plane[i + 2]) break;
      i += 1;
    }
    out.push(i - start - 1, ...plane.subarray(start, i));
  }
  if (out.length % 2 === 1) out.push(0x80); // -128: no operation, pads to even length
  return Buffer.from(out);
}

/** Splits a codestream into `parts` fragments of even length (PS3.5 A.4: items have even length). */
function splitEven(bytes: Uint8Array, parts: number): Uint8Array[] {
  if (parts <= 1) return [bytes];
  const size = Math.max(2, Math.ceil(bytes.length / parts / 2) * 2);
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.subarray(at, Math.min(bytes.length, at + size)));
  return out;
}

function fragmentStarts(frames: Uint8Array[][]): number[] {
  const starts: number[] = [];
  let index = 0;
  for (const frame of frames) {
    starts.push(index);
    index += frame.length;
  }
  return starts;
}

function assemble(built: Built, options: InstanceOptions): Buffer {
  const explicit = built.transferSyntax !== TransferSyntax.ImplicitVRLittleEndian;
  const dataset = writeDataset(built.elements, built.charset, explicit);
  return writePart10(
    {
      mediaStorageSopClassUid: options.metaSopClassUid ?? built.sopClassUid,
      mediaStorageSopInstanceUid: built.sopInstanceUid,
      transferSyntaxUid: built.transferSyntax,
    },
    dataset,
  );
}

/** A complete Part 10 instance. */
export function makeInstance(options: InstanceOptions = {}): Buffer {
  return assemble(build(options), options);
}

export interface Study {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUids: string[];
  files: Buffer[];
}

/** `count` instances of one study and series, InstanceNumber 1..count. */
export function makeStudy(count: number, options: InstanceOptions = {}): Study {
  const studyInstanceUid = options.studyInstanceUid ?? (options.seed === undefined ? newUid() : uidFromSeed(`${options.seed}/study`));
  const seriesInstanceUid = options.seriesInstanceUid ?? (options.seed === undefined ? newUid() : uidFromSeed(`${options.seed}/series`));
  const sopInstanceUids: string[] = [];
  const files: Buffer[] = [];
  for (let i = 0; i < count; i += 1) {
    const sopInstanceUid = options.seed === undefined ? newUid() : uidFromSeed(`${options.seed}/instance/${i}`);
    sopInstanceUids.push(sopInstanceUid);
    files.push(makeInstance({ ...options, studyInstanceUid, seriesInstanceUid, sopInstanceUid, instanceNumber: i + 1 }));
  }
  return { studyInstanceUid, seriesInstanceUid, sopInstanceUids, files };
}

function elementPosition(bytes: Buffer, tag: string): { headerStart: number; lengthOffset: number; lengthSize: 2 | 4 } {
  const dataSet = dicomParser.parseDicom(bytes);
  const element = dataSet.elements[tag];
  if (element === undefined) throw new Error(`No element ${tag} in fixture`);
  const implicit = dataSet.string('x00020010') === TransferSyntax.ImplicitVRLittleEndian && !tag.startsWith('x0002');
  const long = element.vr === undefined || LONG_HEADER.has(element.vr);
  if (implicit || element.vr === undefined) return { headerStart: element.dataOffset - 8, lengthOffset: element.dataOffset - 4, lengthSize: 4 };
  return long
    ? { headerStart: element.dataOffset - 12, lengthOffset: element.dataOffset - 4, lengthSize: 4 }
    : { headerStart: element.dataOffset - 8, lengthOffset: element.dataOffset - 2, lengthSize: 2 };
}
const LONG_HEADER = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);

/** Broken inputs for negative tests. */
export const corrupt = {
  /** The first `keep` bytes (a negative number drops that many from the end). */
  truncate(file: Buffer, keep: number): Buffer {
    return Buffer.from(file.subarray(0, keep < 0 ? file.length + keep : keep));
  },
  /** Rewrites the declared length of element `tag` ('xggggeeee') to `length`. */
  breakLength(file: Buffer, tag: string, length: number): Buffer {
    const out = Buffer.from(file);
    const where = elementPosition(out, tag);
    if (where.lengthSize === 2) out.writeUInt16LE(length & 0xffff, where.lengthOffset);
    else out.writeUInt32LE(length >>> 0, where.lengthOffset);
    return out;
  },
  /** A valid instance with a sequence nested `depth` levels deep (ContentSequence in ContentSequence...). */
  deepNesting(depth: number, options: InstanceOptions = {}): Buffer {
    const built = build(options);
    const explicit = built.transferSyntax !== TransferSyntax.ImplicitVRLittleEndian;
    built.elements.push({ tag: 0x0040a730, raw: deeplyNestedSequence(0x0040a730, depth, explicit) });
    return assemble(built, options);
  },
  /** An instance without one of the four UIDs. */
  removeUid(keyword: 'StudyInstanceUID' | 'SeriesInstanceUID' | 'SOPInstanceUID' | 'SOPClassUID', options: InstanceOptions = {}): Buffer {
    return makeInstance({ ...options, extra: { ...options.extra, [keyword]: null } });
  },
  /** Bytes that are not DICOM at all (a PNG signature and some text). */
  nonDicom(): Buffer {
    return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('not a DICOM file '.repeat(20))]);
  },
  /** The dataset alone, Explicit VR LE, without preamble, "DICM" or file meta. */
  withoutPart10Header(options: InstanceOptions = {}): Buffer {
    const file = makeInstance(options);
    const metaLength = file.readUInt32LE(132 + 8);
    return Buffer.from(file.subarray(132 + 12 + metaLength));
  },
};

/** The same instance in Deflated Explicit VR Little Endian (PS3.5 A.5): the dataset raw-deflated after the file meta. */
export function deflatedInstance(options: InstanceOptions = {}): Buffer {
  const built = build({ ...options, transferSyntax: TransferSyntax.ExplicitVRLittleEndian });
  const dataset = writeDataset(built.elements, built.charset, true);
  return writePart10(
    { mediaStorageSopClassUid: built.sopClassUid, mediaStorageSopInstanceUid: built.sopInstanceUid, transferSyntaxUid: TransferSyntax.DeflatedExplicitVRLittleEndian },
    deflateRawSync(dataset),
  );
}

export interface Cp246Fixture {
  file: Buffer;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
}

/**
 * A valid Explicit VR Big Endian instance (no pixel data) whose private (0009,1001) is a UN element of
 * undefined length holding, as CP-246 / PS3.5 6.2.2 prescribe, an Implicit VR Little Endian sequence:
 * one item with CodeValue (0008,0100) "T-CP246". Everything after it (patient, UIDs) must still be read.
 */
export function bigEndianUnSequenceInstance(): Cp246Fixture {
  const studyInstanceUid = newUid();
  const seriesInstanceUid = newUid();
  const sopInstanceUid = newUid();
  const sopClassUid = SopClass.UltrasoundImage;
  const pad = (text: string, padding: string): Buffer => Buffer.from(text.length % 2 === 0 ? text : `${text}${padding}`, 'latin1');
  const short = (group: number, element: number, vr: string, text: string): Buffer => {
    const value = pad(text, vr === 'UI' ? '\0' : ' ');
    const head = Buffer.alloc(8);
    head.writeUInt16BE(group, 0);
    head.writeUInt16BE(element, 2);
    head.write(vr, 4, 'latin1');
    head.writeUInt16BE(value.length, 6);
    return Buffer.concat([head, value]);
  };
  const implicitLe = (group: number, element: number, value: Buffer): Buffer => {
    const head = Buffer.alloc(8);
    head.writeUInt16LE(group, 0);
    head.writeUInt16LE(element, 2);
    head.writeUInt32LE(value.length, 4);
    return Buffer.concat([head, value]);
  };
  const delimiter = (element: number, length = 0): Buffer => {
    const out = Buffer.alloc(8);
    out.writeUInt16LE(0xfffe, 0);
    out.writeUInt16LE(element, 2);
    out.writeUInt32LE(length >>> 0, 4);
    return out;
  };
  const unHead = Buffer.alloc(12);
  unHead.writeUInt16BE(0x0009, 0);
  unHead.writeUInt16BE(0x1001, 2);
  unHead.write('UN', 4, 'latin1');
  unHead.writeUInt32BE(0xffffffff, 8);
  const unSequence = Buffer.concat([
    unHead,
    delimiter(0xe000, 0xffffffff),
    implicitLe(0x0008, 0x0100, pad('T-CP246', ' ')),
    delimiter(0xe00d),
    delimiter(0xe0dd),
  ]);
  const dataset = Buffer.concat([
    short(0x0008, 0x0016, 'UI', sopClassUid),
    short(0x0008, 0x0018, 'UI', sopInstanceUid),
    short(0x0008, 0x0020, 'DA', '20240101'),
    short(0x0008, 0x0060, 'CS', 'US'),
    short(0x0009, 0x0010, 'LO', 'YUNYING CP246'),
    unSequence,
    short(0x0010, 0x0010, 'PN', 'TEST^CP246'),
    short(0x0010, 0x0020, 'LO', 'PID-CP246'),
    short(0x0020, 0x000d, 'UI', studyInstanceUid),
    short(0x0020, 0x000e, 'UI', seriesInstanceUid),
  ]);
  const file = writePart10({ mediaStorageSopClassUid: sopClassUid, mediaStorageSopInstanceUid: sopInstanceUid, transferSyntaxUid: TransferSyntax.ExplicitVRBigEndian }, dataset);
  return { file, studyInstanceUid, seriesInstanceUid, sopInstanceUid };
}
