/**
 * Significant nodule growth by the ACR TI-RADS rule (Tessler et al., JACR 2017, "Follow-up"): an increase
 * of at least 20 % in at least two nodule dimensions with a minimum increase of 2 mm, or an increase of at
 * least 50 % in volume.
 *
 * Read here as: each of the (at least two) dimensions that count grew by >= 20 % of its earlier value AND
 * by >= 2 mm. Dimensions are compared by rank (longest with longest), as reports list them. Volume is an
 * ellipsoid (pi/6 * a * b * c) and is assessed only when both visits have three measured dimensions:
 * the AI measures two diameters on one frame, and inventing a third would let one grown diameter pass
 * the volume criterion on its own.
 */

export const DIMENSION_GROWTH_FRACTION = 0.2;
export const DIMENSION_GROWTH_MIN_MM = 2;
export const VOLUME_GROWTH_FRACTION = 0.5;
/** Sizes come rounded to 0.1 mm; the tolerance keeps exact boundaries (10 -> 12 mm) on the "grown" side. */
const EPSILON = 1e-6;

export interface GrowthAssessment {
  significant: boolean;
  /** Which criterion made it significant (dimensions first when both hold). */
  criterion: 'dimensions' | 'volume' | null;
  /** Dimensions compared (both visits measured), and how many of them grew by >= 20 % and >= 2 mm. */
  dimensionsCompared: number;
  dimensionsGrown: number;
  /** Volume change as a fraction (0.5 = +50 %); null when either visit has fewer than three dimensions. */
  volumeChange: number | null;
}

function byRank(sizes: readonly number[]): number[] {
  return sizes.filter((s) => Number.isFinite(s) && s > 0).sort((a, b) => b - a);
}

function ellipsoidVolume(d: readonly number[]): number {
  return (Math.PI / 6) * (d[0] ?? 0) * (d[1] ?? 0) * (d[2] ?? 0);
}

/** Whether the nodule grew significantly from `before` to `after` (diameters in mm, any order). */
export function assessGrowth(before: readonly number[], after: readonly number[]): GrowthAssessment {
  const a = byRank(before);
  const b = byRank(after);
  const compared = Math.min(a.length, b.length, 3);
  let grown = 0;
  for (let i = 0; i < compared; i++) {
    const was = a[i] ?? 0;
    const increase = (b[i] ?? 0) - was;
    if (increase >= DIMENSION_GROWTH_FRACTION * was - EPSILON && increase >= DIMENSION_GROWTH_MIN_MM - EPSILON) grown++;
  }
  const volumeChange = a.length >= 3 && b.length >= 3 ? ellipsoidVolume(b) / ellipsoidVolume(a) - 1 : null;
  const byDimensions = grown >= 2;
  const byVolume = volumeChange !== null && volumeChange >= VOLUME_GROWTH_FRACTION - EPSILON;
  return {
    significant: byDimensions || byVolume,
    criterion: byDimensions ? 'dimensions' : byVolume ? 'volume' : null,
    dimensionsCompared: compared,
    dimensionsGrown: grown,
    volumeChange: volumeChange === null ? null : Math.round(volumeChange * 1000) / 1000,
  };
}
