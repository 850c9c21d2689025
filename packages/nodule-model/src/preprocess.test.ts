import fs from 'node:fs';
import path from 'node:path';
import { defaultModelDir, loadModelManifest } from './manifest';
import { areaWeights, preprocessGray, squareAreaResize, squareGeometry } from './preprocess';
import { syntheticGray } from './synthetic';

interface ParityCase {
  spec: { width: number; height: number; seed: number };
  input_checksum: number;
  input_first: number[];
}

const parity = JSON.parse(fs.readFileSync(path.join(defaultModelDir(), 'parity.json'), 'utf8')) as { cases: ParityCase[] };

describe('area resize', () => {
  it.each([
    [300, 64],
    [64, 64],
    [37, 64],
    [517, 64],
  ])('weights of %i -> %i sum to 1 per output pixel', (src, dst) => {
    for (const row of areaWeights(src, dst)) {
      expect(row.weight.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    }
  });

  it('keeps a constant image constant and is the identity at the same size', () => {
    const flat = new Uint8Array(300 * 300).fill(77);
    for (const v of squareAreaResize(flat, 300, 300, 64).data) expect(v).toBeCloseTo(77, 4);
    const ramp = Uint8Array.from({ length: 16 }, (_, i) => i * 10);
    expect(Array.from(squareAreaResize(ramp, 4, 4, 4).data)).toEqual(Array.from(ramp));
  });

  it('pads non-square images to a centred square with black', () => {
    expect(squareGeometry(200, 100, 64)).toMatchObject({ side: 200, left: 0, top: 50 });
    const white = new Uint8Array(200 * 100).fill(255);
    const { data } = squareAreaResize(white, 200, 100, 4);
    expect(Array.from(data)).toEqual([0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0]);
  });

  it('rejects a buffer that does not match its size', () => {
    expect(() => squareAreaResize(new Uint8Array(10), 4, 4, 4)).toThrow(RangeError);
  });
});

describe('preprocessGray matches the Python training pipeline', () => {
  const { input } = loadModelManifest();
  it.each(parity.cases.map((c) => [`${c.spec.width}x${c.spec.height} seed ${c.spec.seed}`, c] as const))('%s', (_name, c) => {
    const { data } = preprocessGray(syntheticGray(c.spec), c.spec.width, c.spec.height, input);
    expect(data.length).toBe(input.size * input.size);
    c.input_first.forEach((v, i) => expect(Math.abs((data[i] ?? 0) - v)).toBeLessThan(1e-5));
    const sum = data.reduce((a, b) => a + b, 0);
    expect(Math.abs(sum - c.input_checksum)).toBeLessThan(1e-2);
  });
});
