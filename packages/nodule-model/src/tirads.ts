/**
 * ACR TI-RADS 2017 (Tessler et al., JACR 2017;14:587-595): the five lexicon categories, their points,
 * the TR level the points add up to and the FNA / follow-up recommendation by size. This is the one
 * vocabulary shared by the triage model's per-nodule findings, the viewer's AI panel and the
 * structured report, so what the AI suggests and what the reader confirms are the same codes.
 */

import type { Descriptors } from './nodule.descriptors';

export type LexiconItem = 'composition' | 'echogenicity' | 'shape' | 'margin' | 'echogenicFoci';

export const LEXICON_ITEMS: readonly LexiconItem[] = ['composition', 'echogenicity', 'shape', 'margin', 'echogenicFoci'];

export interface LexiconCategory {
  code: string;
  label: string;
  points: number;
}

/** Categories per item, in the order of the ACR chart (points ascending within an item). */
export const ACR_LEXICON: Readonly<Record<LexiconItem, readonly LexiconCategory[]>> = {
  composition: [
    { code: 'cystic', label: 'Cystic or almost completely cystic', points: 0 },
    { code: 'spongiform', label: 'Spongiform', points: 0 },
    { code: 'mixed', label: 'Mixed cystic and solid', points: 1 },
    { code: 'solid', label: 'Solid or almost completely solid', points: 2 },
  ],
  echogenicity: [
    { code: 'anechoic', label: 'Anechoic', points: 0 },
    { code: 'hyper-iso', label: 'Hyperechoic or isoechoic', points: 1 },
    { code: 'hypo', label: 'Hypoechoic', points: 2 },
    { code: 'very-hypo', label: 'Very hypoechoic', points: 3 },
  ],
  shape: [
    { code: 'wider', label: 'Wider-than-tall', points: 0 },
    { code: 'taller', label: 'Taller-than-wide', points: 3 },
  ],
  margin: [
    { code: 'smooth', label: 'Smooth', points: 0 },
    { code: 'ill-defined', label: 'Ill-defined', points: 0 },
    { code: 'lobulated-irregular', label: 'Lobulated or irregular', points: 2 },
    { code: 'extrathyroidal', label: 'Extra-thyroidal extension', points: 3 },
  ],
  echogenicFoci: [
    { code: 'none', label: 'None or large comet-tail artifacts', points: 0 },
    { code: 'macro', label: 'Macrocalcifications', points: 1 },
    { code: 'peripheral', label: 'Peripheral (rim) calcifications', points: 2 },
    { code: 'punctate', label: 'Punctate echogenic foci', points: 3 },
  ],
};

export type TrLevel = 'TR1' | 'TR2' | 'TR3' | 'TR4' | 'TR5';

export function lexiconCategory(item: LexiconItem, code: string): LexiconCategory | null {
  return ACR_LEXICON[item].find((c) => c.code === code) ?? null;
}

/**
 * TR level from total points. The chart lists 0, 2, 3, 4-6 and >=7; a total of 1 (e.g. mixed and
 * anechoic) is not listed: it is placed in TR2, the more cautious neighbour (TR1 and TR2 share the
 * same "no FNA" recommendation, so nothing downstream changes).
 */
export function trLevel(points: number): TrLevel {
  if (points <= 0) return 'TR1';
  if (points <= 2) return 'TR2';
  if (points === 3) return 'TR3';
  if (points <= 6) return 'TR4';
  return 'TR5';
}

export type Recommendation = 'fna' | 'follow-up' | 'none';

/** ACR size thresholds (maximum diameter, mm): [FNA at or above, follow-up at or above]. */
const SIZE_THRESHOLDS_MM: Readonly<Record<TrLevel, readonly [number, number] | null>> = {
  TR1: null,
  TR2: null,
  TR3: [25, 15],
  TR4: [15, 10],
  TR5: [10, 5],
};

