import { ACR_LEXICON, scoreCTirads, scoreNodule, SINGLE_ITEMS, type CTiradsScore, type NoduleScore, type SingleItem } from '@yunying/nodule-model/tirads-report';
import { arr, bool, num, obj, str } from '../app/json';

/**
 * One nodule of the structured TI-RADS report as the form holds it (the body of PUT .../report/draft,
 * services/viewer/src/reading/tirads.findings.ts): each field says whether the AI suggested it or the
 * reader chose it, and whether the reader confirmed it. Pure functions, so the rules are unit-tested.
 */
export type Source = 'ai' | 'reader';
export interface Field {
  code: string | null;
  source: Source;
  confirmed: boolean;
}
export interface FociField {
  codes: string[];
  source: Source;
  confirmed: boolean;
}
/** Where the long axis was measured: the image, frame and caliper ends (image pixels), for the signed SR. */
export interface MeasuredLine {
  sopInstanceUid: string;
  frameNumber: number;
  points: [number, number, number, number];
}

export interface SizeField {
  longMm: number;
  shortMm: number | null;
  /** Set when the long axis came from the caliper on an image; dropped when the reader types another value. */
  longAxisLine?: MeasuredLine | null;
  source: Source;
  confirmed: boolean;
}
export interface NoduleState {
  location: string;
  composition: Field;
  echogenicity: Field;
  shape: Field;
  margin: Field;
  echogenicFoci: FociField;
  size: SizeField | null;
  /** C-TIRADS only: comet-tail artefacts seen or not; always the reader's own statement. */
  cometTail: { present: boolean; source: 'reader'; confirmed: boolean } | null;
  /** C-TIRADS 6: proven malignant by cytology or histology (the reader states it). */
  provenMalignant: boolean;
  aiNodule: { sopInstanceUid: string; frameNumber: number; index: number } | null;
}

/** The scoring system of the report being written (the server says which: the clinic's choice). */
export type System = 'acr-2017' | 'c-tirads-2020';
export const SYSTEM_NAME: Record<System, string> = { 'acr-2017': 'ACR TI-RADS 2017', 'c-tirads-2020': 'C-TIRADS 2020' };
export const systemOf = (value: unknown): System => (value === 'c-tirads-2020' ? 'c-tirads-2020' : 'acr-2017');

export { SINGLE_ITEMS, type SingleItem };
export const ITEM_LABEL: Record<SingleItem | 'echogenicFoci', string> = {
  composition: 'Composition',
  echogenicity: 'Echogenicity',
  shape: 'Shape',
  margin: 'Margin',
  echogenicFoci: 'Echogenic foci',
};
export const LEXICON = ACR_LEXICON;

export function emptyNodule(): NoduleState {
  const blank = (): Field => ({ code: null, source: 'reader', confirmed: false });
  return {
    location: '',
    composition: blank(),
    echogenicity: blank(),
    shape: blank(),
    margin: blank(),
    echogenicFoci: { codes: [], source: 'reader', confirmed: false },
    size: null,
    cometTail: null,
    provenMalignant: false,
    aiNodule: null,
  };
}

/** The live score, the same function the server stores its own from (the server's value is the record). */
export function scoreOf(n: NoduleState): NoduleScore {
  return scoreNodule(
    { composition: n.composition.code, echogenicity: n.echogenicity.code, shape: n.shape.code, margin: n.margin.code, echogenicFoci: n.echogenicFoci.codes },
    n.size ? { longMm: n.size.longMm, shortMm: n.size.shortMm } : null,
  );
}

/** The live C-TIRADS score from the same codes (the server stores its own). */
export function cTiradsOf(n: NoduleState): CTiradsScore {
  return scoreCTirads(
    { composition: n.composition.code, echogenicity: n.echogenicity.code, shape: n.shape.code, margin: n.margin.code, echogenicFoci: n.echogenicFoci.codes },
    { cometTail: n.cometTail?.present ?? null, provenMalignant: n.provenMalignant },
    n.size ? { longMm: n.size.longMm, shortMm: n.size.shortMm } : null,
  );
}

/**
 * Fields still waiting for the reader: an AI suggestion neither confirmed nor changed, or an item not
 * assessed; in C-TIRADS also comet-tail artefacts not yet stated.
 */
export function unconfirmedCount(nodules: readonly NoduleState[], system: System = 'acr-2017'): number {
  return nodules.reduce(
    (sum, n) =>
      sum +
      SINGLE_ITEMS.filter((i) => !n[i].confirmed).length +
      (n.echogenicFoci.confirmed ? 0 : 1) +
      (n.size && !n.size.confirmed ? 1 : 0) +
      (system === 'c-tirads-2020' && n.cometTail === null ? 1 : 0),
    0,
  );
}

/** "Accept AI findings": every AI suggestion that has a value becomes confirmed; the reader's own fields stay. */
export function confirmAi(n: NoduleState): NoduleState {
  const single = (f: Field): Field => (f.source === 'ai' && f.code !== null ? { ...f, confirmed: true } : f);
  return {
    ...n,
    composition: single(n.composition),
    echogenicity: single(n.echogenicity),
    shape: single(n.shape),
    margin: single(n.margin),
    echogenicFoci: n.echogenicFoci.source === 'ai' && n.echogenicFoci.codes.length > 0 ? { ...n.echogenicFoci, confirmed: true } : n.echogenicFoci,
    size: n.size?.source === 'ai' ? { ...n.size, confirmed: true } : n.size,
  };
}

