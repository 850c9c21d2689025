/**
 * Model input preprocessing, shared by the inference service and the evaluation command. It is a pure
 * function over a decoded grayscale buffer so the service can feed it DICOM pixel data directly.
 *
 * Mirrors models/thyroid-nodule/train/nodule.py (`preprocess`) operation for operation: pad to a
 * centred square with 0, area-average resize, normalise. The resize is written out here rather than
 * delegated to sharp, because sharp's and PIL's resamplers do not agree to 1e-4; parity.json holds the
 * two implementations together.
 */
import type { InputSpec } from './manifest';

export type GrayPixels = Uint8Array | Uint8ClampedArray | Uint16Array | Float32Array | Float64Array;

/** Where the model input sits in the original image: model pixel i spans [i*scale - left, (i+1)*scale - left). */
export interface InputGeometry {
  width: number;
  height: number;
  side: number;
  left: number;
  top: number;
  /** Original pixels per model pixel. */
  scale: number;
  size: number;
}

export interface Preprocessed {
  /** size*size float32 values, row-major, ready for a [1, 1, size, size] tensor. */
  data: Float32Array;
  geometry: InputGeometry;
}

export function squareGeometry(width: number, height: number, size: number): InputGeometry {
  const side = Math.max(width, height);
  return {
    width,
    height,
    side,
    left: Math.floor((side - width) / 2),
    top: Math.floor((side - height) / 2),
    scale: side / size,
    size,
  };
}

/**
 * Sparse area-averaging weights: output o averages source pixels over [o*src/dst, (o+1)*src/dst),
 * each weighted by its overlap. Works for down- and up-sampling.
 */
export function areaWeights(src: number, dst: number): { index: number[]; weight: number[] }[] {
  const scale = src / dst;
  const rows: { index: number[]; weight: number[] }[] = [];
  for (let o = 0; o < dst; o++) {
    const start = o * scale;
    const end = (o + 1) * scale;
    const index: number[] = [];
    const weight: number[] = [];
    for (let i = Math.floor(start); i < end && i < src; i++) {
      const overlap = Math.min(end, i + 1) - Math.max(start, i);
      if (overlap > 0) {
        index.push(i);
        weight.push(overlap / scale);
      }
    }
    rows.push({ index, weight });
  }
  return rows;
}

/** Pad to a centred square with 0, then area-resize to size x size (values stay in pixel units). */
export function squareAreaResize(gray: GrayPixels, width: number, height: number, size: number): Preprocessed {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`image size must be positive integers, got ${width}x${height}`);
  }
  if (gray.length !== width * height) {
    throw new RangeError(`pixel buffer has ${gray.length} values, expected ${width * height}`);
  }
  const geometry = squareGeometry(width, height, size);
  const weights = areaWeights(geometry.side, size);
  // Separable: first along x (per source row), then along y. Padding rows/columns are zero, so they
  // are skipped instead of materialised.
  const horizontal = new Float64Array(height * size);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let o = 0; o < size; o++) {
      const w = weights[o];
      if (w === undefined) continue;
      let acc = 0;
      for (let k = 0; k < w.index.length; k++) {
        const x = (w.index[k] ?? 0) - geometry.left;
        if (x >= 0 && x < width) acc += (w.weight[k] ?? 0) * (gray[row + x] ?? 0);
      }
      horizontal[y * size + o] = acc;
    }
  }
  const data = new Float32Array(size * size);
  for (let o = 0; o < size; o++) {
    const w = weights[o];
    if (w === undefined) continue;
    for (let c = 0; c < size; c++) {
      let acc = 0;
      for (let k = 0; k < w.index.length; k++) {
        const y = (w.index[k] ?? 0) - geometry.top;
        if (y >= 0 && y < height) acc += (w.weight[k] ?? 0) * (horizontal[y * size + c] ?? 0);
      }
      data[o * size + c] = acc;
    }
  }
  return { data, geometry };
}

/**
 * Grayscale pixels (0..255 brightness, row-major) -> normalised model input.
 * Callers with other bit depths (e.g. 12-bit DICOM) must window them to 0..255 first.
 */
export function preprocessGray(gray: GrayPixels, width: number, height: number, input: InputSpec): Preprocessed {
  const { data, geometry } = squareAreaResize(gray, width, height, input.size);
  const { scale, mean, std } = input.normalisation;
  for (let i = 0; i < data.length; i++) {
    data[i] = ((data[i] ?? 0) * scale - mean) / std;
  }
  return { data, geometry };
}
