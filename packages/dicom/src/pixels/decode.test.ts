/**
 * Decoding generated fixtures with known pixel values, one per photometric interpretation and
 * transfer syntax an ultrasound device sends; corrupt streams fail with a typed, readable reason.
 */
import { TransferSyntax, parseInstance } from '../index';
import type { ParsedInstance } from '../index';
import { expectedFrame, makeInstance } from '../testing';
import type { InstanceOptions, PixelPattern } from '../testing';
import { PixelDecodeError, decodeFrame, encodeNativeFrame, nativeAttributes, sampleFrameIndices, toGray8, toRgb8, toRgba8 } from './index';
import type { DecodedFrame } from './index';

async function decode(options: InstanceOptions, frame = 0): Promise<DecodedFrame> {
  const bytes = makeInstance(options);
  return decodeFrame(bytes, parseInstance(bytes), frame);
}

/** Pattern values, colour-by-pixel, for `frame`. */
function patternValues(options: InstanceOptions & { pixelPattern: PixelPattern }, samples: number, frame = 0): number[] {
  const out: number[] = [];
  for (let r = 0; r < (options.rows ?? 16); r += 1) {
    for (let c = 0; c < (options.columns ?? 16); c += 1) {
      for (let s = 0; s < samples; s += 1) out.push(options.pixelPattern(frame, r, c, s));
    }
  }
  return out;
}

/** PS3.3 C.7.6.3.1.2, written out independently of colour.ts. */
function ybrToRgb(y: number, cb: number, cr: number): number[] {
  const clamp = (v: number): number => Math.min(255, Math.max(0, Math.round(v)));
  return [clamp(y + 1.402 * (cr - 128)), clamp(y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128)), clamp(y + 1.772 * (cb - 128))];
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i += 1) worst = Math.max(worst, Math.abs((actual[i] ?? 0) - (expected[i] ?? 0)));
  expect(worst).toBeLessThanOrEqual(tolerance);
}

const mono8: PixelPattern = (f, r, c) => (f * 40 + r * 13 + c * 7) & 0xff;
const mono16: PixelPattern = (f, r, c) => f * 1000 + r * 3001 + c * 17;
const rgb: PixelPattern = (f, r, c, s) => (f * 9 + r * 11 + c * 5 + s * 70) & 0xff;