const source = (v: unknown): Source => (v === 'ai' ? 'ai' : 'reader');

function parseLine(value: unknown): MeasuredLine | null {
  const o = obj(value);
  const sop = str(o.sopInstanceUid);
  const frame = num(o.frameNumber);
  const points = arr(o.points).map(num);
  if (sop === null || frame === null || points.length !== 4 || points.some((p) => p === null)) return null;
  const [x1, y1, x2, y2] = points as number[];
  return { sopInstanceUid: sop, frameNumber: frame, points: [x1 ?? 0, y1 ?? 0, x2 ?? 0, y2 ?? 0] };
}

/** A nodule of a report version as the server returned it (fields as stored, plus its `score`). */
export function parseStoredNodule(value: unknown): (NoduleState & { score: NoduleScore | null; cTirads: CTiradsScore | null }) | null {
  const o = obj(value);
  const field = (v: unknown): Field => {
    const f = obj(v);
    return { code: str(f.code), source: source(f.source), confirmed: bool(f.confirmed) ?? false };
  };
  const foci = obj(o.echogenicFoci);
  const size = obj(o.size);
  const longMm = num(size.longMm);
  const ai = obj(o.aiNodule);
  const sop = str(ai.sopInstanceUid);
  const state: NoduleState = {
    location: str(o.location) ?? '',
    composition: field(o.composition),
    echogenicity: field(o.echogenicity),
    shape: field(o.shape),
    margin: field(o.margin),
    echogenicFoci: { codes: arr(foci.codes).flatMap((c) => (typeof c === 'string' ? [c] : [])), source: source(foci.source), confirmed: bool(foci.confirmed) ?? false },
    size: longMm === null ? null : { longMm, shortMm: num(size.shortMm), longAxisLine: parseLine(size.longAxisLine), source: source(size.source), confirmed: bool(size.confirmed) ?? false },
    cometTail: bool(obj(o.cometTail).present) === null ? null : { present: bool(obj(o.cometTail).present) ?? false, source: 'reader', confirmed: true },
    provenMalignant: bool(o.provenMalignant) ?? false,
    aiNodule: sop ? { sopInstanceUid: sop, frameNumber: num(ai.frameNumber) ?? 1, index: num(ai.index) ?? 1 } : null,
  };
  const score = obj(o.score);
  const stored = str(score.trLevel) === null && num(score.totalPoints) === null ? null : (score as unknown as NoduleScore);
  const c = obj(o.cTirads);
  return { ...state, score: stored, cTirads: str(c.category) === null && num(c.count) === null ? null : (c as unknown as CTiradsScore) };
}

const C_NAME: Record<string, string> = {
  'C-TR1': 'no nodule',
  'C-TR2': 'benign',
  'C-TR3': 'probably benign',
  'C-TR4A': 'low suspicion',
  'C-TR4B': 'intermediate suspicion',
  'C-TR4C': 'moderately high suspicion',
  'C-TR5': 'highly suggestive of malignancy',
  'C-TR6': 'proven malignant',
};

/** The C-TIRADS score in words: "4 features · C-TR4C, moderately high suspicion · FNA recommended (C-TR4C: FNA if > 1 cm)". */
export function cTiradsText(score: CTiradsScore | null): string {
  if (!score || score.category === null) return 'C-TIRADS not scored yet: choose every item and state comet-tail artefacts';
  const rec = score.recommendation;
  const count = score.count === null ? '' : `${score.count} ${Math.abs(score.count) === 1 ? 'feature' : 'features'} · `;
  return `${count}${score.category}, ${C_NAME[score.category] ?? ''} · ${rec ? `${ACTION[rec.action] ?? rec.action} (${rec.rule})` : ''}`;
}

const LEVEL_NAME: Record<string, string> = {
  TR1: 'benign',
  TR2: 'not suspicious',
  TR3: 'mildly suspicious',
  TR4: 'moderately suspicious',
  TR5: 'highly suspicious',
};
const ACTION: Record<string, string> = { fna: 'FNA recommended', 'follow-up': 'Ultrasound follow-up', none: 'No FNA or follow-up' };

/** The score in words: "11 points · TR5, highly suspicious · FNA recommended (TR5: FNA if ≥ 1 cm)". */
export function scoreText(score: NoduleScore | null): string {
  if (!score || score.trLevel === null) return 'Not scored yet: choose every item';
  const rec = score.recommendation;
  const why = rec ? ` (${rec.rule.replaceAll('>=', '≥')})` : '';
  return `${score.totalPoints ?? '?'} points · ${score.trLevel}, ${LEVEL_NAME[score.trLevel] ?? ''} · ${rec ? (ACTION[rec.action] ?? rec.action) : ''}${why}`;
}

/** The label of a category code ("very-hypo" -> "Very hypoechoic"), the code itself if unknown. */
export function codeLabel(item: SingleItem | 'echogenicFoci', code: string): string {
  return LEXICON[item].find((c) => c.code === code)?.label ?? code;
}
