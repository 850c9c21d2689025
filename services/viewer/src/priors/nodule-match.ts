/**
 * Matching AI nodule findings across visits by where they are and how big they are. Where: the centre of
 * the nodule's box, normalised to its frame (0..1 across, 0..1 down), because the two visits' images
 * rarely share a size or a field of view. This is a heuristic, not registration: a nodule scanned in
 * another plane or another probe position may not match, and the reader sees the history to judge it.
 */

export interface VisitNodule {
  centre: { x: number; y: number };
  sizeMm: { long: number; short: number } | null;
}

/** Farthest the centre may move between visits (fraction of the frame) and still be the same nodule. */
export const MAX_CENTRE_DISTANCE = 0.15;
/** Largest ratio of longest diameters between visits: beyond it, a different nodule is more likely. */
export const MAX_SIZE_RATIO = 3;
/** Centres this close within one visit are one nodule seen on two images. */
export const SAME_VISIT_DISTANCE = 0.05;
// How much a size difference costs against distance: a doubling weighs like 3.5 % of the frame.
const SIZE_WEIGHT = 0.05;

function distance(a: VisitNodule, b: VisitNodule): number {
  return Math.hypot(a.centre.x - b.centre.x, a.centre.y - b.centre.y);
}

/** The cost of calling `a` and `b` one nodule, or null when they cannot be. */
export function matchCost(a: VisitNodule, b: VisitNodule): number | null {
  const d = distance(a, b);
  // Coordinates are fractions; the tolerance keeps a move of exactly the limit on the "same" side.
  if (d > MAX_CENTRE_DISTANCE + 1e-9) return null;
  if (a.sizeMm === null || b.sizeMm === null || a.sizeMm.long <= 0 || b.sizeMm.long <= 0) return d;
  const ratio = Math.max(a.sizeMm.long, b.sizeMm.long) / Math.min(a.sizeMm.long, b.sizeMm.long);
  if (ratio > MAX_SIZE_RATIO + 1e-9) return null;
  return d + SIZE_WEIGHT * Math.log(ratio);
}

/** One-to-one pairs [index in a, index in b], cheapest first (greedy; a visit has a handful of nodules). */
export function matchNodules(a: readonly VisitNodule[], b: readonly VisitNodule[]): [number, number][] {
  const candidates: { i: number; j: number; cost: number }[] = [];
  a.forEach((x, i) =>
    b.forEach((y, j) => {
      const cost = matchCost(x, y);
      if (cost !== null) candidates.push({ i, j, cost });
    }),
  );
  candidates.sort((p, q) => p.cost - q.cost || p.i - q.i || p.j - q.j);
  const usedA = new Set<number>();
  const usedB = new Set<number>();
  const pairs: [number, number][] = [];
  for (const c of candidates) {
    if (usedA.has(c.i) || usedB.has(c.j)) continue;
    usedA.add(c.i);
    usedB.add(c.j);
    pairs.push([c.i, c.j]);
  }
  return pairs.sort((p, q) => p[0] - q[0]);
}

/** One visit's findings with duplicates (the same nodule on several images) collapsed; input order = preference. */
export function distinctNodules<T extends VisitNodule>(nodules: readonly T[]): T[] {
  const kept: T[] = [];
  for (const n of nodules) if (!kept.some((k) => distance(k, n) <= SAME_VISIT_DISTANCE)) kept.push(n);
  return kept;
}

/**
 * Tracks across visits (`visits` oldest first): each track has one slot per visit, the nodule seen there
 * or null. Built from the newest visit backwards; a track is matched at each earlier visit against its
 * nearest-in-time sighting, so a nodule that drifts a little each year stays one track.
 */
export function buildTracks<T extends VisitNodule>(visits: readonly (readonly T[])[]): (T | null)[][] {
  const tracks: (T | null)[][] = [];
  const heads: T[] = [];
  for (let v = visits.length - 1; v >= 0; v--) {
    const found = visits[v] ?? [];
    const pairs = matchNodules(heads, found);
    const matched = new Set<number>();
    for (const [t, j] of pairs) {
      const track = tracks[t];
      const nodule = found[j];
      if (!track || !nodule) continue;
      track[v] = nodule;
      heads[t] = nodule;
      matched.add(j);
    }
    found.forEach((nodule, j) => {
      if (matched.has(j)) return;
      const track: (T | null)[] = visits.map(() => null);
      track[v] = nodule;
      tracks.push(track);
      heads.push(nodule);
    });
  }
  return tracks;
}
