/**
 * The compressed-syntax decoders, each loaded once on first use (the WebAssembly codecs compile
 * asynchronously): libjpeg-turbo for JPEG Baseline/Extended 8-bit (PS3.5 A.4.1, ISO 10918-1 processes
 * 1 and 2), jpeg-lossless-decoder-js for JPEG Lossless (process 14), CharLS for JPEG-LS (A.4.3,
 * ISO 14495-1) and OpenJPEG for JPEG 2000 (A.4.4, ISO 15444-1). Codec failures (Emscripten throws bare
 * numbers) become PixelDecodeError('corrupt').
 */
import libjpegFactory from '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs';
import charlsFactory from '@cornerstonejs/codec-charls/decodewasmjs';
import openjpegFactory from '@cornerstonejs/codec-openjpeg/decodewasmjs';
import { Decoder as LosslessDecoder } from 'jpeg-lossless-decoder-js';
import { PixelDecodeError } from './errors';

export interface CodecOutput {
  width: number;
  height: number;
  components: number;
  bitsPerSample: number;
  signed: boolean;
  /** Samples as the codec returns them (little-endian bytes for > 8 bits). */
  bytes: Uint8Array;
  /** True when components are stored plane after plane rather than interleaved. */
  planar: boolean;
}

interface FrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned?: boolean;
}

/** The shape shared by the Cornerstone codec decoder classes. */
interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): FrameInfo;
  getInterleaveMode?: () => number;
  delete(): void;
}

type DecoderClass = new () => WasmDecoder;

function isRecord(value: unknown): value is Record<string, unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null;
}

function decoderClass(module: unknown, name: string): DecoderClass {
  if (!isRecord(module) || typeof module[name] !== 'function') {
    throw new Error(`The ${name} codec module did not load as expected.`);
  }
  return module[name] as DecoderClass;
}

// Emscripten writes codec warnings to stdout/stderr; failures surface as exceptions instead.
const quiet = { print: (): void => undefined, printErr: (): void => undefined };

const loaded = new Map<string, Promise<DecoderClass>>();

function load(name: string, factory: () => Promise<unknown>): Promise<DecoderClass> {
  let promise = loaded.get(name);
  if (promise === undefined) {
    promise = factory().then((module) => decoderClass(module, name));
    // A failed load is not cached, so a transient failure (memory) can be retried.
    void promise.catch(() => loaded.delete(name));
    loaded.set(name, promise);
  }
  return promise;
}

function codecMessage(error: unknown): string {
  return error instanceof Error ? error.message : `codec error ${String(error)}`;
}

function runWasm(Decoder: DecoderClass, codestream: Uint8Array, what: string): CodecOutput {
  const decoder = new Decoder();
  try {
    decoder.getEncodedBuffer(codestream.length).set(codestream);
    decoder.decode();
    const info = decoder.getFrameInfo();
    // The decoded buffer is a view into WebAssembly memory: copy it out before delete().
    const bytes = new Uint8Array(decoder.getDecodedBuffer());
    const planar = decoder.getInterleaveMode !== undefined && info.componentCount > 1 && decoder.getInterleaveMode() === 0;
    return {
      width: info.width,
      height: info.height,
      components: info.componentCount,
      bitsPerSample: info.bitsPerSample,
      signed: info.isSigned === true,
      bytes,
      planar,
    };
  } catch (error) {
    throw new PixelDecodeError('corrupt', `The ${what} codestream cannot be decoded (${codecMessage(error)}).`, { cause: error });
  } finally {
    decoder.delete();
  }
}

export async function decodeJpeg(codestream: Uint8Array): Promise<CodecOutput> {
  const Decoder = await load('JPEGDecoder', () => libjpegFactory(quiet));
  return runWasm(Decoder, codestream, 'JPEG');
}

export async function decodeJpegLs(codestream: Uint8Array): Promise<CodecOutput> {
  const Decoder = await load('JpegLSDecoder', () => charlsFactory(quiet));
  return runWasm(Decoder, codestream, 'JPEG-LS');
}

export async function decodeJpeg2000(codestream: Uint8Array): Promise<CodecOutput> {
  const Decoder = await load('J2KDecoder', () => openjpegFactory(quiet));
  return runWasm(Decoder, codestream, 'JPEG 2000');
}

interface LosslessInstance {
  decode(buffer: ArrayBuffer, offset: number, length: number, numBytes?: number): Uint8Array | Uint16Array;
  xDim: number;
  yDim: number;
  numComp: number;
  precision: number;
}

function isLosslessInstance(value: unknown): value is LosslessInstance {
  return isRecord(value) && typeof value.decode === 'function';
}

/** JPEG Lossless, non-hierarchical (process 14), any selection value. Pure JavaScript. */
export function decodeJpegLossless(codestream: Uint8Array): CodecOutput {
  const decoder: unknown = new LosslessDecoder();
  if (!isLosslessInstance(decoder)) throw new Error('jpeg-lossless-decoder-js did not load as expected.');
  let samples: Uint8Array | Uint16Array;
  try {
    // The decoder reads with a DataView, so it takes the ArrayBuffer plus an offset and a length.
    samples = decoder.decode(codestream.buffer as ArrayBuffer, codestream.byteOffset, codestream.byteLength);
  } catch (error) {
    throw new PixelDecodeError('corrupt', `The JPEG Lossless codestream cannot be decoded (${codecMessage(error)}).`, { cause: error });
  }
  const bytes = new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
  return {
    width: decoder.xDim,
    height: decoder.yDim,
    components: decoder.numComp,
    bitsPerSample: decoder.precision,
    signed: false,
    bytes,
    planar: false,
  };
}