describe('native (Explicit VR Little Endian)', () => {
  test('MONOCHROME2 8-bit: stored values', async () => {
    const options = { pixelPattern: mono8, rows: 12, columns: 10 };
    const frame = await decode(options);
    expect(frame).toMatchObject({ width: 10, height: 12, samplesPerPixel: 1, bitsAllocated: 8, signed: false, photometric: 'MONOCHROME2' });
    expect(frame.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(frame.data)).toEqual(Array.from(expectedFrame(options, 0)));
    expect(Array.from(toGray8(frame).data)).toEqual(Array.from(frame.data)); // plain 8-bit: unchanged
  });

  test('MONOCHROME2 16-bit unsigned', async () => {
    const options = { pixelPattern: mono16, bitsAllocated: 16 as const };
    const frame = await decode(options);
    expect(frame.data).toBeInstanceOf(Uint16Array);
    expect(Array.from(frame.data)).toEqual(patternValues(options, 1));
  });

  test('MONOCHROME2 16-bit signed, BitsStored 12: sign-extended, bits above HighBit ignored', async () => {
    const pattern: PixelPattern = (_f, r, c) => r * 40 + c * 3 - 300;
    // The writer stores value & 0xffff; set garbage in bit 12-15 of positives to prove they are masked.
    const stored: PixelPattern = (f, r, c) => {
      const v = pattern(f, r, c, 0);
      return v >= 0 ? v | 0x7000 : v;
    };
    const frame = await decode({ pixelPattern: stored, bitsAllocated: 16, bitsStored: 12, pixelRepresentation: 1 });
    expect(frame.signed).toBe(true);
    expect(frame.data).toBeInstanceOf(Int16Array);
    expect(Array.from(frame.data)).toEqual(patternValues({ pixelPattern: pattern }, 1));
    expect(nativeAttributes(frame)).toMatchObject({ BitsStored: 12, HighBit: 11, PixelRepresentation: 1 });
  });

  test('MONOCHROME1 is returned as stored and inverted by toGray8', async () => {
    const options = { pixelPattern: mono8, photometric: 'MONOCHROME1' as const };
    const frame = await decode(options);
    expect(frame.photometric).toBe('MONOCHROME1');
    expect(Array.from(frame.data)).toEqual(Array.from(expectedFrame(options, 0)));
    expect(Array.from(toGray8(frame).data)).toEqual(Array.from(frame.data, (v) => 255 - v));
  });

  test.each([0, 1] as const)('RGB 8-bit, PlanarConfiguration %i: interleaved RGB', async (planarConfiguration) => {
    const frame = await decode({ pixelPattern: rgb, photometric: 'RGB', planarConfiguration });
    expect(frame).toMatchObject({ samplesPerPixel: 3, photometric: 'RGB', bitsAllocated: 8 });
    expect(Array.from(frame.data)).toEqual(patternValues({ pixelPattern: rgb }, 3));
  });

  test('RGB 16-bit, PlanarConfiguration 1', async () => {
    const wide: PixelPattern = (f, r, c, s) => r * 1000 + c * 10 + s;
    const frame = await decode({ pixelPattern: wide, photometric: 'RGB', bitsAllocated: 16, planarConfiguration: 1 });
    expect(frame.data).toBeInstanceOf(Uint16Array);
    expect(Array.from(frame.data)).toEqual(patternValues({ pixelPattern: wide }, 3));
    // toRgb8 keeps the 8 most significant of the 16 stored bits.
    expect(Array.from(toRgb8(frame).data.subarray(0, 3))).toEqual([0, 0, 0]);
  });

  test('YBR_FULL is converted to RGB', async () => {
    const frame = await decode({ pixelPattern: rgb, photometric: 'YBR_FULL' });
    const ybr = patternValues({ pixelPattern: rgb }, 3);
    const expected: number[] = [];
    for (let i = 0; i < ybr.length; i += 3) expected.push(...ybrToRgb(ybr[i]!, ybr[i + 1]!, ybr[i + 2]!));
    expect(frame.photometric).toBe('RGB');
    expectClose(frame.data, expected, 1);
  });

  test('YBR_FULL_422: two Y and one Cb Cr per pixel pair, converted to RGB', async () => {
    const frame = await decode({ pixelPattern: rgb, photometric: 'YBR_FULL_422', rows: 4, columns: 6 });
    const expected: number[] = [];
    for (let r = 0; r < 4; r += 1) {
      for (let c = 0; c < 6; c += 1) {
        const pair = c - (c % 2);
        expected.push(...ybrToRgb(rgb(0, r, c, 0), rgb(0, r, pair, 1), rgb(0, r, pair, 2)));
      }
    }
    expect(frame).toMatchObject({ width: 6, height: 4, samplesPerPixel: 3, photometric: 'RGB' });
    expectClose(frame.data, expected, 1);
  });

  test('PALETTE COLOR, 8-bit indexes, 16-bit LUT entries: RGB through the LUT', async () => {
    const red = Array.from({ length: 256 }, (_, i) => i * 257);
    const green = Array.from({ length: 256 }, (_, i) => (255 - i) * 257);
    const blue = Array.from({ length: 256 }, (_, i) => 0x8000 + i);
    const options: InstanceOptions = { pixelPattern: mono8, photometric: 'PALETTE COLOR', palette: { red, green, blue } };
    const frame = await decode(options);
    const indexes = Array.from(expectedFrame(options, 0));
    expect(frame).toMatchObject({ samplesPerPixel: 3, bitsAllocated: 16, photometric: 'RGB' });
    expect(Array.from(frame.data)).toEqual(indexes.flatMap((i) => [red[i], green[i], blue[i]]));
    expect(Array.from(toRgb8(frame).data.subarray(0, 3))).toEqual([red[indexes[0]!]! >> 8, green[indexes[0]!]! >> 8, blue[indexes[0]!]! >> 8]);

    const bytes = makeInstance(options);
    const kept = await decodeFrame(bytes, parseInstance(bytes), 0, { applyPalette: false });
    expect(kept.photometric).toBe('PALETTE COLOR');
    expect(Array.from(kept.data)).toEqual(indexes);
  });

  test('PALETTE COLOR with a first mapped value: indexes below it take entry 0', async () => {
    const entries = Array.from({ length: 16 }, (_, i) => i * 10);
    const frame = await decode({ pixelPattern: (_f, _r, c) => c, columns: 20, rows: 1, photometric: 'PALETTE COLOR', palette: { red: entries, green: entries, blue: entries, firstMapped: 2, bits: 8 } });
    expect(frame.bitsAllocated).toBe(8);
    const red = Array.from({ length: 20 }, (_, c) => frame.data[3 * c]);
    expect(red).toEqual(Array.from({ length: 20 }, (_, c) => Math.min(15, Math.max(0, c - 2)) * 10));
  });
});

