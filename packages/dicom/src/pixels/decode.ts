/**
 * Pixel data decoding (PS3.5 section 8 and Annex A.4, PS3.3 C.7.6.3): one frame of any transfer
 * syntax an ultrasound device sends, as interleaved samples with colour converted to RGB. Stored
 * values are kept as they are: no Modality LUT, no VOI LUT, MONOCHROME1 not inverted (display.ts
 * does that for 8-bit output). What is not decoded is refused with a PixelDecodeError naming why.
 */
import type { ParsedInstance } from '../parse';
import { readFrame } from '../parse';
import { TransferSyntax } from '../uids';
import { readPalette, readPixelModule } from './attributes';
import type { PixelModule } from './attributes';
import { decodeJpeg, decodeJpeg2000, decodeJpegLossless, decodeJpegLs } from './codecs';
import type { CodecOutput } from './codecs';
import { applyPalette, expandYbr422, ybrFullToRgb } from './colour';
import { PixelDecodeError } from './errors';
import { libjpegConvertsColour, readJpegHeader, withoutColourConversion } from './jpeg-markers';
import { decodeRle } from './rle';

export type PixelData = Uint8Array | Int8Array | Uint16Array | Int16Array;

export interface DecodedFrame {
  width: number;
  height: number;
  samplesPerPixel: 1 | 3;
  bitsAllocated: 8 | 16;
  /** Significant bits of each sample (BitsStored; 8 or 16 for palette output). */
  bitsStored: number;
  signed: boolean;
  /**
   * Interleaved samples, row by row. MONOCHROME: the stored values (BitsStored, sign-extended when
   * signed), MONOCHROME1 not inverted. Colour: RGB (YBR_* converted, PALETTE COLOR looked up,
   * colour-by-plane interleaved).
   */
  data: PixelData;
  /** Of the output: 'PALETTE COLOR' only when decoded with { applyPalette: false }. */
  photometric: 'MONOCHROME1' | 'MONOCHROME2' | 'RGB' | 'PALETTE COLOR';
  /** Modality LUT (C.11.1): output units = stored * slope + intercept. */
  rescale: { slope: number; intercept: number };
  /** The dataset's first window (C.11.2), in rescaled units; null when it has none. */
  window: { center: number; width: number } | null;
}

export interface DecodeOptions {
  /** Look PALETTE COLOR indexes up into RGB (default true); false keeps the indexes (for transcoding). */
  applyPalette?: boolean;
}

/** Samples after decompression, before colour conversion: little-endian bytes, interleaved. */
interface Raw {
  bytes: Uint8Array;
  samples: number;
  bytesPerSample: 1 | 2;
  /** The photometric interpretation the samples are now in. */
  photometric: string;
  /** The codec reported signed samples (JPEG 2000). */
  codecSigned: boolean;
}

const NATIVE = new Set<string>([
  TransferSyntax.ImplicitVRLittleEndian,
  TransferSyntax.ExplicitVRLittleEndian,
  TransferSyntax.DeflatedExplicitVRLittleEndian,
  TransferSyntax.ExplicitVRBigEndian,
]);

/** Decodes frame `frameIndex` (0-based) of a parsed instance. Throws PixelDecodeError. */
export async function decodeFrame(bytes: Uint8Array, parsed: ParsedInstance, frameIndex: number, options: DecodeOptions = {}): Promise<DecodedFrame> {
  const module = readPixelModule(parsed);
  if (!Number.isInteger(frameIndex) || frameIndex < 0 || frameIndex >= parsed.frames.length) {
    throw new PixelDecodeError('no_pixel_data', `Frame ${frameIndex} does not exist (the instance has ${parsed.frames.length}).`);
  }
  checkSupported(module);
  const frame = readFrame(bytes, parsed, frameIndex);
  const raw = await decompress(frame, module, parsed.transferSyntaxUid);
  return finish(raw, module, options, () => readPalette(bytes));
}

function checkSupported(module: PixelModule): void {
  if (module.bitsAllocated !== 8 && module.bitsAllocated !== 16) {
    throw new PixelDecodeError('unsupported_format', `BitsAllocated ${module.bitsAllocated} is not decoded (8 and 16 are).`);
  }
  if (module.samplesPerPixel !== 1 && module.samplesPerPixel !== 3) {
    throw new PixelDecodeError('unsupported_format', `SamplesPerPixel ${module.samplesPerPixel} is not decoded (1 and 3 are).`);
  }
}

