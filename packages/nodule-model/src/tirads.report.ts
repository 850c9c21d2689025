/**
 * Scoring of one nodule of a structured TI-RADS report (#20), as the reader's form and the server both
 * compute it: the server stores its own result (a client's TR level is never trusted), the browser shows
 * the same numbers live while the reader edits. Kept free of any runtime import beyond ./tirads so the
 * web app can bundle it (package subpath `@yunying/nodule-model/tirads-report`).
 */

import { ACR_LEXICON, lexiconCategory, otherItemsAddNoPoints, recommendation, trLevel, type LexiconItem, type Recommendation, type TrLevel } from './tirads';

// The chart itself, for the web app's selects (it cannot import the package root: onnxruntime).
export { ACR_LEXICON };
export type { LexiconItem, Recommendation, TrLevel };

/** The four items where the ACR chart says "choose one"; echogenic foci is "choose all that apply". */
export type SingleItem = Exclude<LexiconItem, 'echogenicFoci'>;
export const SINGLE_ITEMS: readonly SingleItem[] = ['composition', 'echogenicity', 'shape', 'margin'];

/** One nodule's categories as chosen so far: null (or no foci code) = not yet assessed. */
export interface NoduleCodes {
  composition: string | null;
  echogenicity: string | null;
  shape: string | null;
  margin: string | null;
  echogenicFoci: readonly string[];
}

export interface NoduleScore {
  /** Points per item; null while the item is not assessed. */
  points: Record<LexiconItem, number | null>;
  /** Sum of the points; null while an item that counts is not assessed. */
  totalPoints: number | null;
  trLevel: TrLevel | null;
  /** The larger of the two axes, mm; null when no size is given. */
  maxDiameterMm: number | null;
  recommendation: { action: Recommendation; rule: string } | null;
}

/** Codes of "echogenic foci" that exclude every other code ("none or large comet-tail artifacts"). */
export const FOCI_NONE = 'none';

/** Whether a set of echogenic-foci codes is a valid choice: known, distinct, and "none" only on its own. */
export function validFoci(codes: readonly string[]): boolean {
  if (new Set(codes).size !== codes.length) return false;
  if (codes.some((c) => lexiconCategory('echogenicFoci', c) === null)) return false;
  return !(codes.includes(FOCI_NONE) && codes.length > 1);
}

export function isCode(item: LexiconItem, code: string): boolean {
  return ACR_LEXICON[item].some((c) => c.code === code);
}

/**
 * ACR TI-RADS 2017: one category per item (foci: the sum of all that apply), points summed to the TR
 * level, recommendation by the maximum diameter. The chart's footnote on spongiform ("do not add further
 * points for other categories") makes a spongiform nodule 0 points, TR1, whatever else is chosen.
 */
export function scoreNodule(codes: NoduleCodes, size: { longMm: number; shortMm: number | null } | null): NoduleScore {
  const single = (item: SingleItem): number | null => {
    const code = codes[item];
    return code === null ? null : (lexiconCategory(item, code)?.points ?? null);
  };
  const foci = codes.echogenicFoci.length === 0 ? null : codes.echogenicFoci.reduce((sum, c) => sum + (lexiconCategory('echogenicFoci', c)?.points ?? 0), 0);
  const points: Record<LexiconItem, number | null> = {
    composition: single('composition'),
    echogenicity: single('echogenicity'),
    shape: single('shape'),
    margin: single('margin'),
    echogenicFoci: foci,
  };
  const values = Object.values(points);
  const totalPoints = otherItemsAddNoPoints(codes.composition) ? 0 : values.includes(null) ? null : values.reduce<number>((sum, p) => sum + (p ?? 0), 0);
  const level = totalPoints === null ? null : trLevel(totalPoints);
  const maxDiameterMm = size ? Math.max(size.longMm, size.shortMm ?? 0) : null;
  return { points, totalPoints, trLevel: level, maxDiameterMm, recommendation: level ? recommendation(level, maxDiameterMm) : null };
}

const ORDER: readonly TrLevel[] = ['TR1', 'TR2', 'TR3', 'TR4', 'TR5'];

/** The highest TR level among scored nodules (the report's overall category), null when none is scored. */
export function highestLevel(levels: readonly (TrLevel | null)[]): TrLevel | null {
  return levels.reduce<TrLevel | null>((top, l) => (l !== null && (top === null || ORDER.indexOf(l) > ORDER.indexOf(top)) ? l : top), null);
}

// C-TIRADS 2020 (#20), chosen per clinic: the same codes read as the Chinese guideline's features.
export { C_TIRADS_ORDER, categoryOfCount, cTiradsRecommendation, featuresFromAcr, highestCategory, scoreCTirads } from './ctirads';
export type { CTiradsCategory, CTiradsFeatures, CTiradsScore } from './ctirads';

/** The scoring systems a clinic can choose (clinics.tirads_system, reports.tirads_system). */
export const TIRADS_SYSTEMS = ['acr-2017', 'c-tirads-2020'] as const;
export type TiradsSystem = (typeof TIRADS_SYSTEMS)[number];
