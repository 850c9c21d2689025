import sharp from 'sharp';
import { AppError } from '@yunying/core';
import { toGray8, toRgb8, type DecodedFrame, type Window } from '@yunying/dicom';

/**
 * Rendered images (PS3.18 8.3.5.1, 9.4 for WADO-URI): the decoded frame through the grayscale pipeline
 * of @yunying/dicom (rescale, linear VOI window, MONOCHROME1 inversion), then scaled and encoded by sharp.
 */
export type RenderFormat = 'jpeg' | 'png';

export interface RenderOptions {
  format: RenderFormat;
  window?: Window;
  /** Fit inside this box, keeping the aspect ratio (never enlarged past it). */
  viewport?: { width: number; height: number };
  /** JPEG quality 1..100 (default 90). */
  quality?: number;
}

export const RENDER_MEDIA_TYPE: Record<RenderFormat, string> = { jpeg: 'image/jpeg', png: 'image/png' };

export async function renderFrame(frame: DecodedFrame, options: RenderOptions): Promise<Buffer> {
  const colour = frame.samplesPerPixel === 3;
  const pixels = colour ? toRgb8(frame, options.window) : toGray8(frame, options.window);
  let image = sharp(pixels.data, { raw: { width: pixels.width, height: pixels.height, channels: colour ? 3 : 1 } });
  if (options.viewport) image = image.resize(options.viewport.width, options.viewport.height, { fit: 'inside' });
  return options.format === 'png' ? image.png().toBuffer() : image.jpeg({ quality: options.quality ?? 90 }).toBuffer();
}

function bad(message: string): never {
  throw new AppError('bad_request', message);
}

function numbers(name: string, text: string, count: number[]): number[] {
  const parts = text.split(',').map((p) => p.trim());
  if (!count.includes(parts.length) || parts.some((p) => p === '' || !Number.isFinite(Number(p)))) bad(`${name} is malformed`);
  return parts.map(Number);
}

/** `window=center,width[,function]` (PS3.18 8.3.5.1.4); only the LINEAR function is implemented. */
export function parseWindow(text: string): Window {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length !== 2 && parts.length !== 3) bad('window must be center,width[,function]');
  const fn = (parts[2] ?? 'linear').toLowerCase();
  if (fn !== 'linear') bad(`window function ${fn} is not supported (linear is)`);
  const [center, width] = numbers('window', parts.slice(0, 2).join(','), [2]);
  if (center === undefined || width === undefined || width < 1) bad('window width must be at least 1');
  return { center, width };
}

/** `viewport=vw,vh` (PS3.18 8.3.5.1.3); the source-region form (sx,sy,sw,sh) is not implemented. */
export function parseViewport(text: string): { width: number; height: number } {
  const [width, height] = numbers('viewport', text, [2]);
  if (width === undefined || height === undefined || !Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 8192 || height > 8192) {
    bad('viewport must be two integers 1..8192');
  }
  return { width, height };
}

export function parseQuality(text: string): number {
  const q = Number(text);
  if (!Number.isInteger(q) || q < 1 || q > 100) bad('quality must be an integer 1..100');
  return q;
}
