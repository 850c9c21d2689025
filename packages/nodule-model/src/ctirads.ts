/**
 * C-TIRADS 2020 (Chinese guidelines for ultrasound malignancy risk stratification of thyroid nodules,
 * Zhou J et al., Endocrine 2020;70:256-279), as the structured report scores it per nodule (#20). A
 * counting method: each suspicious feature +1, comet-tail artefacts -1; the count gives the category.
 * The features are read from the ACR lexicon codes the report already records (one vocabulary for both
 * systems, one AI prefill), plus what the ACR chart cannot say: whether comet-tail artefacts are present
 * (ACR folds them into "none") and whether the nodule is proven malignant (C-TR6). Pure and free of
 * runtime imports, so the web app can bundle it with the ACR scoring.
 */

export type CTiradsCategory = 'C-TR1' | 'C-TR2' | 'C-TR3' | 'C-TR4A' | 'C-TR4B' | 'C-TR4C' | 'C-TR5' | 'C-TR6';

export const C_TIRADS_ORDER: readonly CTiradsCategory[] = ['C-TR1', 'C-TR2', 'C-TR3', 'C-TR4A', 'C-TR4B', 'C-TR4C', 'C-TR5', 'C-TR6'];

/** The ACR codes a nodule has so far (null: the item is not assessed yet). */
export interface AcrCodes {
  composition: string | null;
  echogenicity: string | null;
  shape: string | null;
  margin: string | null;
  echogenicFoci: readonly string[];
}

/** One feature: true/false once its source item is assessed, null before. */
export type Feature = boolean | null;

export interface CTiradsFeatures {
  /** +1: solid (ACR: solid or almost completely solid). */
  solid: Feature;
  /** +1: markedly hypoechoic (ACR: very hypoechoic, below the strap muscles). */
  markedlyHypoechoic: Feature;
  /** +1: ill-defined, microlobulated or irregular margin, or extrathyroidal extension. */
  suspiciousMargin: Feature;
  /** +1: microcalcifications (ACR: punctate echogenic foci). */
  microcalcifications: Feature;
  /** +1: vertical orientation (ACR: taller-than-wide). */
  tallerThanWide: Feature;
  /** -1: comet-tail artefacts; the reader's own observation (the ACR foci code "none" includes them). */
  cometTail: Feature;
}

export interface CTiradsScore {
  features: CTiradsFeatures;
  /** Sum of the features (-1..5); null while any feature is unassessed. */
  count: number | null;
  category: CTiradsCategory | null;
  maxDiameterMm: number | null;
  recommendation: { action: 'fna' | 'follow-up' | 'none'; rule: string } | null;
}

const MARGINS = new Set(['ill-defined', 'lobulated-irregular', 'extrathyroidal']);

/**
 * The five positive features from the ACR codes (also for the AI's prefill: the AI predicts the ACR items,
 * so its C-TIRADS features are its ACR suggestions read this way, AI-marked until confirmed); comet-tail
 * artefacts are never derived: null until the reader says.
 */
export function featuresFromAcr(codes: AcrCodes, cometTail: boolean | null): CTiradsFeatures {
  const is = (code: string | null, ...yes: string[]): Feature => (code === null ? null : yes.includes(code));
  return {
    solid: is(codes.composition, 'solid'),
    markedlyHypoechoic: is(codes.echogenicity, 'very-hypo'),
    suspiciousMargin: codes.margin === null ? null : MARGINS.has(codes.margin),
    microcalcifications: codes.echogenicFoci.length === 0 ? null : codes.echogenicFoci.includes('punctate'),
    tallerThanWide: is(codes.shape, 'taller'),
    cometTail,
  };
}

/** The count's category: -1 -> 2, 0 -> 3, 1 -> 4A, 2 -> 4B, 3 or 4 -> 4C, 5 -> 5 (the guideline's table). */
export function categoryOfCount(count: number): CTiradsCategory {
  if (count <= -1) return 'C-TR2';
  if (count === 0) return 'C-TR3';
  if (count === 1) return 'C-TR4A';
  if (count === 2) return 'C-TR4B';
  if (count <= 4) return 'C-TR4C';
  return 'C-TR5';
}

/**
 * FNA by category and maximum diameter (the guideline's recommendations): C-TR3 above 2 cm, C-TR4A above
 * 1.5 cm, C-TR4B to 5 above 1 cm; a C-TR4B-5 nodule of 1 cm or less is followed (FNA only with suspected
 * extrathyroidal extension, suspicious nodes or another reason the reader states). C-TR2 needs neither;
 * C-TR6 is already proven and goes to treatment, not to another biopsy.
 */
export function cTiradsRecommendation(category: CTiradsCategory, maxDiameterMm: number | null): { action: 'fna' | 'follow-up' | 'none'; rule: string } {
  if (category === 'C-TR1' || category === 'C-TR2') return { action: 'none', rule: `${category}: benign, no FNA` };
  if (category === 'C-TR6') return { action: 'none', rule: 'C-TR6: proven malignant, refer for treatment' };
  const fnaAboveMm = category === 'C-TR3' ? 20 : category === 'C-TR4A' ? 15 : 10;
  if (maxDiameterMm === null) return { action: 'none', rule: `${category}: size unknown (FNA if > ${fnaAboveMm / 10} cm)` };
  if (maxDiameterMm > fnaAboveMm) return { action: 'fna', rule: `${category}: FNA if > ${fnaAboveMm / 10} cm` };
  if (category === 'C-TR3') return { action: 'none', rule: 'C-TR3: up to 2 cm, no FNA' };
  return { action: 'follow-up', rule: `${category}: up to ${fnaAboveMm / 10} cm, follow-up; FNA only for suspected extension or nodes` };
}

/**
 * One nodule's C-TIRADS category. A cystic or spongiform nodule is benign (C-TR2) as the guideline
 * classifies those patterns, whatever else is chosen; a proven malignancy is C-TR6; otherwise the count.
 */
export function scoreCTirads(codes: AcrCodes, extra: { cometTail: boolean | null; provenMalignant: boolean }, size: { longMm: number; shortMm: number | null } | null): CTiradsScore {
  const features = featuresFromAcr(codes, extra.cometTail);
  const values = Object.values(features) as Feature[];
  const count = values.includes(null)
    ? null
    : (features.solid ? 1 : 0) +
      (features.markedlyHypoechoic ? 1 : 0) +
      (features.suspiciousMargin ? 1 : 0) +
      (features.microcalcifications ? 1 : 0) +
      (features.tallerThanWide ? 1 : 0) -
      (features.cometTail ? 1 : 0);
  const benignPattern = codes.composition === 'cystic' || codes.composition === 'spongiform';
  const category: CTiradsCategory | null = extra.provenMalignant ? 'C-TR6' : benignPattern ? 'C-TR2' : count === null ? null : categoryOfCount(count);
  const maxDiameterMm = size ? Math.max(size.longMm, size.shortMm ?? 0) : null;
  return { features, count, category, maxDiameterMm, recommendation: category === null ? null : cTiradsRecommendation(category, maxDiameterMm) };
}

/** The report's overall C-TIRADS category: the highest of its nodules; C-TR1 for a report without a nodule. */
export function highestCategory(categories: readonly (CTiradsCategory | null)[], noNodules: boolean): CTiradsCategory | null {
  if (noNodules) return 'C-TR1';
  return categories.reduce<CTiradsCategory | null>((top, c) => (c !== null && (top === null || C_TIRADS_ORDER.indexOf(c) > C_TIRADS_ORDER.indexOf(top)) ? c : top), null);
}
