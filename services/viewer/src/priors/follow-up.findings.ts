import { distinctNodules, type VisitNodule } from './nodule-match';

/** An AI nodule of one visit, located on its frame (services/inference result shape, NoduleFinding). */
export interface VisitFinding extends VisitNodule {
  sopInstanceUid: string;
  frameNumber: number;
  trLevel: string | null;
  confidence: number;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/**
 * The nodules of a stored AI result (`ai_results.images`, most suspicious image first), each with its box
 * centre as a fraction of its frame. Results written before the nodule list (#13), or without the frame's
 * size, carry nothing to follow and give nothing. The same nodule on several images counts once: the
 * first, most suspicious sighting.
 */
export function findingsOf(images: unknown): VisitFinding[] {
  const found: VisitFinding[] = [];
  for (const value of Array.isArray(images) ? images : []) {
    const image = record(value);
    const rows = num(image.rows);
    const columns = num(image.columns);
    const sop = image.sopInstanceUid;
    if (image.status !== 'scored' || typeof sop !== 'string' || !rows || !columns) continue;
    for (const n of Array.isArray(image.nodules) ? image.nodules : []) {
      const nodule = record(n);
      const box = record(nodule.box);
      const [x, y, w, h] = [num(box.x), num(box.y), num(box.width), num(box.height)];
      if (x === null || y === null || w === null || h === null) continue;
      const size = record(nodule.sizeMm);
      const long = num(size.long);
      const short = num(size.short);
      found.push({
        centre: { x: (x + w / 2) / columns, y: (y + h / 2) / rows },
        sizeMm: long !== null && short !== null && long > 0 ? { long, short } : null,
        sopInstanceUid: sop,
        frameNumber: num(image.frameNumber) ?? 1,
        trLevel: typeof nodule.trLevel === 'string' ? nodule.trLevel : null,
        confidence: num(nodule.confidence) ?? 0,
      });
    }
  }
  return distinctNodules(found);
}