describe('RLE Lossless', () => {
  test.each([
    ['MONOCHROME2 8-bit', { pixelPattern: mono8 }, 1],
    ['MONOCHROME2 16-bit', { pixelPattern: mono16, bitsAllocated: 16 as const }, 1],
    ['RGB 8-bit', { pixelPattern: rgb, photometric: 'RGB' as const }, 3],
    ['RGB 16-bit', { pixelPattern: (f: number, r: number, c: number, s: number) => r * 1000 + c * 10 + s, photometric: 'RGB' as const, bitsAllocated: 16 as const }, 3],
  ])('%s decodes to the native values', async (_name, base, samples) => {
    const options: InstanceOptions & { pixelPattern: PixelPattern } = { ...base, transferSyntax: TransferSyntax.RLELossless, rows: 9, columns: 300 };
    const frame = await decode(options);
    expect(Array.from(frame.data)).toEqual(patternValues(options, samples));
  });

  test('YBR_FULL RLE is converted to RGB', async () => {
    const frame = await decode({ pixelPattern: rgb, photometric: 'YBR_FULL', transferSyntax: TransferSyntax.RLELossless });
    const ybr = patternValues({ pixelPattern: rgb }, 3);
    const expected: number[] = [];
    for (let i = 0; i < ybr.length; i += 3) expected.push(...ybrToRgb(ybr[i]!, ybr[i + 1]!, ybr[i + 2]!));
    expectClose(frame.data, expected, 1);
  });

  test('multi-frame: each frame decodes to its own values', async () => {
    const options = { pixelPattern: mono8, transferSyntax: TransferSyntax.RLELossless, frames: 4 };
    const bytes = makeInstance(options);
    const parsed = parseInstance(bytes);
    for (const k of [0, 3]) expect(Array.from((await decodeFrame(bytes, parsed, k)).data)).toEqual(Array.from(expectedFrame(options, k)));
  });
});

