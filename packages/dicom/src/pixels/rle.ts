/**
 * RLE Lossless decoding, PS3.5 Annex G: a 64-byte header (segment count, then up to 15 segment
 * offsets, little endian), then one PackBits-coded segment per byte plane. For BitsAllocated 16 the
 * segments of a sample come most significant byte first; colour images are coded by plane (all R
 * segments, then G, then B) whatever PlanarConfiguration says.
 */
import { PixelDecodeError } from './errors';

/** Decodes one RLE frame into colour-by-pixel little-endian native bytes. */
export function decodeRle(frame: Uint8Array, rows: number, columns: number, samples: number, bitsAllocated: number): Uint8Array {
  const bytesPerSample = bitsAllocated / 8;
  const pixels = rows * columns;
  const expectedSegments = samples * bytesPerSample;
  if (frame.length < 64) throw new PixelDecodeError('corrupt', 'The RLE frame is shorter than its 64-byte header (PS3.5 G.5).');
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const segmentCount = view.getUint32(0, true);
  if (segmentCount !== expectedSegments) {
    throw new PixelDecodeError(
      'corrupt',
      `The RLE header declares ${segmentCount} segments but ${samples} samples of ${bitsAllocated} bits need ${expectedSegments} (PS3.5 G.5).`,
    );
  }
  const offsets: number[] = [];
  for (let i = 0; i < segmentCount; i += 1) offsets.push(view.getUint32(4 + 4 * i, true));
  if (offsets[0] !== 64 || offsets.some((o, i) => o > frame.length || (i > 0 && o < (offsets[i - 1] ?? 0)))) {
    throw new PixelDecodeError('corrupt', 'The RLE segment offsets are not increasing within the frame (PS3.5 G.5).');
  }
  const out = new Uint8Array(pixels * samples * bytesPerSample);
  for (let segment = 0; segment < segmentCount; segment += 1) {
    const start = offsets[segment] ?? 0;
    const end = offsets[segment + 1] ?? frame.length;
    const sample = Math.floor(segment / bytesPerSample);
    const byteInSample = segment % bytesPerSample;
    // Segment 0 of a sample is its most significant byte; output is little endian.
    const outByte = bytesPerSample - 1 - byteInSample;
    const stride = samples * bytesPerSample;
    const base = sample * bytesPerSample + outByte;
    unpackBits(frame, start, end, pixels, (index, value) => {
      out[base + index * stride] = value;
    });
  }
  return out;
}

/** PackBits (G.3.1): n in 0..127 copies n+1 literal bytes, -127..-1 repeats the next byte 1-n times, -128 is a no-op. */
function unpackBits(source: Uint8Array, start: number, end: number, count: number, write: (index: number, value: number) => void): void {
  let position = start;
  let written = 0;
  while (written < count && position < end) {
    const header = source[position] ?? 0;
    position += 1;
    const n = header > 127 ? header - 256 : header;
    if (n >= 0) {
      const length = n + 1;
      if (position + length > end) break;
      for (let i = 0; i < length && written < count; i += 1) write(written++, source[position + i] ?? 0);
      position += length;
    } else if (n !== -128) {
      if (position >= end) break;
      const value = source[position] ?? 0;
      position += 1;
      for (let i = 0; i < 1 - n && written < count; i += 1) write(written++, value);
    }
  }
  if (written < count) {
    throw new PixelDecodeError('corrupt', `An RLE segment decodes to ${written} bytes; the image needs ${count} (PS3.5 G.3).`);
  }
}
