import { arr, num, obj, str, type JsonObject } from '../app/json';

/**
 * What the image loader needs from an instance's DICOM JSON (PS3.18 F.2): the Image Pixel module
 * (PS3.3 C.7.6.3), the Modality LUT (C.11.1), the first VOI window (C.11.2) and the physical size of a
 * pixel, from Pixel Spacing (C.7.6.2) or, for ultrasound, the calibration of the Sequence of Ultrasound
 * Regions (C.8.5.5). Everything else in the metadata is left alone.
 */
export interface PixelModule {
  rows: number;
  columns: number;
  samplesPerPixel: 1 | 3;
  photometric: string;
  bitsAllocated: number;
  bitsStored: number;
  pixelRepresentation: 0 | 1;
  planarConfiguration: 0 | 1;
  slope: number;
  intercept: number;
  window: { center: number; width: number } | null;
  spacing: PixelSpacing | null;
  numberOfFrames: number;
  /** PALETTE COLOR: the three lookup tables (PS3.3 C.7.6.3.1.5-6); null otherwise or when segmented. */
  palette: PaletteLuts | null;
}

/** Where one palette table's data is: inline (base64) or at a BulkDataURI; with its descriptor. */
export interface PaletteLutSource {
  /** Entries (0 in the descriptor means 65536), first mapped pixel value, bits per entry (8 or 16). */
  entries: number;
  firstMapped: number;
  bits: number;
  inline: string | null;
  bulkDataUri: string | null;
}

export interface PaletteLuts {
  red: PaletteLutSource;
  green: PaletteLutSource;
  blue: PaletteLutSource;
}

function paletteLut(json: JsonObject, descriptorTag: string, dataTag: string): PaletteLutSource | null {
  const entries = numberAt(json, descriptorTag, 0);
  const firstMapped = numberAt(json, descriptorTag, 1);
  const bits = numberAt(json, descriptorTag, 2);
  const data = obj(json[dataTag]);
  const inline = str(data.InlineBinary);
  const bulkDataUri = str(data.BulkDataURI);
  if (entries === null || firstMapped === null || bits === null || (inline === null && bulkDataUri === null)) return null;
  return { entries: entries === 0 ? 65536 : entries, firstMapped, bits, inline, bulkDataUri };
}

/** The palette tables of a PALETTE COLOR image; null when absent or only segmented (0028,1221-1223). */
export function paletteLuts(json: JsonObject): PaletteLuts | null {
  const red = paletteLut(json, '00281101', '00281201');
  const green = paletteLut(json, '00281102', '00281202');
  const blue = paletteLut(json, '00281103', '00281203');
  return red && green && blue ? { red, green, blue } : null;
}

export interface PixelSpacing {
  rowMm: number;
  columnMm: number;
  source: 'PixelSpacing' | 'ImagerPixelSpacing' | 'UltrasoundRegion';
}

export interface InstanceMeta {
  sopInstanceUid: string;
  instanceNumber: number;
  pixel: PixelModule;
}

function values(json: JsonObject, tag: string): unknown[] {
  return arr(obj(json[tag]).Value);
}

function first(json: JsonObject, tag: string): unknown {
  return values(json, tag)[0];
}

export function numberAt(json: JsonObject, tag: string, index = 0): number | null {
  return num(values(json, tag)[index]);
}

export function stringAt(json: JsonObject, tag: string): string | null {
  return str(first(json, tag));
}

/** PhysicalUnits (0018,6024/6026) code 3 is centimetres (PS3.3 C.8.5.5.1.15). */
const UNITS_CM = 3;

function ultrasoundSpacing(json: JsonObject): PixelSpacing | null {
  for (const item of values(json, '00186011')) {
    const region = obj(item);
    // RegionSpatialFormat 1 = 2D tissue or flow; M-mode and Doppler regions have a time axis.
    if (numberAt(region, '00186012') !== 1) continue;
    if (numberAt(region, '00186024') !== UNITS_CM || numberAt(region, '00186026') !== UNITS_CM) continue;
    const dx = numberAt(region, '0018602C');
    const dy = numberAt(region, '0018602E');
    if (dx !== null && dy !== null && dx > 0 && dy > 0) return { columnMm: Math.abs(dx) * 10, rowMm: Math.abs(dy) * 10, source: 'UltrasoundRegion' };
  }
  return null;
}

export function pixelSpacing(json: JsonObject): PixelSpacing | null {
  for (const [tag, source] of [
    ['00280030', 'PixelSpacing'],
    ['00181164', 'ImagerPixelSpacing'],
  ] as const) {
    const row = numberAt(json, tag, 0);
    const column = numberAt(json, tag, 1);
    if (row !== null && column !== null && row > 0 && column > 0) return { rowMm: row, columnMm: column, source };
  }
  return ultrasoundSpacing(json);
}

export function parseInstance(json: JsonObject): InstanceMeta | null {
  const sopInstanceUid = stringAt(json, '00080018');
  const rows = numberAt(json, '00280010');
  const columns = numberAt(json, '00280011');
  if (!sopInstanceUid || !rows || !columns) return null;
  const center = numberAt(json, '00281050');
  const width = numberAt(json, '00281051');
  const bitsAllocated = numberAt(json, '00280100') ?? 8;
  return {
    sopInstanceUid,
    instanceNumber: numberAt(json, '00200013') ?? 0,
    pixel: {
      rows,
      columns,
      samplesPerPixel: numberAt(json, '00280002') === 3 ? 3 : 1,
      photometric: stringAt(json, '00280004') ?? 'MONOCHROME2',
      bitsAllocated,
      bitsStored: numberAt(json, '00280101') ?? bitsAllocated,
      pixelRepresentation: numberAt(json, '00280103') === 1 ? 1 : 0,
      planarConfiguration: numberAt(json, '00280006') === 1 ? 1 : 0,
      slope: numberAt(json, '00281053') ?? 1,
      intercept: numberAt(json, '00281052') ?? 0,
      window: center !== null && width !== null && width > 0 ? { center, width } : null,
      spacing: pixelSpacing(json),
      numberOfFrames: Math.max(1, numberAt(json, '00280008') ?? 1),
      palette: stringAt(json, '00280004') === 'PALETTE COLOR' ? paletteLuts(json) : null,
    },
  };
}
