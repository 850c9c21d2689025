import { describe, expect, it } from '@jest/globals';
import { paletteLuts } from './metadata';
import { lutValues, paletteToRgba, type PaletteTables } from './palette';

describe('PALETTE COLOR in the browser viewer', () => {
  const ramp = (n: number, f: (i: number) => number): Uint8Array => {
    const out = new Uint8Array(n * 2);
    for (let i = 0; i < n; i++) {
      out[2 * i] = f(i) & 0xff;
      out[2 * i + 1] = f(i) >> 8;
    }
    return out;
  };

  it('reads 16-bit and 8-bit LUT Data as 8-bit values', () => {
    expect(Array.from(lutValues(ramp(4, (i) => i * 0x4000 + 0xff), { entries: 4, bits: 16 }))).toEqual([0x00, 0x40, 0x80, 0xc0]);
    expect(Array.from(lutValues(ramp(3, (i) => i * 100), { entries: 3, bits: 8 }))).toEqual([0, 100, 200]);
    expect(Array.from(lutValues(Uint8Array.from([7, 8, 9]), { entries: 3, bits: 8 }))).toEqual([7, 8, 9]);
  });

  it('looks 8- and 16-bit indexes up, clamping below the first mapped value and past the end', () => {
    const table = (values: number[], firstMapped = 0): PaletteTables['red'] => ({ firstMapped, values: Uint8Array.from(values) });
    const tables: PaletteTables = { red: table([10, 20, 30], 1), green: table([1, 2, 3], 1), blue: table([0, 0, 255], 1) };
    expect(Array.from(paletteToRgba(Uint8Array.from([0, 1, 3, 9]), 4, 8, tables))).toEqual([10, 1, 0, 255, 10, 1, 0, 255, 30, 3, 255, 255, 30, 3, 255, 255]);
    expect(Array.from(paletteToRgba(Uint8Array.from([2, 0]), 1, 16, tables))).toEqual([20, 2, 0, 255]);
    expect(() => paletteToRgba(Uint8Array.from([1]), 2, 8, tables)).toThrow('shorter');
  });

  it('finds inline and bulk data tables in the metadata, and none for segmented-only palettes', () => {
    const json = {
      '00280004': { vr: 'CS', Value: ['PALETTE COLOR'] },
      '00281101': { vr: 'US', Value: [0, 0, 16] },
      '00281102': { vr: 'US', Value: [256, 0, 16] },
      '00281103': { vr: 'US', Value: [256, 0, 16] },
      '00281201': { vr: 'OW', BulkDataURI: 'http://x/dicomweb/studies/1/series/2/instances/3/bulkdata/00281201' },
      '00281202': { vr: 'OW', InlineBinary: 'AAA=' },
      '00281203': { vr: 'OW', InlineBinary: 'AAA=' },
    };
    const luts = paletteLuts(json);
    expect(luts?.red).toEqual({ entries: 65536, firstMapped: 0, bits: 16, inline: null, bulkDataUri: 'http://x/dicomweb/studies/1/series/2/instances/3/bulkdata/00281201' });
    expect(luts?.green.inline).toBe('AAA=');
    expect(paletteLuts({ '00281101': { vr: 'US', Value: [256, 0, 16] }, '00281221': { vr: 'OW', InlineBinary: 'AAA=' } })).toBeNull();
  });
});
