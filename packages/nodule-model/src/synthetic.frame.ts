/**
 * The deterministic test frame of the parity test, built identically by train/served.py
 * (synthetic_frame): a speckle-like texture, a dark oval "nodule" and a row of bright ticks.
 */
import type { GrayImage } from './frame.geometry';

export function syntheticFrame(width = 320, height = 240): GrayImage & { data: Uint8Array } {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const base = ((x * 7 + y * 13 + ((x * y) % 31)) % 97) + 60;
      const dx = (x - width * 0.45) / (width * 0.12);
      const dy = (y - height * 0.5) / (height * 0.14);
      let v = dx * dx + dy * dy < 1 ? base * 0.35 : base;
      if (x % 40 === 0 && y < 12) v = 250;
      data[y * width + x] = Math.floor(v);
    }
  }
  return { width, height, data };
}
