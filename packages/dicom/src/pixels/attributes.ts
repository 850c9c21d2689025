/**
 * The Image Pixel Module (PS3.3 C.7.6.3) attributes a decoder needs, read from the DICOM JSON that
 * parseInstance built, plus the Palette Color Lookup Tables (C.7.6.3.1.5-6), which are read from the
 * file itself because large LUT data is only a BulkDataURI in the JSON and inline binary keeps the
 * file's byte order.
 */
import dicomParser from 'dicom-parser';
import type { DataSet } from 'dicom-parser';
import type { DicomJsonObject } from '../json';
import type { ParsedInstance } from '../parse';
import { dictionaryVr } from '../dictionary';
import { PixelDecodeError } from './errors';

export interface PixelModule {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  /** 0 unsigned, 1 two's complement. */
  pixelRepresentation: number;
  /** 0 colour-by-pixel, 1 colour-by-plane (native data only). */
  planarConfiguration: number;
  photometric: string;
  numberOfFrames: number;
  /** First WindowCenter/WindowWidth pair (C.11.2), in rescaled units; null when absent or width < 1. */
  window: { center: number; width: number } | null;
  rescale: { slope: number; intercept: number };
}

function numbers(json: DicomJsonObject, tag: string): number[] {
  const values = json[tag]?.Value ?? [];
  return values.flatMap((v) => (typeof v === 'number' && Number.isFinite(v) ? [v] : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? [Number(v)] : []));
}

function first(json: DicomJsonObject, tag: string): number | undefined {
  return numbers(json, tag)[0];
}

function text(json: DicomJsonObject, tag: string): string {
  const value = json[tag]?.Value?.[0];
  return typeof value === 'string' ? value.trim() : '';
}

export function readPixelModule(parsed: ParsedInstance): PixelModule {
  const json = parsed.dicomJson;
  const rows = first(json, '00280010') ?? 0;
  const columns = first(json, '00280011') ?? 0;
  const bitsAllocated = first(json, '00280100') ?? 0;
  if (rows === 0 || columns === 0 || bitsAllocated === 0 || parsed.frames.length === 0) {
    throw new PixelDecodeError('no_pixel_data', 'The instance has no decodable Pixel Data (Rows, Columns or BitsAllocated missing).');
  }
  const bitsStored = first(json, '00280101') ?? bitsAllocated;
  const center = first(json, '00281050');
  const width = first(json, '00281051');
  return {
    rows,
    columns,
    samplesPerPixel: first(json, '00280002') ?? 1,
    bitsAllocated,
    bitsStored: bitsStored > 0 && bitsStored <= bitsAllocated ? bitsStored : bitsAllocated,
    highBit: first(json, '00280102') ?? bitsStored - 1,
    pixelRepresentation: first(json, '00280103') ?? 0,
    planarConfiguration: first(json, '00280006') ?? 0,
    photometric: text(json, '00280004').toUpperCase() || 'MONOCHROME2',
    numberOfFrames: parsed.frames.length,
    window: center !== undefined && width !== undefined && width >= 1 ? { center, width } : null,
    rescale: { slope: first(json, '00281053') ?? 1, intercept: first(json, '00281052') ?? 0 },
  };
}

export interface PaletteLut {
  /** Pixel value mapped to entry 0 (C.7.6.3.1.5). */
  firstMapped: number;
  /** 8 or 16: bits per entry. */
  bits: 8 | 16;
  red: Uint16Array;
  green: Uint16Array;
  blue: Uint16Array;
}

const PALETTE = [
  { name: 'Red', descriptor: 'x00281101', data: 'x00281201', segmented: 'x00281221' },
  { name: 'Green', descriptor: 'x00281102', data: 'x00281202', segmented: 'x00281222' },
  { name: 'Blue', descriptor: 'x00281103', data: 'x00281203', segmented: 'x00281223' },
] as const;

function headerDataSet(bytes: Uint8Array): DataSet {
  try {
    const input = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return dicomParser.parseDicom(input, { untilTag: 'x7fe00010', vrCallback: dictionaryVr });
  } catch (error) {
    throw new PixelDecodeError('inconsistent', 'The palette lookup tables cannot be read.', { cause: error });
  }
}