async function decompress(frame: Uint8Array, module: PixelModule, syntax: string): Promise<Raw> {
  const bytesPerSample = module.bitsAllocated === 16 ? 2 : 1;
  if (NATIVE.has(syntax)) return native(frame, module, syntax === TransferSyntax.ExplicitVRBigEndian);
  switch (syntax) {
    case TransferSyntax.RLELossless:
      return {
        bytes: decodeRle(frame, module.rows, module.columns, module.samplesPerPixel, module.bitsAllocated),
        samples: module.samplesPerPixel,
        bytesPerSample,
        photometric: module.photometric,
        codecSigned: false,
      };
    case TransferSyntax.JPEGBaseline:
    case TransferSyntax.JPEGExtended:
      return jpeg(frame, module);
    case TransferSyntax.JPEGLossless:
    case TransferSyntax.JPEGLosslessSV1:
      return fromCodec(decodeJpegLossless(frame), module, module.photometric);
    case TransferSyntax.JPEGLSLossless:
    case TransferSyntax.JPEGLSNearLossless:
      return fromCodec(await decodeJpegLs(frame), module, module.photometric);
    case TransferSyntax.JPEG2000Lossless:
    case TransferSyntax.JPEG2000: {
      // YBR_ICT / YBR_RCT: the codestream's multi-component transform, undone by OpenJPEG.
      const photometric = module.photometric === 'YBR_ICT' || module.photometric === 'YBR_RCT' ? 'RGB' : module.photometric;
      return fromCodec(await decodeJpeg2000(frame), module, photometric);
    }
    default:
      throw new PixelDecodeError('unsupported_syntax', `Pixel data in transfer syntax ${syntax} is not decoded.`);
  }
}

function native(frame: Uint8Array, module: PixelModule, bigEndian: boolean): Raw {
  const { rows, columns, samplesPerPixel: samples } = module;
  const bytesPerSample = module.bitsAllocated === 16 ? 2 : 1;
  if (module.photometric === 'YBR_FULL_422' && samples === 3) {
    if (bytesPerSample !== 1) throw new PixelDecodeError('unsupported_format', 'Native YBR_FULL_422 is decoded at 8 bits only.');
    return { bytes: expandYbr422(frame, rows, columns), samples, bytesPerSample, photometric: 'YBR_FULL', codecSigned: false };
  }
  const length = rows * columns * samples * bytesPerSample;
  if (frame.length < length) throw new PixelDecodeError('inconsistent', `The frame holds ${frame.length} bytes; Rows x Columns x samples needs ${length}.`);
  // A view of the stored frame: samplesOf always writes the samples into an array of their own, so the
  // only step that changes bytes in place (the big-endian swap) works on a copy.
  let bytes: Uint8Array = frame.subarray(0, length);
  if (bigEndian && bytesPerSample === 2) {
    bytes = new Uint8Array(bytes);
    for (let i = 0; i + 1 < bytes.length; i += 2) {
      const a = bytes[i] ?? 0;
      bytes[i] = bytes[i + 1] ?? 0;
      bytes[i + 1] = a;
    }
  }
  if (samples === 3 && module.planarConfiguration === 1) bytes = interleave(bytes, rows * columns, bytesPerSample);
  return { bytes, samples, bytesPerSample, photometric: module.photometric, codecSigned: false };
}

/** Colour-by-plane (RRR..GGG..BBB..) to colour-by-pixel. */
function interleave(planar: Uint8Array, pixels: number, bytesPerSample: number): Uint8Array {
  const out = new Uint8Array(planar.length);
  for (let plane = 0; plane < 3; plane += 1) {
    for (let p = 0; p < pixels; p += 1) {
      for (let b = 0; b < bytesPerSample; b += 1) {
        out[(p * 3 + plane) * bytesPerSample + b] = planar[(plane * pixels + p) * bytesPerSample + b] ?? 0;
      }
    }
  }
  return out;
}

async function jpeg(frame: Uint8Array, module: PixelModule): Promise<Raw> {
  const header = readJpegHeader(frame);
  if (header === null) throw new PixelDecodeError('corrupt', 'The frame is not a JPEG codestream (no SOI and frame header).');
  if (header.precision > 8) {
    throw new PixelDecodeError('unsupported_syntax', `${header.precision}-bit JPEG (Extended, process 4) is not decoded; 8-bit JPEG is.`);
  }
  if (header.sof === 0xc3 || header.sof === 0xc7) return fromCodec(decodeJpegLossless(frame), module, module.photometric);
  let codestream = frame;
  let photometric = module.photometric;
  if (header.components === 3) {
    const converts = libjpegConvertsColour(header);
    if (module.photometric === 'RGB' && converts && header.adobeTransform === null) {
      // DICOM says the components are R, G, B and no Adobe marker says otherwise: decode them as
      // such (pydicom does the same), even where a JFIF marker claims YCbCr.
      codestream = withoutColourConversion(frame);
    } else if (converts) {
      photometric = 'RGB';
    } else if (module.photometric.startsWith('YBR_FULL')) {
      photometric = 'YBR_FULL'; // libjpeg leaves them as they are; converted in finish()
    }
  }
  return fromCodec(await decodeJpeg(codestream), module, photometric);
}

