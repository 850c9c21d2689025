/**
 * Image geometry of the served path, the exact mirror of models/thyroid-nodule/train/geometry.py:
 * box-filter resizes (area average with fractional overlaps, horizontal pass then vertical), the
 * letterbox of a whole frame into the frame network's input, the square crop around a nodule box,
 * connected components of the nodule map and their boxes. Rounding is floor(x + 0.5) on both sides.
 */
import { workFloat64 } from './work.arrays';

export interface GrayImage {
  width: number;
  height: number;
  /** Row-major brightness 0..255. */
  data: ArrayLike<number>;
}

/** Box in image pixels: (x0, y0) top-left corner, (x1, y1) exclusive bottom-right corner. */
export interface Corners {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface FrameGeometry {
  width: number;
  height: number;
  stride: number;
}

export interface Letterbox {
  scale: number;
  contentWidth: number;
  contentHeight: number;
  offsetX: number;
  offsetY: number;
}

const rnd = (x: number): number => Math.floor(x + 0.5);

interface Weights {
  /** First source index per destination pixel, and the weights from there on. */
  start: Int32Array;
  weights: Float64Array[];
}

/** dst pixel j averages src over [j*s, (j+1)*s), s = nSrc / nDst (as geometry.area_weights). */
function areaWeights(nSrc: number, nDst: number): Weights {
  const s = nSrc / nDst;
  const start = new Int32Array(nDst);
  const weights: Float64Array[] = [];
  for (let j = 0; j < nDst; j++) {
    const a = j * s;
    const b = (j + 1) * s;
    const i0 = Math.floor(a);
    const i1 = Math.min(Math.ceil(b), nSrc);
    const w = new Float64Array(Math.max(0, i1 - i0));
    for (let i = i0; i < i1; i++) w[i - i0] = Math.max(0, Math.min(b, i + 1) - Math.max(a, i)) / s;
    start[j] = i0;
    weights.push(w);
  }
  return { start, weights };
}

/** Resizes a float image (row-major, w x h) to dstW x dstH: horizontal pass first, then vertical. */
export function areaResize(src: ArrayLike<number>, w: number, h: number, dstW: number, dstH: number): Float64Array {
  const wx = areaWeights(w, dstW);
  const tmp = workFloat64('resizeRows', h * dstW);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let j = 0; j < dstW; j++) {
      const ws = wx.weights[j] ?? new Float64Array(0);
      const i0 = wx.start[j] ?? 0;
      let acc = 0;
      for (let k = 0; k < ws.length; k++) acc += (src[row + i0 + k] ?? 0) * (ws[k] ?? 0);
      tmp[y * dstW + j] = acc;
    }
  }
  const wy = areaWeights(h, dstH);
  const out = new Float64Array(dstH * dstW);
  for (let j = 0; j < dstH; j++) {
    const ws = wy.weights[j] ?? new Float64Array(0);
    const i0 = wy.start[j] ?? 0;
    for (let x = 0; x < dstW; x++) {
      let acc = 0;
      for (let k = 0; k < ws.length; k++) acc += (tmp[(i0 + k) * dstW + x] ?? 0) * (ws[k] ?? 0);
      out[j * dstW + x] = acc;
    }
  }
  return out;
}

export function letterboxGeometry(w: number, h: number, frame: FrameGeometry): Letterbox {
  const scale = Math.min(frame.width / w, frame.height / h);
  const contentWidth = Math.max(1, rnd(w * scale));
  const contentHeight = Math.max(1, rnd(h * scale));
  return { scale, contentWidth, contentHeight, offsetX: Math.floor((frame.width - contentWidth) / 2), offsetY: Math.floor((frame.height - contentHeight) / 2) };
}

/** The whole frame centred in the network input (padding 0), then normalised; float32 ready for the graph. */
export function letterboxInput(gray: GrayImage, frame: FrameGeometry, norm: { mean: number; std: number }): Float32Array {
  const lb = letterboxGeometry(gray.width, gray.height, frame);
  const content = areaResize(gray.data, gray.width, gray.height, lb.contentWidth, lb.contentHeight);
  const out = new Float32Array(frame.width * frame.height).fill((0 - norm.mean) / norm.std);
  for (let y = 0; y < lb.contentHeight; y++) {
    for (let x = 0; x < lb.contentWidth; x++) {
      out[(y + lb.offsetY) * frame.width + x + lb.offsetX] = ((content[y * lb.contentWidth + x] ?? 0) / 255 - norm.mean) / norm.std;
    }
  }
  return out;
}

/** The square window the nodule heads see around a box: side = context x the longer side (>= 16 px). */
export function cropWindow(box: Corners, context: number): { left: number; top: number; side: number } {
  const side = Math.max(16, rnd(Math.max(box.x1 - box.x0, box.y1 - box.y0) * context));
  const cx = (box.x0 + box.x1) / 2;
  const cy = (box.y0 + box.y1) / 2;
  return { left: rnd(cx - side / 2), top: rnd(cy - side / 2), side };
}