/** Reads the three Palette Color LUTs, plain (C.7.6.3.1.6) or segmented (C.7.9.2), 16-bit words. */
export function readPalette(bytes: Uint8Array): PaletteLut {
  const dataSet = headerDataSet(bytes);
  const tables = PALETTE.map((channel) => {
    const descriptor = dataSet.elements[channel.descriptor];
    const data = dataSet.elements[channel.data];
    const segmented = dataSet.elements[channel.segmented];
    if (descriptor !== undefined && descriptor.length >= 6 && data === undefined && segmented !== undefined) {
      const entries = dataSet.uint16(channel.descriptor, 0) || 65536;
      const words = Array.from({ length: Math.floor(segmented.length / 2) }, (_, i) => dataSet.uint16(channel.segmented, i) ?? 0);
      const table = new Uint16Array(entries);
      const expanded = expandSegmented(words, channel.name);
      table.set(expanded.subarray(0, entries));
      if (expanded.length < entries) table.fill(expanded[expanded.length - 1] ?? 0, expanded.length);
      return { firstMapped: dataSet.uint16(channel.descriptor, 1) ?? 0, declaredBits: dataSet.uint16(channel.descriptor, 2) ?? 16, table };
    }
    if (descriptor === undefined || descriptor.length < 6 || data === undefined) {
      throw new PixelDecodeError('inconsistent', `PALETTE COLOR image without a complete ${channel.name} Palette Color Lookup Table.`);
    }
    const entries = dataSet.uint16(channel.descriptor, 0) || 65536;
    // The first mapped value is US or SS depending on PixelRepresentation; read it as stored.
    const firstMapped = dataSet.uint16(channel.descriptor, 1) ?? 0;
    const declaredBits = dataSet.uint16(channel.descriptor, 2) ?? 16;
    const table = new Uint16Array(entries);
    if (data.length >= entries * 2) {
      for (let i = 0; i < entries; i += 1) table[i] = dataSet.uint16(channel.data, i) ?? 0;
    } else if (data.length >= entries) {
      // 8-bit entries packed one per byte (older writers).
      const raw = dataSet.byteArray.subarray(data.dataOffset, data.dataOffset + entries);
      table.set(raw);
    } else {
      throw new PixelDecodeError('inconsistent', `${channel.name} Palette Color LUT Data is shorter than its descriptor's ${entries} entries.`);
    }
    return { firstMapped, declaredBits, table };
  });
  const [red, green, blue] = tables;
  if (red === undefined || green === undefined || blue === undefined) throw new PixelDecodeError('inconsistent', 'Palette tables missing.');
  // Writers that declare 16-bit entries but store 8-bit values exist; decide by the values.
  const max = Math.max(...tables.map((t) => t.table.reduce((m, v) => (v > m ? v : m), 0)));
  const bits: 8 | 16 = red.declaredBits === 8 || max <= 0xff ? 8 : 16;
  if (red.declaredBits === 8 && max > 0xff) {
    // 8-bit entries in the high byte of 16-bit words.
    for (const t of tables) for (let i = 0; i < t.table.length; i += 1) t.table[i] = (t.table[i] ?? 0) >> 8;
  }
  return { firstMapped: red.firstMapped, bits, red: red.table, green: green.table, blue: blue.table };
}

/**
 * Expands Segmented Palette Color LUT Data (PS3.3 C.7.9.2): discrete segments (opcode 0) list their
 * values, linear segments (1) ramp from the previous value to the given one, indirect segments (2)
 * replay earlier segments found at a word offset (least significant word first).
 */
function expandSegmented(words: number[], name: string, start = 0, maxSegments = Infinity, previous?: number, depth = 0): Uint16Array {
  const fail = (): never => {
    throw new PixelDecodeError('inconsistent', `The Segmented ${name} Palette Color LUT Data is malformed (PS3.3 C.7.9.2).`);
  };
  if (depth > 4) fail();
  const out: number[] = [];
  let position = start;
  let segments = 0;
  while (position + 1 < words.length && segments < maxSegments) {
    const opcode = words[position] ?? 0;
    const length = words[position + 1] ?? 0;
    position += 2;
    if (opcode === 0) {
      if (position + length > words.length) fail();
      for (let i = 0; i < length; i += 1) out.push(words[position + i] ?? 0);
      position += length;
    } else if (opcode === 1) {
      const y0 = out.length > 0 ? (out[out.length - 1] ?? 0) : previous ?? fail();
      const y1 = words[position] ?? 0;
      position += 1;
      for (let i = 1; i <= length; i += 1) out.push(Math.round(y0 + ((y1 - y0) * i) / length));
    } else if (opcode === 2) {
      if (out.length === 0) fail();
      const offset = (words[position] ?? 0) | ((words[position + 1] ?? 0) << 16);
      position += 2;
      out.push(...expandSegmented(words, name, offset, length, out[out.length - 1], depth + 1));
    } else {
      fail();
    }
    segments += 1;
  }
  return Uint16Array.from(out);
}