describe('JPEG Baseline', () => {
  test('MONOCHROME2: every 8x8 block decodes to its value exactly', async () => {
    const options = { pixelPattern: mono8, transferSyntax: TransferSyntax.JPEGBaseline, rows: 24, columns: 40, frames: 3 };
    const frame = await decode(options, 2);
    expect(frame).toMatchObject({ width: 40, height: 24, samplesPerPixel: 1, bitsAllocated: 8, photometric: 'MONOCHROME2' });
    const expected: number[] = [];
    for (let r = 0; r < 24; r += 1) for (let c = 0; c < 40; c += 1) expected.push(mono8(2, r & ~7, c & ~7, 0));
    expect(Array.from(frame.data)).toEqual(expected);
  });

  test('YBR_FULL: libjpeg converts to RGB', async () => {
    const options = { pixelPattern: rgb, transferSyntax: TransferSyntax.JPEGBaseline, photometric: 'YBR_FULL' as const, fragmentsPerFrame: 3 };
    const frame = await decode(options);
    const expected: number[] = [];
    for (let r = 0; r < 16; r += 1) {
      for (let c = 0; c < 16; c += 1) expected.push(...ybrToRgb(rgb(0, r & ~7, c & ~7, 0), rgb(0, r & ~7, c & ~7, 1), rgb(0, r & ~7, c & ~7, 2)));
    }
    expect(frame.photometric).toBe('RGB');
    expectClose(frame.data, expected, 2);
  });
});

describe('8-bit renderings', () => {
  test('16-bit grayscale uses the dataset window in rescaled units (PS3.3 C.11.2.1.2.1)', async () => {
    const frame = await decode({
      pixelPattern: (_f, _r, c) => c * 100,
      rows: 1,
      columns: 16,
      bitsAllocated: 16,
      extra: { WindowCenter: '0', WindowWidth: '1001', RescaleIntercept: '-700', RescaleSlope: '1' },
    });
    expect(frame.window).toEqual({ center: 0, width: 1001 });
    // x = c*100 - 700; window [-500, 500]: 0 at or below -500.5, 255 above 499.5.
    const gray = Array.from(toGray8(frame).data);
    expect(gray.slice(0, 3)).toEqual([0, 0, 0]);
    expect(gray[7]).toBe(Math.round(((0 + 0.5) / 1000 + 0.5) * 255)); // x = 0
    expect(gray.slice(12)).toEqual([255, 255, 255, 255]);
    // An explicit window wins over the dataset's.
    expect(toGray8(frame, { center: 800, width: 2 }).data[15]).toBe(255);
  });

  test('16-bit grayscale without a window is stretched from min to max', async () => {
    const frame = await decode({ pixelPattern: (_f, _r, c) => 1000 + c * 10, rows: 1, columns: 16, bitsAllocated: 16 });
    const gray = toGray8(frame).data;
    expect(gray[0]).toBe(0);
    expect(gray[15]).toBe(255);
  });

  test('colour to gray is BT.601 luma; RGBA has opaque alpha', async () => {
    const frame = await decode({ pixelPattern: (_f, _r, _c, s) => [200, 100, 50][s]!, rows: 2, columns: 2, photometric: 'RGB' });
    expect(Array.from(toGray8(frame).data)).toEqual([4, 4, 4, 4].map(() => Math.round(0.299 * 200 + 0.587 * 100 + 0.114 * 50)));
    expect(Array.from(toRgba8(frame).data.subarray(0, 8))).toEqual([200, 100, 50, 255, 200, 100, 50, 255]);
    expect(Array.from(toRgb8(frame).data.subarray(0, 3))).toEqual([200, 100, 50]);
  });
});

describe('encodeNativeFrame (WADO-RS transcoding to Explicit VR LE)', () => {
  test.each([
    ['MONOCHROME2 16-bit', { pixelPattern: mono16, bitsAllocated: 16 as const }],
    ['RGB 8-bit from RLE', { pixelPattern: rgb, photometric: 'RGB' as const, transferSyntax: TransferSyntax.RLELossless }],
  ])('%s: the native bytes makeInstance writes', async (_name, options) => {
    const frame = await decode(options);
    expect(Buffer.from(encodeNativeFrame(frame)).equals(Buffer.from(expectedFrame({ ...options, transferSyntax: undefined }, 0)))).toBe(true);
  });
});

