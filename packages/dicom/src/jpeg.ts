/**
 * A tiny baseline JPEG (ITU-T T.81 process 1) encoder for test fixtures: 8-bit, 1 or 3 components,
 * no subsampling, quantisation table of ones, and DC coefficients only. Every 8x8 block therefore
 * decodes to exactly one value (the block's value), so decoders can be checked against known pixels
 * without any lossy tolerance. Not meant for real images.
 */

// ITU-T T.81 Annex K.3, Table K.3: luminance DC differences, categories 0..11.
const DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_VALUES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

function canonicalCodes(bits: number[], values: number[]): Map<number, { code: number; length: number }> {
  const table = new Map<number, { code: number; length: number }>();
  let code = 0;
  let k = 0;
  for (let length = 1; length <= 16; length += 1) {
    const count = bits[length - 1] ?? 0;
    for (let i = 0; i < count; i += 1) {
      const symbol = values[k];
      if (symbol !== undefined) table.set(symbol, { code, length });
      code += 1;
      k += 1;
    }
    code <<= 1;
  }
  return table;
}

const DC_CODES = canonicalCodes(DC_BITS, DC_VALUES);

class BitWriter {
  private readonly bytes: number[] = [];
  private accumulator = 0;
  private count = 0;

  write(value: number, length: number): void {
    for (let i = length - 1; i >= 0; i -= 1) {
      this.accumulator = (this.accumulator << 1) | ((value >> i) & 1);
      this.count += 1;
      if (this.count === 8) this.flushByte();
    }
  }

  private flushByte(): void {
    this.bytes.push(this.accumulator);
    if (this.accumulator === 0xff) this.bytes.push(0x00); // byte stuffing, T.81 F.1.2.3
    this.accumulator = 0;
    this.count = 0;
  }

  finish(): number[] {
    while (this.count !== 0) this.write(1, 1); // pad with 1-bits
    return this.bytes;
  }
}

function segment(marker: number, payload: number[]): number[] {
  const length = payload.length + 2;
  return [0xff, marker, length >> 8, length & 0xff, ...payload];
}

/**
 * Encodes `blockValue(block row, block column, component)` (0..255) as a baseline JPEG of the given
 * size; each 8x8 block decodes to that value.
 */
export function encodeDcOnlyJpeg(
  rows: number,
  columns: number,
  components: 1 | 3,
  blockValue: (blockRow: number, blockColumn: number, component: number) => number,
): Uint8Array {
  const out: number[] = [0xff, 0xd8];
  out.push(...segment(0xdb, [0x00, ...new Array<number>(64).fill(1)]));
  const sof: number[] = [8, rows >> 8, rows & 0xff, columns >> 8, columns & 0xff, components];
  for (let c = 0; c < components; c += 1) sof.push(c + 1, 0x11, 0);
  out.push(...segment(0xc0, sof));
  out.push(...segment(0xc4, [0x00, ...DC_BITS, ...DC_VALUES]));
  // A one-symbol AC table: only EOB (0x00), code '0'.
  out.push(...segment(0xc4, [0x10, 1, ...new Array<number>(15).fill(0), 0x00]));
  const sos: number[] = [components];
  for (let c = 0; c < components; c += 1) sos.push(c + 1, 0x00);
  sos.push(0, 63, 0);
  out.push(...segment(0xda, sos));

  const writer = new BitWriter();
  const previous = new Array<number>(components).fill(0);
  const blockRows = Math.ceil(rows / 8);
  const blockColumns = Math.ceil(columns / 8);
  for (let br = 0; br < blockRows; br += 1) {
    for (let bc = 0; bc < blockColumns; bc += 1) {
      for (let c = 0; c < components; c += 1) {
        const value = Math.max(0, Math.min(255, Math.round(blockValue(br, bc, c))));
        const dc = 8 * (value - 128); // level shift then FDCT of a flat block, T.81 A.3.3
        const diff = dc - (previous[c] ?? 0);
        previous[c] = dc;
        const magnitude = Math.abs(diff);
        const category = magnitude === 0 ? 0 : Math.floor(Math.log2(magnitude)) + 1;
        const code = DC_CODES.get(category);
        if (code === undefined) throw new RangeError(`DC difference ${diff} out of range`);
        writer.write(code.code, code.length);
        if (category > 0) writer.write(diff < 0 ? diff + (1 << category) - 1 : diff, category);
        writer.write(0, 1); // EOB
      }
    }
  }
  out.push(...writer.finish(), 0xff, 0xd9);
  return Uint8Array.from(out);
}
