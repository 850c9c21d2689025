/**
 * Scanner-style colour graphics drawn on an RGB frame, for the overlay tests (overlay.test.ts): coloured
 * text from a 5x7 bitmap font (no font files needed), a dashed coloured measurement line, a body marker
 * and a small colour box outline. Test support only; nothing in the served path draws.
 */
export type Colour = readonly [number, number, number];

export const YELLOW: Colour = [235, 220, 40];
export const GREEN: Colour = [60, 220, 80];
export const CYAN: Colour = [40, 210, 230];
export const ORANGE: Colour = [240, 140, 30];

/** Rows of 5 bits, top to bottom. */
const FONT: Record<string, readonly number[]> = {
  A: [0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001],
  B: [0b11110, 0b10001, 0b10001, 0b11110, 0b10001, 0b10001, 0b11110],
  E: [0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111],
  H: [0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001],
  L: [0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11111],
  M: [0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001],
  N: [0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001, 0b10001],
  O: [0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110],
  R: [0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001],
  S: [0b01111, 0b10000, 0b10000, 0b01110, 0b00001, 0b00001, 0b11110],
  T: [0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100],
  Y: [0b10001, 0b10001, 0b01010, 0b00100, 0b00100, 0b00100, 0b00100],
  '1': [0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110],
  '2': [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111],
  '3': [0b11110, 0b00001, 0b00001, 0b01110, 0b00001, 0b00001, 0b11110],
  '.': [0, 0, 0, 0, 0, 0b01100, 0b01100],
  ' ': [0, 0, 0, 0, 0, 0, 0],
};

export class RgbCanvas {
  constructor(
    readonly data: Uint8Array,
    readonly width: number,
    readonly height: number,
  ) {}

  set(x: number, y: number, c: Colour): void {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= this.width || yi >= this.height) return;
    const p = 3 * (yi * this.width + xi);
    this.data[p] = c[0];
    this.data[p + 1] = c[1];
    this.data[p + 2] = c[2];
  }

  /** Text with its top-left corner at (x, y), each font pixel `scale` x `scale` image pixels. */
  text(x: number, y: number, s: string, c: Colour, scale = 1): void {
    [...s.toUpperCase()].forEach((ch, k) => {
      const rows = FONT[ch] ?? FONT[' '] ?? [];
      rows.forEach((bits, row) => {
        for (let col = 0; col < 5; col++) {
          if (!((bits >> (4 - col)) & 1)) continue;
          for (let dy = 0; dy < scale; dy++) for (let dx = 0; dx < scale; dx++) this.set(x + (k * 6 + col) * scale + dx, y + row * scale + dy, c);
        }
      });
    });
  }

  /** A one-pixel line; `dash` > 0 draws dash pixels on, dash pixels off. */
  line(x0: number, y0: number, x1: number, y1: number, c: Colour, dash = 0): void {
    const n = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    for (let k = 0; k <= n; k++) {
      if (dash > 0 && Math.floor(k / dash) % 2 === 1) continue;
      this.set(x0 + ((x1 - x0) * k) / n, y0 + ((y1 - y0) * k) / n, c);
    }
  }

  rectOutline(x0: number, y0: number, x1: number, y1: number, c: Colour): void {
    this.line(x0, y0, x1, y0, c);
    this.line(x1, y0, x1, y1, c);
    this.line(x1, y1, x0, y1, c);
    this.line(x0, y1, x0, y0, c);
  }

  /** A body marker: a neck outline (circle) with the probe drawn as a short thick bar across it. */
  bodyMarker(cx: number, cy: number, radius: number, c: Colour, probe: Colour): void {
    const steps = Math.ceil(2 * Math.PI * radius);
    for (let k = 0; k < steps; k++) this.set(cx + radius * Math.cos((2 * Math.PI * k) / steps), cy + radius * Math.sin((2 * Math.PI * k) / steps), c);
    for (let t = -1; t <= 1; t++) this.line(cx - radius * 0.6, cy + t, cx + radius * 0.2, cy + t, probe);
  }
}

/**
 * A typical set of overlays on an image area (x0, y0, x1, y1): preset text top left, a label with a
 * number bottom right, a dashed measurement line across the middle of the tissue, a body marker in the
 * bottom-left corner and a small colour box outline.
 */
export function drawScannerOverlays(rgb: Uint8Array, width: number, height: number, area = { x0: 0, y0: 0, x1: width, y1: height }): void {
  const canvas = new RgbCanvas(rgb, width, height);
  const w = area.x1 - area.x0;
  const h = area.y1 - area.y0;
  canvas.text(area.x0 + 6, area.y0 + 6, 'R LOBE TRANS', YELLOW);
  canvas.text(area.x1 - 6 - 6 * 8, area.y1 - 16, 'THY 12.3', GREEN);
  canvas.line(area.x0 + w * 0.2, area.y0 + h * 0.55, area.x0 + w * 0.8, area.y0 + h * 0.45, CYAN, 3);
  canvas.bodyMarker(area.x0 + 24, area.y1 - 24, 12, YELLOW, ORANGE);
  canvas.rectOutline(area.x0 + w * 0.62, area.y0 + h * 0.15, area.x0 + w * 0.62 + 36, area.y0 + h * 0.15 + 24, ORANGE);
}
