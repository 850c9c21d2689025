/**
 * Which frames of a cine loop to look at when not all of them: evenly spaced from first to last,
 * with the middle frame always among them (it is the frame the thumbnail and a single-frame model
 * input use). The same arguments always give the same indices.
 */
export function sampleFrameIndices(frameCount: number, max: number): number[] {
  const count = Math.floor(frameCount);
  const limit = Math.floor(max);
  if (count <= 0 || limit <= 0) return [];
  if (count <= limit) return Array.from({ length: count }, (_, i) => i);
  const middle = Math.floor((count - 1) / 2);
  if (limit === 1) return [middle];
  const chosen = new Set<number>();
  for (let k = 0; k < limit; k += 1) chosen.add(Math.round((k * (count - 1)) / (limit - 1)));
  if (!chosen.has(middle)) {
    // Replace the sample closest to the middle (never the first) by the middle itself.
    let nearest = -1;
    for (const index of chosen) {
      if (index !== 0 && (nearest < 0 || Math.abs(index - middle) < Math.abs(nearest - middle))) nearest = index;
    }
    chosen.delete(nearest);
    chosen.add(middle);
  }
  return [...chosen].sort((a, b) => a - b);
}