/** The nodule crop (zero outside the frame) resized to size x size and normalised. */
export function cropInput(gray: GrayImage, box: Corners, size: number, context: number, norm: { mean: number; std: number }): Float32Array {
  const { left, top, side } = cropWindow(box, context);
  const win = new Float64Array(side * side);
  const sx0 = Math.max(0, left);
  const sy0 = Math.max(0, top);
  const sx1 = Math.min(gray.width, left + side);
  const sy1 = Math.min(gray.height, top + side);
  for (let y = sy0; y < sy1; y++) {
    for (let x = sx0; x < sx1; x++) win[(y - top) * side + (x - left)] = gray.data[y * gray.width + x] ?? 0;
  }
  const resized = areaResize(win, side, side, size, size);
  const out = new Float32Array(size * size);
  for (let i = 0; i < out.length; i++) out[i] = ((resized[i] ?? 0) / 255 - norm.mean) / norm.std;
  return out;
}

export interface Component {
  /** Cells as row * mapWidth + column. */
  cells: number[];
  /** Highest nodule probability in the component. */
  confidence: number;
}

/** 4-connected components of map >= threshold, scanned row-major (as geometry.components). */
export function components(map: ArrayLike<number>, mapWidth: number, mapHeight: number, threshold: number): Component[] {
  const seen = new Uint8Array(mapWidth * mapHeight);
  const out: Component[] = [];
  const on = (i: number): boolean => (map[i] ?? 0) >= threshold;
  for (let start = 0; start < mapWidth * mapHeight; start++) {
    if (!on(start) || seen[start]) continue;
    seen[start] = 1;
    const stack = [start];
    const cells: number[] = [];
    let confidence = 0;
    while (stack.length > 0) {
      const i = stack.pop() ?? 0;
      cells.push(i);
      confidence = Math.max(confidence, map[i] ?? 0);
      const r = Math.floor(i / mapWidth);
      const c = i % mapWidth;
      const next = [r > 0 ? i - mapWidth : -1, r < mapHeight - 1 ? i + mapWidth : -1, c > 0 ? i - 1 : -1, c < mapWidth - 1 ? i + 1 : -1];
      for (const n of next) {
        if (n >= 0 && on(n) && !seen[n]) {
          seen[n] = 1;
          stack.push(n);
        }
      }
    }
    out.push({ cells, confidence });
  }
  return out;
}

/** Map cells -> box in image pixels, clipped to the image (as geometry.cells_box). */
export function cellsBox(cells: readonly number[], mapWidth: number, imageWidth: number, imageHeight: number, frame: FrameGeometry): Corners {
  const lb = letterboxGeometry(imageWidth, imageHeight, frame);
  let r0 = Infinity;
  let r1 = -Infinity;
  let c0 = Infinity;
  let c1 = -Infinity;
  for (const i of cells) {
    const r = Math.floor(i / mapWidth);
    const c = i % mapWidth;
    r0 = Math.min(r0, r);
    r1 = Math.max(r1, r);
    c0 = Math.min(c0, c);
    c1 = Math.max(c1, c);
  }
  const clip = (v: number, hi: number): number => Math.min(Math.max(v, 0), hi);
  return {
    x0: clip((c0 * frame.stride - lb.offsetX) / lb.scale, imageWidth),
    x1: clip(((c1 + 1) * frame.stride - lb.offsetX) / lb.scale, imageWidth),
    y0: clip((r0 * frame.stride - lb.offsetY) / lb.scale, imageHeight),
    y1: clip(((r1 + 1) * frame.stride - lb.offsetY) / lb.scale, imageHeight),
  };
}

/**
 * Outline of a component in image pixels: the convex hull of its cells' corners (monotone chain), a
 * closed polygon without the repeated first point. Coarse (one cell is `stride` input pixels), which
 * the viewer says; the box and crop come from the same cells.
 */
export function cellsOutline(cells: readonly number[], mapWidth: number, imageWidth: number, imageHeight: number, frame: FrameGeometry): [number, number][] {
  const lb = letterboxGeometry(imageWidth, imageHeight, frame);
  const pts = new Map<string, [number, number]>();
  for (const i of cells) {
    const r = Math.floor(i / mapWidth);
    const c = i % mapWidth;
    for (const [dr, dc] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) {
      const x = Math.min(Math.max(((c + dc) * frame.stride - lb.offsetX) / lb.scale, 0), imageWidth);
      const y = Math.min(Math.max(((r + dr) * frame.stride - lb.offsetY) / lb.scale, 0), imageHeight);
      pts.set(`${x},${y}`, [x, y]);
    }
  }
  const sorted = [...pts.values()].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (sorted.length < 3) return sorted;
  const cross = (o: [number, number], a: [number, number], b: [number, number]): number => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const half = (list: [number, number][]): [number, number][] => {
    const h: [number, number][] = [];
    for (const p of list) {
      while (h.length >= 2 && cross(h[h.length - 2] ?? p, h[h.length - 1] ?? p, p) <= 0) h.pop();
      h.push(p);
    }
    h.pop();
    return h;
  };
  return [...half(sorted), ...half([...sorted].reverse())].map(([x, y]) => [Math.round(x * 10) / 10, Math.round(y * 10) / 10]);
}

export function boxIou(a: Corners, b: Corners): number {
  const ix = Math.max(0, Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0));
  const iy = Math.max(0, Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0));
  const inter = ix * iy;
  const union = (a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter;
  return union > 0 ? inter / union : 0;
}
