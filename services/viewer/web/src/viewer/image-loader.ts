import type { Image, ImageLoadObject } from 'cornerstone-core';
import { request } from '../app/api';
import { FRAME_ACCEPT } from './first-view';
import { t } from '../app/i18n';
import type { PaletteLutSource, PaletteLuts, PixelModule } from './metadata';
import { lutValues, paletteToRgba, type PaletteTable, type PaletteTables } from './palette';
import { firstPart } from './multipart';

/**
 * The `yunying:` cornerstone image loader. Instead of bundling a codec-laden DICOM image loader, it asks
 * WADO-RS for each frame decompressed to Explicit VR Little Endian (PS3.18 8.7.3.5.2,
 * transfer-syntax=1.2.840.10008.1.2.1): the server decodes JPEG, JPEG-LS, JPEG 2000 and RLE, and the
 * browser only turns native samples into a cornerstone image. The pixel module comes from the series
 * metadata the viewer already read, registered here per imageId.
 *
 * What the server sends as "native" (services/viewer/src/dicomweb/frames.ts): an instance stored in a
 * native syntax comes as stored (colour may be planar or YBR_FULL); a compressed one comes decoded, with
 * YBR colour as interleaved RGB. PALETTE COLOR always comes as its stored indexes (decompression is not
 * rendering, PS3.18 8.7.3): the loader looks them up in the palette tables from the metadata (inline or
 * fetched once from their BulkDataURIs).
 */

export const SCHEME = 'yunying';
const NATIVE_SYNTAXES = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1']);

export interface FrameEntry {
  url: string;
  pixel: PixelModule;
  /** Stored transfer syntax (QIDO AvailableTransferSyntaxUID); null when unknown. */
  storedTransferSyntax: string | null;
  signal: AbortSignal;
}

const frames = new Map<string, FrameEntry>();

export function frameImageId(url: string): string {
  return `${SCHEME}:${url}`;
}

export function registerFrame(imageId: string, entry: FrameEntry): void {
  frames.set(imageId, entry);
}

export function unregisterFrame(imageId: string): void {
  frames.delete(imageId);
}

export function loadImage(imageId: string): ImageLoadObject {
  return { promise: fetchImage(imageId) };
}

async function fetchImage(imageId: string): Promise<Image> {
  const entry = frames.get(imageId);
  if (!entry) throw new Error(t(`Unknown image ${imageId}`, `未知图像 ${imageId}`));
  const res = await request('GET', entry.url, { headers: { accept: FRAME_ACCEPT }, signal: entry.signal });
  const bytes = firstPart(res.headers.get('content-type'), new Uint8Array(await res.arrayBuffer()));
  const transcoded = entry.storedTransferSyntax === null || !NATIVE_SYNTAXES.has(entry.storedTransferSyntax);
  const palette = entry.pixel.photometric === 'PALETTE COLOR' && entry.pixel.palette ? await paletteTables(entry.pixel.palette, entry.signal) : null;
  return toImage(imageId, entry.pixel, bytes, transcoded, palette);
}

const tableCache = new Map<string, Promise<PaletteTable>>();

function paletteTable(source: PaletteLutSource, signal: AbortSignal): Promise<PaletteTable> {
  const key = source.inline ?? source.bulkDataUri ?? '';
  let cached = tableCache.get(key);
  if (!cached) {
    cached = (async () => {
      let bytes: Uint8Array;
      if (source.inline !== null) bytes = Uint8Array.from(atob(source.inline), (c) => c.charCodeAt(0));
      else {
        const res = await request('GET', source.bulkDataUri ?? '', { headers: { accept: 'application/octet-stream' }, signal });
        bytes = new Uint8Array(await res.arrayBuffer());
      }
      return { firstMapped: source.firstMapped, values: lutValues(bytes, source) };
    })();
    cached.catch(() => tableCache.delete(key));
    tableCache.set(key, cached);
  }
  return cached;
}

async function paletteTables(luts: PaletteLuts, signal: AbortSignal): Promise<PaletteTables> {
  const [red, green, blue] = await Promise.all([paletteTable(luts.red, signal), paletteTable(luts.green, signal), paletteTable(luts.blue, signal)]);
  return { red, green, blue };
}

