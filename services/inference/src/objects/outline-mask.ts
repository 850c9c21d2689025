/**
 * The nodule's outline as pixels: what the SEG stores and what the report's area counts. The outline is
 * the one the model computed (the convex hull of the nodule map's component, in image pixels, as
 * stored in the result); a pixel belongs to the nodule when its centre lies inside that polygon
 * (even-odd rule), so the mask is a pure function of the stored outline.
 */
export function outlineMask(outline: readonly (readonly [number, number])[], columns: number, rows: number): Uint8Array {
  const mask = new Uint8Array(columns * rows);
  if (outline.length < 3) return mask;
  const ys = outline.map((p) => p[1]);
  const top = Math.max(0, Math.floor(Math.min(...ys)));
  const bottom = Math.min(rows - 1, Math.ceil(Math.max(...ys)));
  for (let y = top; y <= bottom; y++) {
    const cy = y + 0.5;
    // Where the row through the pixel centres crosses the polygon's edges.
    const crossings: number[] = [];
    for (let i = 0; i < outline.length; i++) {
      const a = outline[i] ?? [0, 0];
      const b = outline[(i + 1) % outline.length] ?? [0, 0];
      if (a[1] <= cy !== b[1] <= cy) crossings.push(a[0] + ((cy - a[1]) / (b[1] - a[1])) * (b[0] - a[0]));
    }
    crossings.sort((p, q) => p - q);
    for (let k = 0; k + 1 < crossings.length; k += 2) {
      const from = Math.max(0, Math.ceil((crossings[k] ?? 0) - 0.5));
      const to = Math.min(columns - 1, Math.floor((crossings[k + 1] ?? 0) - 0.5));
      for (let x = from; x <= to; x++) mask[y * columns + x] = 1;
    }
  }
  return mask;
}

export function maskPixelCount(mask: Uint8Array): number {
  let n = 0;
  for (const v of mask) if (v !== 0) n++;
  return n;
}
