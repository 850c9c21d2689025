/**
 * Colour models of PS3.3 C.7.6.3.1.2 converted to RGB. YBR_FULL uses the full-range ITU-R BT.601
 * equations given there; YBR_FULL_422 native data holds Y1 Y2 Cb Cr per horizontal pixel pair.
 */
import type { PaletteLut } from './attributes';

function clamp8(value: number): number {
  return value < 0 ? 0 : value > 255 ? 255 : Math.round(value);
}

/** In place: interleaved 8-bit YBR_FULL to RGB. */
export function ybrFullToRgb(data: Uint8Array): void {
  for (let i = 0; i + 2 < data.length; i += 3) {
    const y = data[i] ?? 0;
    const cb = (data[i + 1] ?? 0) - 128;
    const cr = (data[i + 2] ?? 0) - 128;
    data[i] = clamp8(y + 1.402 * cr);
    data[i + 1] = clamp8(y - 0.344136 * cb - 0.714136 * cr);
    data[i + 2] = clamp8(y + 1.772 * cb);
  }
}

/** Native YBR_FULL_422 (Y1 Y2 Cb Cr per pixel pair, 8-bit) to interleaved YBR_FULL. */
export function expandYbr422(source: Uint8Array, rows: number, columns: number): Uint8Array {
  const out = new Uint8Array(rows * columns * 3);
  let s = 0;
  let o = 0;
  for (let row = 0; row < rows; row += 1) {
    for (let column = 0; column < columns; column += 2) {
      const y1 = source[s] ?? 0;
      const y2 = source[s + 1] ?? 0;
      const cb = source[s + 2] ?? 0;
      const cr = source[s + 3] ?? 0;
      s += 4;
      out[o] = y1;
      out[o + 1] = cb;
      out[o + 2] = cr;
      o += 3;
      if (column + 1 < columns) {
        out[o] = y2;
        out[o + 1] = cb;
        out[o + 2] = cr;
        o += 3;
      }
    }
  }
  return out;
}

/** Palette indexes to interleaved RGB (C.7.6.3.1.5): values below the first mapped map to entry 0, above the last to the last. */
export function applyPalette(indexes: Uint8Array | Int8Array | Uint16Array | Int16Array, lut: PaletteLut): Uint8Array | Uint16Array {
  const count = indexes.length;
  const out = lut.bits === 8 ? new Uint8Array(count * 3) : new Uint16Array(count * 3);
  const last = lut.red.length - 1;
  for (let i = 0; i < count; i += 1) {
    let entry = (indexes[i] ?? 0) - lut.firstMapped;
    if (entry < 0) entry = 0;
    else if (entry > last) entry = last;
    out[3 * i] = lut.red[entry] ?? 0;
    out[3 * i + 1] = lut.green[entry] ?? 0;
    out[3 * i + 2] = lut.blue[entry] ?? 0;
  }
  return out;
}