describe('sampleFrameIndices', () => {
  test.each([
    [1, 5, [0]],
    [4, 5, [0, 1, 2, 3]],
    [10, 3, [0, 4, 9]],
    [96, 4, [0, 47, 63, 95]],
    [100, 5, [0, 25, 49, 74, 99]],
    [7, 1, [3]],
    [0, 4, []],
    [5, 0, []],
  ])('%i frames, at most %i: %j', (count, max, expected) => {
    const indices = sampleFrameIndices(count, max);
    expect(indices).toEqual(expected);
    expect(sampleFrameIndices(count, max)).toEqual(indices);
  });

  test('always the first and the middle frame, at most max, increasing', () => {
    for (let count = 2; count < 60; count += 1) {
      for (let max = 2; max < 12; max += 1) {
        const indices = sampleFrameIndices(count, max);
        expect(indices.length).toBe(Math.min(count, max));
        expect(indices[0]).toBe(0);
        expect(indices).toContain(Math.floor((count - 1) / 2));
        expect([...indices].sort((a, b) => a - b)).toEqual(indices);
        expect(new Set(indices).size).toBe(indices.length);
      }
    }
  });
});

describe('failures are typed and readable', () => {
  async function failure(bytes: Buffer, parsed: ParsedInstance, frame = 0): Promise<PixelDecodeError> {
    const error: unknown = await decodeFrame(bytes, parsed, frame).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PixelDecodeError);
    const typed = error as PixelDecodeError;
    expect(typed.retryable).toBe(false);
    expect(typed.code).toBe('unprocessable');
    return typed;
  }

  test('a truncated JPEG fragment', async () => {
    const bytes = makeInstance({ transferSyntax: TransferSyntax.JPEGBaseline, rows: 64, columns: 64 });
    const parsed = parseInstance(bytes);
    const frame = parsed.frames[0]!;
    const cut = Math.floor(frame.length / 3);
    const truncated = { ...parsed, frames: [{ offset: frame.offset, length: cut, fragments: [{ offset: frame.offset, length: cut }] }] };
    const error = await failure(bytes, truncated);
    expect(error.reason).toBe('corrupt');
    expect(error.message).toMatch(/JPEG codestream cannot be decoded/);
  });

  test('a garbage RLE header', async () => {
    const bytes = makeInstance({ transferSyntax: TransferSyntax.RLELossless });
    const parsed = parseInstance(bytes);
    bytes.fill(0x7f, parsed.frames[0]!.offset, parsed.frames[0]!.offset + 64);
    const error = await failure(bytes, parsed);
    expect(error.reason).toBe('corrupt');
    expect(error.message).toMatch(/RLE header declares \d+ segments/);
  });

  test('an RLE segment that ends early', async () => {
    const bytes = makeInstance({ transferSyntax: TransferSyntax.RLELossless, pixelPattern: mono8 });
    const parsed = parseInstance(bytes);
    const frame = parsed.frames[0]!;
    const short = { ...parsed, frames: [{ offset: frame.offset, length: 80, fragments: [{ offset: frame.offset, length: 80 }] }] };
    expect((await failure(bytes, short)).message).toMatch(/RLE segment decodes to \d+ bytes/);
  });

  test('no pixel data, or a frame that does not exist', async () => {
    const none = makeInstance({ noPixelData: true });
    expect((await failure(none, parseInstance(none))).reason).toBe('no_pixel_data');
    const bytes = makeInstance({ frames: 2 });
    expect((await failure(bytes, parseInstance(bytes), 2)).reason).toBe('no_pixel_data');
  });

  test('an unsupported transfer syntax names it', async () => {
    const bytes = makeInstance({ transferSyntax: TransferSyntax.JPEGBaseline });
    const parsed = { ...parseInstance(bytes), transferSyntaxUid: '1.2.840.10008.1.2.4.102' };
    const error = await failure(bytes, parsed);
    expect(error.reason).toBe('unsupported_syntax');
    expect(error.message).toContain('1.2.840.10008.1.2.4.102');
  });
});
