/**
 * Where the ultrasound image is inside a whole frame: the part the model may look at.
 *
 * 1. SequenceOfUltrasoundRegions (PS3.3 C.8.5.5, (0018,6011)) when the device sent it: the largest
 *    region whose RegionDataType (0018,6014) is 1 (tissue); if none says tissue, the largest region.
 *    RegionLocationMinX0/MinY0/MaxX1/MaxY1 are inclusive pixel columns/rows.
 * 2. Otherwise a heuristic on the 8-bit gray frame. Scanners draw the image on a black canvas with
 *    burned-in text (patient banner, depth scale, presets) around it. A row or column belongs to the
 *    image when at least TISSUE_FRACTION of its pixels are mid-gray (between DARK and BRIGHT): black
 *    borders are all dark, and text lines are dark with a few saturated strokes. The region is the
 *    longest run of such rows, then within it the longest run of such columns, then rows again inside
 *    those columns. Thin lines (calipers, Doppler box edges: up to 2% of the side) do not split the
 *    image. Annotations drawn over the tissue itself (calipers, body marks) are not removed.
 */
import type { DicomJsonObject } from '@yunying/dicom';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface UltrasoundRegion extends Rect {
  source: 'sequence_of_ultrasound_regions' | 'heuristic';
}

/** 8-bit levels at or below DARK are "black canvas"; at or above BRIGHT "annotation white". */
export const DARK = 12;
export const BRIGHT = 245;
export const TISSUE_FRACTION = 0.3;
/** Smaller than this (either side) is not an image the model can use. */
export const MIN_REGION_SIDE = 24;

const SEQUENCE_OF_ULTRASOUND_REGIONS = '00186011';
const REGION_DATA_TYPE = '00186014';
const MIN_X0 = '00186018';
const MIN_Y0 = '0018601A';
const MAX_X1 = '0018601C';
const MAX_Y1 = '0018601E';

