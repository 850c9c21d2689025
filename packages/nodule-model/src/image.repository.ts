/** Image decoding for the evaluation command, behind one function so sharp stays at the edge. */
import sharp from 'sharp';

export interface GrayImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * Decodes an image file to 8-bit grayscale. Grayscale PNGs (the DDTI crops) decode losslessly, so the
 * pixels match what PIL reads in training; colour images are converted with sharp's luminance
 * weights, which differ slightly from PIL's.
 */
export async function readGrayImage(file: string): Promise<GrayImage> {
  const { data, info } = await sharp(file).greyscale().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.channels !== 1) {
    // greyscale() can leave an alpha channel; keep the first (grey) channel only.
    const gray = new Uint8Array(info.width * info.height);
    for (let i = 0; i < gray.length; i++) gray[i] = data[i * info.channels] ?? 0;
    return { data: gray, width: info.width, height: info.height };
  }
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}
