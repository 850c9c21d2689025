/**
 * 8-bit renderings of a decoded frame for the model, thumbnails and rendered WADO-RS. Grayscale
 * follows the PS3.3 C.11 pipeline in its simplest form: Modality LUT (rescale), then the linear VOI
 * window of C.11.2.1.2.1, then MONOCHROME1 inversion. Colour to gray is ITU-R BT.601 luma.
 */
import type { DecodedFrame } from './decode';
import { PixelDecodeError } from './errors';

export interface Window {
  center: number;
  width: number;
}

export interface Gray8 {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface Rgb8 {
  width: number;
  height: number;
  /** 3 bytes per pixel (toRgb8) or 4 (toRgba8, alpha 255). */
  data: Uint8Array;
}

/** A sample scaled to 8 bits (colour only: colour samples are never windowed). */
function colour8(frame: DecodedFrame): (value: number) => number {
  const shift = Math.max(0, frame.bitsStored - 8);
  return (value) => value >> shift;
}

/**
 * 8-bit grayscale. Colour: BT.601 luma (0.299 R + 0.587 G + 0.114 B). MONOCHROME: `window` if given,
 * else the dataset's window, else unchanged for plain 8-bit unsigned data, else the frame's
 * min..max; MONOCHROME1 is inverted so that white is always the brightest.
 */
export function toGray8(frame: DecodedFrame, window?: Window): Gray8 {
  const pixels = frame.width * frame.height;
  const out = new Uint8Array(pixels);
  if (frame.samplesPerPixel === 3 && frame.bitsStored <= 8) {
    // 8-bit samples need no scaling (colour8 would shift by 0): the luma straight from the bytes.
    const data = frame.data;
    for (let p = 0, q = 0; p < pixels; p += 1, q += 3) {
      out[p] = Math.round(0.299 * (data[q] ?? 0) + 0.587 * (data[q + 1] ?? 0) + 0.114 * (data[q + 2] ?? 0));
    }
    return { width: frame.width, height: frame.height, data: out };
  }
  if (frame.samplesPerPixel === 3) {
    const to8 = colour8(frame);
    for (let p = 0; p < pixels; p += 1) {
      const r = to8(frame.data[3 * p] ?? 0);
      const g = to8(frame.data[3 * p + 1] ?? 0);
      const b = to8(frame.data[3 * p + 2] ?? 0);
      out[p] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    }
    return { width: frame.width, height: frame.height, data: out };
  }
  if (frame.photometric === 'PALETTE COLOR') {
    throw new PixelDecodeError('unsupported_format', 'Palette indexes have no gray rendering; decode with the palette applied.');
  }
  const { slope, intercept } = frame.rescale;
  const chosen = window ?? frame.window;
  let map: (stored: number) => number;
  if (chosen !== null && chosen !== undefined && chosen.width >= 1) {
    // C.11.2.1.2.1 (linear): the window is in rescaled (modality) units.
    const low = chosen.center - 0.5 - (chosen.width - 1) / 2;
    const high = chosen.center - 0.5 + (chosen.width - 1) / 2;
    const span = Math.max(chosen.width - 1, 1);
    map = (stored) => {
      const x = stored * slope + intercept;
      if (x <= low) return 0;
      if (x > high) return 255;
      return ((x - (chosen.center - 0.5)) / span + 0.5) * 255;
    };
  } else if (frame.bitsAllocated === 8 && !frame.signed && frame.bitsStored === 8) {
    map = (stored) => stored;
  } else {
    let min = Infinity;
    let max = -Infinity;
    for (let p = 0; p < pixels; p += 1) {
      const v = frame.data[p] ?? 0;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const range = max - min;
    map = range > 0 ? (stored) => ((stored - min) / range) * 255 : () => 0;
  }
  const invert = frame.photometric === 'MONOCHROME1';
  for (let p = 0; p < pixels; p += 1) {
    const v = Math.round(map(frame.data[p] ?? 0));
    const clamped = v < 0 ? 0 : v > 255 ? 255 : v;
    out[p] = invert ? 255 - clamped : clamped;
  }
  return { width: frame.width, height: frame.height, data: out };
}

function toColour8(frame: DecodedFrame, channels: 3 | 4, window?: Window): Rgb8 {
  const pixels = frame.width * frame.height;
  const out = new Uint8Array(pixels * channels);
  if (frame.samplesPerPixel === 3 && channels === 3 && frame.bitsStored <= 8 && frame.data instanceof Uint8Array) {
    // 8-bit RGB is already what is asked for: one copy instead of a conversion per sample.
    out.set(frame.data.subarray(0, pixels * 3));
  } else if (frame.samplesPerPixel === 3) {
    const to8 = colour8(frame);
    for (let p = 0; p < pixels; p += 1) {
      out[channels * p] = to8(frame.data[3 * p] ?? 0);
      out[channels * p + 1] = to8(frame.data[3 * p + 1] ?? 0);
      out[channels * p + 2] = to8(frame.data[3 * p + 2] ?? 0);
      if (channels === 4) out[4 * p + 3] = 255;
    }
  } else {
    const gray = toGray8(frame, window).data;
    for (let p = 0; p < pixels; p += 1) {
      const v = gray[p] ?? 0;
      out[channels * p] = v;
      out[channels * p + 1] = v;
      out[channels * p + 2] = v;
      if (channels === 4) out[4 * p + 3] = 255;
    }
  }
  return { width: frame.width, height: frame.height, data: out };
}

/** 8-bit RGB, 3 bytes per pixel (for sharp's raw input { channels: 3 }). Grayscale as toGray8. */
export function toRgb8(frame: DecodedFrame, window?: Window): Rgb8 {
  return toColour8(frame, 3, window);
}

/** 8-bit RGBA, alpha 255 (for canvases and sharp's raw input { channels: 4 }). */
export function toRgba8(frame: DecodedFrame, window?: Window): Rgb8 {
  return toColour8(frame, 4, window);
}
