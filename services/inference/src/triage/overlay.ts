/**
 * Colour overlays on a B-mode frame: coloured text (presets, labels), body markers, coloured measurement
 * lines, a small colour box. The frame network and the descriptors read the gray conversion, where such
 * graphics are bright or mid-gray structures drawn over the tissue, so before the finder runs they are
 * painted out with the tissue around them. The rule for "colour" is the gate's (colourFraction): the
 * frame is refused as colour Doppler above the manifest's colourFractionMax; below it, its chromatic
 * pixels are overlays. A frame without any chromatic pixel (every grayscale frame) is returned as it is.
 */
import type { Corners, GrayImage } from '@yunying/nodule-model';

/** A pixel whose RGB channels differ by more than this is colour (flow or an overlay), not gray tissue. */
export const CHROMA_LIMIT = 40;

export function isChromatic(r: number, g: number, b: number): boolean {
  const hi = r > g ? (r > b ? r : b) : g > b ? g : b;
  const lo = r < g ? (r < b ? r : b) : g < b ? g : b;
  return hi - lo > CHROMA_LIMIT;
}

/** Share of pixels whose RGB channels differ by more than CHROMA_LIMIT: colour flow, colour overlays. */
export function colourFraction(rgb: Uint8Array, pixels: number): number {
  let n = 0;
  for (let p = 0, q = 0; p < pixels; p++, q += 3) if (isChromatic(rgb[q] ?? 0, rgb[q + 1] ?? 0, rgb[q + 2] ?? 0)) n++;
  return pixels > 0 ? n / pixels : 0;
}

/**
 * The pixels to paint: chromatic ones inside `area` (the image area; the whole frame when absent),
 * grown by one pixel, because anti-aliased strokes and JPEG's halved colour resolution leave a rim
 * around each graphic whose channels differ by less than the limit but whose brightness is still the
 * graphic's. Null when there is none.
 */
export function overlayMask(rgb: Uint8Array, w: number, h: number, area?: Corners): Uint8Array | null {
  const x0 = Math.max(0, Math.floor(area?.x0 ?? 0));
  const y0 = Math.max(0, Math.floor(area?.y0 ?? 0));
  const x1 = Math.min(w, Math.ceil(area?.x1 ?? w));
  const y1 = Math.min(h, Math.ceil(area?.y1 ?? h));
  const mask = new Uint8Array(w * h);
  let any = false;
  for (let y = y0; y < y1; y++) {
    for (let x = x0, i = y * w + x0; x < x1; x++, i++) {
      if (!isChromatic(rgb[3 * i] ?? 0, rgb[3 * i + 1] ?? 0, rgb[3 * i + 2] ?? 0)) continue;
      any = true;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < y0 || yy >= y1) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx >= x0 && xx < x1) mask[yy * w + xx] = 1;
        }
      }
    }
  }
  return any ? mask : null;
}

/**
 * Fills the masked pixels of a gray image from the outside in: pixels next to known ones first, each
 * the rounded mean of its known 8-neighbours (known: unmasked, or filled in an earlier layer), layer by
 * layer until none is left. A thin stroke takes its neighbours' tissue in one or two layers; a larger
 * graphic is closed in from its rim, so it takes the surrounding texture's level, not a bright blob.
 * Masked pixels with no known pixel anywhere (a frame that is all overlay) keep their value.
 */
export function fillFromSurroundings(gray: GrayImage, mask: Uint8Array): GrayImage {
  const { width: w, height: h } = gray;
  const data = Uint8Array.from(gray.data);
  const known = new Uint8Array(w * h);
  let frontier: number[] = [];
  for (let i = 0; i < w * h; i++) {
    if (!mask[i]) known[i] = 1;
  }
  for (let i = 0; i < w * h; i++) if (mask[i] && touchesKnown(known, w, h, i)) frontier.push(i);
  const queued = new Uint8Array(w * h);
  for (const i of frontier) queued[i] = 1;
  while (frontier.length > 0) {
    // One layer: every value from the previous layers only, then all of them become known together.
    const values = frontier.map((i) => meanOfKnown(data, known, w, h, i));
    frontier.forEach((i, k) => {
      data[i] = values[k] ?? 0;
      known[i] = 1;
    });
    const next: number[] = [];
    for (const i of frontier) {
      const x = i % w;
      const y = (i - x) / w;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          const yy = y + dy;
          if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
          const j = yy * w + xx;
          if (mask[j] && !known[j] && !queued[j]) {
            queued[j] = 1;
            next.push(j);
          }
        }
      }
    }
    frontier = next;
  }
  return { width: w, height: h, data };
}

function touchesKnown(known: Uint8Array, w: number, h: number, i: number): boolean {
  const x = i % w;
  const y = (i - x) / w;
  for (let dy = -1; dy <= 1; dy++) {
    for (let dx = -1; dx <= 1; dx++) {
      const xx = x + dx;
      const yy = y + dy;
      if ((dx !== 0 || dy !== 0) && xx >= 0 && yy >= 0 && xx < w && yy < h && known[yy * w + xx]) return true;
    }
  }
  return false;
}

function meanOfKnown(data: Uint8Array, known: Uint8Array, w: number, h: number, i: number): number {
  const x = i % w;
  const y = (i - x) / w;
  let sum = 0;
  let n = 0;
  for (let dy = -1; dy <= 1; dy++) {
    for (let dx = -1; dx <= 1; dx++) {
      const xx = x + dx;
      const yy = y + dy;
      if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
      const j = yy * w + xx;
      if (!known[j]) continue;
      sum += data[j] ?? 0;
      n++;
    }
  }
  return n > 0 ? Math.round(sum / n) : (data[i] ?? 0);
}

/**
 * The gray frame with its colour overlays inside `area` painted out (see above); `gray` itself when the
 * frame has no chromatic pixel there (grayscale frames are untouched, value for value).
 */
export function removeColourOverlays(gray: GrayImage, rgb: Uint8Array | null, area?: Corners): GrayImage {
  if (!rgb) return gray;
  const mask = overlayMask(rgb, gray.width, gray.height, area);
  return mask ? fillFromSurroundings(gray, mask) : gray;
}
