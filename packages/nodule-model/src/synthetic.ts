/**
 * Deterministic synthetic 'nodule' images for the parity test; mirrors
 * models/thyroid-nodule/train/synthetic.py. Integer arithmetic only, so the pixels are bit-identical
 * to Python's (every intermediate stays far below 2^53).
 */
export interface SyntheticSpec {
  width: number;
  height: number;
  seed: number;
}

export function syntheticGray({ width, height, seed }: SyntheticSpec): Uint8Array {
  const cx = Math.floor((width * (40 + ((seed * 7) % 20))) / 100);
  const cy = Math.floor((height * (40 + ((seed * 11) % 20))) / 100);
  const a = Math.max(Math.floor((width * (15 + ((seed * 5) % 20))) / 100), 2);
  const b = Math.max(Math.floor((height * (15 + ((seed * 3) % 25))) / 100), 2);
  const dark = (seed % 3) * 25;
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = ((x * 31 + y * 17 + seed * 7) * (x + 3) + y * y * 5) % 97;
      const dx = x - cx;
      const dy = y - cy;
      const inside = dx * dx * b * b + dy * dy * a * a <= a * a * b * b;
      let pix: number;
      if (inside) {
        pix = 15 + dark + (v % 40);
        if ((x * 7 + y * 11 + seed) % 53 === 0) pix = 235;
      } else {
        pix = 55 + v;
      }
      out[y * width + x] = pix;
    }
  }
  return out;
}
