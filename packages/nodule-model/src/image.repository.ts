/** Image decoding for the evaluation commands, behind two functions so sharp stays at the edge. */
import sharp from 'sharp';

export interface DecodedImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** 8-bit RGB, 3 bytes per pixel (alpha dropped, grayscale expanded). */
export async function readRgbImage(file: string): Promise<DecodedImage> {
  const { data, info } = await sharp(file).removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.channels === 3) return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  const rgb = new Uint8Array(info.width * info.height * 3);
  for (let p = 0; p < info.width * info.height; p++) {
    for (let c = 0; c < 3; c++) rgb[3 * p + c] = data[p * info.channels + Math.min(c, info.channels - 1)] ?? 0;
  }
  return { data: rgb, width: info.width, height: info.height };
}

/** 8-bit gray as @yunying/dicom renders colour: round(0.299 R + 0.587 G + 0.114 B) (as training reads it). */
export async function readGrayImage(file: string): Promise<DecodedImage> {
  const rgb = await readRgbImage(file);
  const gray = new Uint8Array(rgb.width * rgb.height);
  for (let p = 0; p < gray.length; p++) {
    gray[p] = Math.round(0.299 * (rgb.data[3 * p] ?? 0) + 0.587 * (rgb.data[3 * p + 1] ?? 0) + 0.114 * (rgb.data[3 * p + 2] ?? 0));
  }
  return { data: gray, width: rgb.width, height: rgb.height };
}
