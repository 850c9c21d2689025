import { t } from '../app/i18n';
import type { PaletteLutSource } from './metadata';

/**
 * PALETTE COLOR (PS3.3 C.7.6.3.1.5-6) in the browser: the stored indexes the server sends, looked up in
 * the Red/Green/Blue Palette Color Lookup Tables of the metadata. Indexes below the first mapped value
 * take entry 0, above the table its last entry. Output is 8 bits per channel (16-bit entries keep their
 * high byte). Segmented tables (0028,1221-1223) are not read here.
 */

/** One palette table as 8-bit values, with its descriptor (PS3.3 C.7.6.3.1.5). */
export interface PaletteTable {
  firstMapped: number;
  values: Uint8Array;
}

export interface PaletteTables {
  red: PaletteTable;
  green: PaletteTable;
  blue: PaletteTable;
}

/** LUT Data as 8-bit values: 16-bit entries keep their high byte; 8-bit ones come packed or one per word. */
export function lutValues(bytes: Uint8Array, source: Pick<PaletteLutSource, 'entries' | 'bits'>): Uint8Array {
  const out = new Uint8Array(source.entries);
  const packed = source.bits === 8 && bytes.length === source.entries;
  for (let i = 0; i < source.entries; i++) {
    if (packed) out[i] = bytes[i] ?? 0;
    else {
      const word = (bytes[2 * i] ?? 0) | ((bytes[2 * i + 1] ?? 0) << 8);
      out[i] = source.bits === 16 ? word >> 8 : word & 0xff;
    }
  }
  return out;
}

function lookUp(table: PaletteTable, index: number): number {
  const at = Math.min(Math.max(index - table.firstMapped, 0), table.values.length - 1);
  return table.values[at] ?? 0;
}

/** Palette indexes (8 or 16 bits, little endian) to RGBA through the three tables. */
export function paletteToRgba(bytes: Uint8Array, count: number, bitsAllocated: number, tables: PaletteTables): Uint8Array {
  const wide = bitsAllocated > 8;
  if (bytes.length < count * (wide ? 2 : 1)) throw new Error(t('Frame is shorter than its pixel module says', '帧数据短于其像素模块声明的长度'));
  const out = new Uint8Array(count * 4);
  for (let i = 0; i < count; i++) {
    const index = wide ? (bytes[2 * i] ?? 0) | ((bytes[2 * i + 1] ?? 0) << 8) : (bytes[i] ?? 0);
    out[4 * i] = lookUp(tables.red, index);
    out[4 * i + 1] = lookUp(tables.green, index);
    out[4 * i + 2] = lookUp(tables.blue, index);
    out[4 * i + 3] = 255;
  }
  return out;
}

