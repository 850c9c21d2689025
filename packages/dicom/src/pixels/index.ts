/** Pixel decoding: see decode.ts for what is decoded, display.ts for 8-bit renderings. */
export { decodeFrame } from './decode';
export type { DecodeOptions, DecodedFrame, PixelData } from './decode';
export { toGray8, toRgb8, toRgba8 } from './display';
export type { Gray8, Rgb8, Window } from './display';
export { encodeNativeFrame, nativeAttributes } from './native';
export type { NativeAttributes } from './native';
export { sampleFrameIndices } from './sampling';
export { PixelDecodeError, isPixelDecodeError } from './errors';
export type { PixelDecodeReason } from './errors';