export function recommendation(level: TrLevel, maxDiameterMm: number | null): { action: Recommendation; rule: string } {
  const limits = SIZE_THRESHOLDS_MM[level];
  if (!limits) return { action: 'none', rule: `${level}: no FNA` };
  const [fna, follow] = limits;
  if (maxDiameterMm === null) return { action: 'none', rule: `${level}: size unknown (FNA if >= ${fna / 10} cm, follow-up if >= ${follow / 10} cm)` };
  if (maxDiameterMm >= fna) return { action: 'fna', rule: `${level}: FNA if >= ${fna / 10} cm` };
  if (maxDiameterMm >= follow) return { action: 'follow-up', rule: `${level}: follow-up if >= ${follow / 10} cm` };
  return { action: 'none', rule: `${level}: below ${follow / 10} cm, no follow-up` };
}

/** One lexicon item as the model predicts it: the most likely category and every category's probability. */
export interface LexiconPrediction {
  item: LexiconItem;
  code: string;
  label: string;
  points: number;
  /** Probability of the predicted category (0..1). */
  confidence: number;
  /** Probability per category code. */
  probabilities: Record<string, number>;
  /**
   * 'model' when a trained head predicts it, 'outline' when measured from the outline (shape), 'composition'
   * when the chart fixes it from the predicted composition (a cystic nodule's echogenicity is anechoic).
   */
  basis: 'model' | 'outline' | 'composition';
}

/** A nodule the triage found (or a reader pointed at) on one frame. The wire contract of the AI panel. */
export interface NoduleFinding {
  /** 1-based index within its frame, most suspicious first. */
  index: number;
  /** 'auto' from the triage run; 'reader' from a reader-initiated request in the viewer. */
  source: 'auto' | 'reader';
  /**
   * 'calipers' when the triage took the box from the sonographer's caliper marks on the frame (scored as
   * a named box: the box combiner and its thresholds); absent when the nodule finder located it.
   */
  locatedBy?: 'calipers';
  /** Locator confidence (0..1) that this is a nodule. */
  confidence: number;
  /** Box in image pixels ((0,0) = top-left corner of the top-left pixel). */
  box: { x: number; y: number; width: number; height: number };
  /** Closed polygon [x, y][] in image pixels. */
  outline: [number, number][];
  /** Calibrated suspicion score P(TI-RADS >= 4) at the model's stated prevalence. */
  score: number;
  lexicon: LexiconPrediction[];
  tiradsPoints: number;
  trLevel: TrLevel;
  /** Longest and perpendicular diameter in mm when the frame is calibrated, otherwise null. */
  sizeMm: { long: number; short: number } | null;
  /**
   * What was measured on the nodule's region, the evidence the lexicon categories and the score come
   * from (nodule.descriptors.ts). Absent on results of model versions before 3.
   */
  measured?: Descriptors;
}

/**
 * The chart's footnote on spongiform composition: "do not add further points for other categories". A
 * spongiform nodule is 0 points, TR1, whatever its other items say. The AI panel and the structured report
 * both apply it, so the AI's level and the reader's agree when their categories do.
 */
export function otherItemsAddNoPoints(compositionCode: string | null): boolean {
  return compositionCode === 'spongiform';
}

/**
 * The chart's echogenicity for a cystic nodule: "anechoic" (0 points) applies to cystic or almost completely
 * cystic nodules, and only to them, so an AI reading that predicts a cystic composition reads anechoic, not the
 * echogenicity head's choice among the solid-tissue categories (which has no anechoic class). Other readings
 * are returned as they are.
 */
export function withChartEchogenicity(lexicon: readonly LexiconPrediction[]): LexiconPrediction[] {
  const composition = lexicon.find((l) => l.item === 'composition');
  if (composition?.code !== 'cystic') return [...lexicon];
  const anechoic = lexiconCategory('echogenicity', 'anechoic');
  return lexicon.map((l) =>
    l.item === 'echogenicity' ? { ...l, code: 'anechoic', label: anechoic?.label ?? 'Anechoic', points: anechoic?.points ?? 0, confidence: composition.confidence, basis: 'composition' } : l,
  );
}

/** Sums the points of a lexicon reading (one category per item) into the TR level, by the chart's rules. */
export function tiradsOf(lexicon: readonly { item: LexiconItem; code: string; points: number }[]): { points: number; level: TrLevel } {
  const composition = lexicon.find((l) => l.item === 'composition')?.code ?? null;
  const points = otherItemsAddNoPoints(composition) ? 0 : lexicon.reduce((sum, l) => sum + l.points, 0);
  return { points, level: trLevel(points) };
}
