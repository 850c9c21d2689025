/**
 * A decoded frame back to native pixel bytes (PS3.5 8.1.1, Explicit VR Little Endian), for WADO-RS
 * frames transcoded to 1.2.840.10008.1.2.1. The bytes match `nativeAttributes(frame)`, which the
 * caller must put into the metadata it serves: colour is RGB colour-by-pixel, whatever it was stored as.
 */
import type { DecodedFrame } from './decode';

export interface NativeAttributes {
  SamplesPerPixel: 1 | 3;
  PhotometricInterpretation: DecodedFrame['photometric'];
  BitsAllocated: 8 | 16;
  BitsStored: number;
  HighBit: number;
  PixelRepresentation: 0 | 1;
  /** Present for colour: always 0 (colour-by-pixel). */
  PlanarConfiguration?: 0;
}

export function nativeAttributes(frame: DecodedFrame): NativeAttributes {
  const attributes: NativeAttributes = {
    SamplesPerPixel: frame.samplesPerPixel,
    PhotometricInterpretation: frame.photometric,
    BitsAllocated: frame.bitsAllocated,
    BitsStored: frame.bitsStored,
    HighBit: frame.bitsStored - 1,
    PixelRepresentation: frame.signed ? 1 : 0,
  };
  if (frame.samplesPerPixel === 3) attributes.PlanarConfiguration = 0;
  return attributes;
}

/** Little-endian native bytes of the frame (not padded to even length: one frame of many). */
export function encodeNativeFrame(frame: DecodedFrame): Uint8Array {
  const { data } = frame;
  if (frame.bitsAllocated === 8) {
    return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  }
  const out = new Uint8Array(data.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i += 1) view.setUint16(2 * i, (data[i] ?? 0) & 0xffff, true);
  return out;
}