function fromCodec(output: CodecOutput, module: PixelModule, photometric: string): Raw {
  if (output.width === 0 || output.height === 0) throw new PixelDecodeError('corrupt', 'The codestream decodes to an empty image.');
  if (output.width !== module.columns || output.height !== module.rows || output.components !== module.samplesPerPixel) {
    throw new PixelDecodeError(
      'inconsistent',
      `The codestream is ${output.width}x${output.height} with ${output.components} components; the dataset says ${module.columns}x${module.rows} with ${module.samplesPerPixel}.`,
    );
  }
  const codecBytes = output.bitsPerSample > 8 ? 2 : 1;
  const bytesPerSample: 1 | 2 = module.bitsAllocated === 16 ? 2 : 1;
  if (codecBytes > bytesPerSample) {
    throw new PixelDecodeError('inconsistent', `The codestream has ${output.bitsPerSample}-bit samples; BitsAllocated is ${module.bitsAllocated}.`);
  }
  const pixels = output.width * output.height;
  const expected = pixels * output.components * codecBytes;
  if (output.bytes.length < expected) throw new PixelDecodeError('corrupt', 'The codec returned fewer samples than the image holds.');
  let bytes = output.bytes.subarray(0, expected);
  if (output.planar) bytes = interleave(bytes, pixels, codecBytes);
  if (codecBytes === 1 && bytesPerSample === 2) {
    const wide = new Uint8Array(bytes.length * 2);
    for (let i = 0; i < bytes.length; i += 1) wide[2 * i] = bytes[i] ?? 0;
    bytes = wide;
  }
  return { bytes, samples: output.components, bytesPerSample, photometric, codecSigned: output.signed };
}

function finish(raw: Raw, module: PixelModule, options: DecodeOptions, palette: () => ReturnType<typeof readPalette>): DecodedFrame {
  const signed = module.pixelRepresentation === 1 || raw.codecSigned;
  const data = samplesOf(raw, module.bitsStored, module.highBit, signed && raw.samples === 1);
  const base = {
    width: module.columns,
    height: module.rows,
    bitsAllocated: module.bitsAllocated === 16 ? (16 as const) : (8 as const),
    rescale: module.rescale,
    window: module.window,
  };
  if (raw.samples === 1) {
    if (raw.photometric === 'MONOCHROME1' || raw.photometric === 'MONOCHROME2') {
      return { ...base, samplesPerPixel: 1, bitsStored: module.bitsStored, signed: signed, data, photometric: raw.photometric };
    }
    if (raw.photometric === 'PALETTE COLOR') {
      if (options.applyPalette === false) {
        return { ...base, samplesPerPixel: 1, bitsStored: module.bitsStored, signed: false, data, photometric: 'PALETTE COLOR' };
      }
      const lut = palette();
      const rgb = applyPalette(data, lut);
      return { ...base, samplesPerPixel: 3, bitsAllocated: lut.bits, bitsStored: lut.bits, signed: false, data: rgb, photometric: 'RGB', rescale: { slope: 1, intercept: 0 }, window: null };
    }
    throw new PixelDecodeError('unsupported_format', `PhotometricInterpretation ${raw.photometric} with one sample per pixel is not decoded.`);
  }
  const colour = { ...base, samplesPerPixel: 3 as const, bitsStored: module.bitsStored, signed: false, photometric: 'RGB' as const, rescale: { slope: 1, intercept: 0 }, window: null };
  if (raw.photometric === 'RGB') return { ...colour, data };
  if (raw.photometric === 'YBR_FULL' || raw.photometric === 'YBR_FULL_422') {
    if (!(data instanceof Uint8Array)) throw new PixelDecodeError('unsupported_format', 'YBR_FULL colour is decoded at 8 bits only.');
    ybrFullToRgb(data);
    return { ...colour, data };
  }
  throw new PixelDecodeError('unsupported_format', `PhotometricInterpretation ${raw.photometric} is not decoded.`);
}

/**
 * Little-endian samples to a typed array holding BitsStored-bit values (PS3.5 8.1.1: the stored bits
 * end at HighBit; bits above are not pixel data and are masked away), sign-extended when signed.
 */
function samplesOf(raw: Raw, bitsStored: number, highBit: number, signed: boolean): PixelData {
  const count = raw.bytes.length / raw.bytesPerSample;
  const bits = raw.bytesPerSample * 8;
  const stored = Math.min(bitsStored, bits);
  const shift = Math.max(0, Math.min(highBit + 1 - stored, bits - stored));
  const mask = stored >= 32 ? 0xffffffff : 2 ** stored - 1;
  const signBit = 2 ** (stored - 1);
  const needsWork = stored < bits || shift > 0;
  if (raw.bytesPerSample === 1) {
    const out = signed ? new Int8Array(count) : new Uint8Array(count);
    for (let i = 0; i < count; i += 1) {
      let v = ((raw.bytes[i] ?? 0) >> shift) & mask;
      if (signed && v >= signBit) v -= 2 * signBit;
      out[i] = v;
    }
    return out;
  }
  const view = new DataView(raw.bytes.buffer, raw.bytes.byteOffset, raw.bytes.byteLength);
  const out = signed ? new Int16Array(count) : new Uint16Array(count);
  for (let i = 0; i < count; i += 1) {
    let v = view.getUint16(2 * i, true);
    if (needsWork) v = (v >> shift) & mask;
    if (signed && v >= signBit) v -= 2 * signBit;
    out[i] = v;
  }
  return out;
}