/** Native samples to a cornerstone image (exported for tests of the conversion). */
export function toImage(imageId: string, pixel: PixelModule, bytes: Uint8Array, transcoded: boolean, palette: PaletteTables | null = null): Image {
  const count = pixel.rows * pixel.columns;
  const colour = pixel.samplesPerPixel === 3;
  const base = {
    imageId,
    rows: pixel.rows,
    columns: pixel.columns,
    height: pixel.rows,
    width: pixel.columns,
    slope: pixel.slope,
    intercept: pixel.intercept,
    invert: pixel.photometric === 'MONOCHROME1',
    ...(pixel.spacing ? { rowPixelSpacing: pixel.spacing.rowMm, columnPixelSpacing: pixel.spacing.columnMm } : {}),
  };
  if (palette !== null) {
    const rgba = paletteToRgba(bytes, count, pixel.bitsAllocated, palette);
    return { ...base, color: true, rgba: false, getPixelData: () => rgba, minPixelValue: 0, maxPixelValue: 255, windowCenter: 127.5, windowWidth: 256, sizeInBytes: rgba.byteLength };
  }
  if (colour) {
    if (bytes.length < count * 3) throw new Error(t('Frame is shorter than its pixel module says', '帧数据短于其像素模块声明的长度'));
    const rgba = toRgba(bytes, count, transcoded ? 'RGB' : pixel.photometric, transcoded ? 0 : pixel.planarConfiguration);
    return { ...base, color: true, rgba: false, getPixelData: () => rgba, minPixelValue: 0, maxPixelValue: 255, windowCenter: 127.5, windowWidth: 256, sizeInBytes: rgba.byteLength };
  }
  const data = monochrome(bytes, count, pixel);
  let min = Infinity;
  let max = -Infinity;
  for (const v of data) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!Number.isFinite(min)) [min, max] = [0, 0];
  const window = pixel.window ?? { center: ((min + max) / 2) * pixel.slope + pixel.intercept, width: Math.max(1, (max - min) * pixel.slope) };
  return { ...base, color: false, getPixelData: () => data, minPixelValue: min, maxPixelValue: max, windowCenter: window.center, windowWidth: window.width, sizeInBytes: data.byteLength };
}

function monochrome(bytes: Uint8Array, count: number, pixel: PixelModule): Uint8Array | Int8Array | Uint16Array | Int16Array {
  const bytesPerSample = bytes.length >= count * 2 ? 2 : 1;
  if (bytes.length < count * bytesPerSample) throw new Error(t('Frame is shorter than its pixel module says', '帧数据短于其像素模块声明的长度'));
  const signed = pixel.pixelRepresentation === 1;
  // A copy: the part may start at an odd offset, and typed views need alignment.
  const own = bytes.slice(0, count * bytesPerSample).buffer;
  const bits = Math.min(pixel.bitsStored, bytesPerSample * 8);
  if (bytesPerSample === 1) return signed ? new Int8Array(own) : new Uint8Array(own);
  const data = signed ? new Int16Array(own) : new Uint16Array(own);
  if (bits < 16) {
    // Bits above BitsStored are not pixel data (PS3.5 8.1.1); sign-extend from the high bit.
    const mask = (1 << bits) - 1;
    const sign = 1 << (bits - 1);
    for (let i = 0; i < data.length; i++) {
      const v = (data[i] ?? 0) & mask;
      data[i] = signed && v & sign ? v - (1 << bits) : v;
    }
  }
  return data;
}

function toRgba(bytes: Uint8Array, count: number, photometric: string, planar: 0 | 1): Uint8Array {
  const out = new Uint8Array(count * 4);
  const ybr = photometric === 'YBR_FULL';
  for (let i = 0; i < count; i++) {
    let a: number;
    let b: number;
    let c: number;
    if (planar === 1) {
      a = bytes[i] ?? 0;
      b = bytes[count + i] ?? 0;
      c = bytes[2 * count + i] ?? 0;
    } else {
      a = bytes[3 * i] ?? 0;
      b = bytes[3 * i + 1] ?? 0;
      c = bytes[3 * i + 2] ?? 0;
    }
    if (ybr) {
      // PS3.3 C.7.6.3.1.2, YBR_FULL to RGB.
      const r = a + 1.402 * (c - 128);
      const g = a - 0.344136 * (b - 128) - 0.714136 * (c - 128);
      const bl = a + 1.772 * (b - 128);
      [a, b, c] = [r, g, bl];
    }
    out[4 * i] = clamp(a);
    out[4 * i + 1] = clamp(b);
    out[4 * i + 2] = clamp(c);
    out[4 * i + 3] = 255;
  }
  return out;
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}