function firstNumber(item: DicomJsonObject, tag: string): number | undefined {
  const value = item[tag]?.Value?.[0];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** The tissue region named by SequenceOfUltrasoundRegions, clamped to the frame; null when absent or unusable. */
export function regionFromSequence(dataset: DicomJsonObject, width: number, height: number): UltrasoundRegion | null {
  const items = dataset[SEQUENCE_OF_ULTRASOUND_REGIONS]?.Value;
  if (!Array.isArray(items)) return null;
  let best: { rect: Rect; tissue: boolean } | null = null;
  for (const raw of items) {
    if (typeof raw !== 'object' || raw === null) continue;
    const item = raw as DicomJsonObject;
    const x0 = firstNumber(item, MIN_X0);
    const y0 = firstNumber(item, MIN_Y0);
    const x1 = firstNumber(item, MAX_X1);
    const y1 = firstNumber(item, MAX_Y1);
    if (x0 === undefined || y0 === undefined || x1 === undefined || y1 === undefined) continue;
    const left = Math.max(0, Math.min(x0, x1));
    const top = Math.max(0, Math.min(y0, y1));
    const right = Math.min(width - 1, Math.max(x0, x1));
    const bottom = Math.min(height - 1, Math.max(y0, y1));
    if (right < left || bottom < top) continue;
    const rect = { x: left, y: top, width: right - left + 1, height: bottom - top + 1 };
    const tissue = firstNumber(item, REGION_DATA_TYPE) === 1;
    const better =
      best === null || (tissue && !best.tissue) || (tissue === best.tissue && rect.width * rect.height > best.rect.width * best.rect.height);
    if (better) best = { rect, tissue };
  }
  return best === null ? null : { ...best.rect, source: 'sequence_of_ultrasound_regions' };
}

/**
 * Gaps of at most this many rows/columns inside the image do not split it: caliper lines, Doppler box
 * edges and scale ticks are thin bright (or dark) lines drawn over tissue.
 */
export function maxGap(length: number): number {
  return Math.max(3, Math.round(length * 0.02));
}

function bridgeGaps(flags: boolean[], from: number, to: number): boolean[] {
  const out = [...flags];
  const gap = maxGap(to - from);
  let lastOn = -1;
  for (let i = from; i < to; i++) {
    if (flags[i] !== true) continue;
    if (lastOn >= 0 && i - lastOn - 1 <= gap) for (let k = lastOn + 1; k < i; k++) out[k] = true;
    lastOn = i;
  }
  return out;
}

function longestRun(raw: boolean[], from: number, to: number): { start: number; end: number } | null {
  const flags = bridgeGaps(raw, from, to);
  let best: { start: number; end: number } | null = null;
  let start = -1;
  for (let i = from; i <= to; i++) {
    const on = i < to && flags[i] === true;
    if (on && start < 0) start = i;
    if (!on && start >= 0) {
      if (best === null || i - start > best.end - best.start) best = { start, end: i };
      start = -1;
    }
  }
  return best;
}

function isTissue(value: number): boolean {
  return value > DARK && value < BRIGHT;
}

function rowFlags(gray: Uint8Array, width: number, cols: { start: number; end: number }, rows: { start: number; end: number }): boolean[] {
  const flags: boolean[] = [];
  const span = cols.end - cols.start;
  for (let y = 0; y < rows.end; y++) {
    if (y < rows.start) {
      flags.push(false);
      continue;
    }
    let n = 0;
    for (let x = cols.start; x < cols.end; x++) if (isTissue(gray[y * width + x] ?? 0)) n++;
    flags.push(n >= TISSUE_FRACTION * span);
  }
  return flags;
}

function columnFlags(gray: Uint8Array, width: number, cols: { start: number; end: number }, rows: { start: number; end: number }): boolean[] {
  // Counted row by row (memory order), which gives the same counts as walking each column.
  const counts = new Int32Array(cols.end);
  for (let y = rows.start; y < rows.end; y++) {
    const row = y * width;
    for (let x = cols.start; x < cols.end; x++) if (isTissue(gray[row + x] ?? 0)) counts[x] = (counts[x] ?? 0) + 1;
  }
  const flags: boolean[] = [];
  const span = rows.end - rows.start;
  for (let x = 0; x < cols.end; x++) flags.push(x >= cols.start && (counts[x] ?? 0) >= TISSUE_FRACTION * span);
  return flags;
}

/** The image area without black borders and burned-in text rows/columns; null when nothing looks like tissue. */
export function regionFromPixels(gray: Uint8Array, width: number, height: number): UltrasoundRegion | null {
  const all = { cols: { start: 0, end: width }, rows: { start: 0, end: height } };
  const rows1 = longestRun(rowFlags(gray, width, all.cols, all.rows), 0, height);
  if (rows1 === null) return null;
  const cols = longestRun(columnFlags(gray, width, all.cols, rows1), 0, width);
  if (cols === null) return null;
  const rows2 = longestRun(rowFlags(gray, width, cols, rows1), 0, rows1.end);
  if (rows2 === null) return null;
  return { x: cols.start, y: rows2.start, width: cols.end - cols.start, height: rows2.end - rows2.start, source: 'heuristic' };
}

/** The region the model looks at: the device's tissue region if given, else the pixel heuristic. */
export function ultrasoundRegion(dataset: DicomJsonObject, gray: Uint8Array, width: number, height: number): UltrasoundRegion | null {
  const region = regionFromSequence(dataset, width, height) ?? regionFromPixels(gray, width, height);
  if (region === null || region.width < MIN_REGION_SIDE || region.height < MIN_REGION_SIDE) return null;
  return region;
}

/** Copies a rectangle out of a row-major 8-bit image. */
export function crop(gray: Uint8Array, width: number, rect: Rect): Uint8Array {
  const out = new Uint8Array(rect.width * rect.height);
  for (let y = 0; y < rect.height; y++) {
    const from = (rect.y + y) * width + rect.x;
    out.set(gray.subarray(from, from + rect.width), y * rect.width);
  }
  return out;
}
