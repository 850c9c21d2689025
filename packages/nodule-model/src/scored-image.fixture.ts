/**
 * A scored image as triage writes it to ai_results (the wire contract's AiScoredImageView, every member filled),
 * from what a test cares about: each nodule's ACR codes, box and size. Its points and TR level are the ACR chart's
 * (scoreNodule), so a test's AI result holds what the model would have written for those codes. For tests that
 * store an AI result (through @yunying/catalog's ai_results writer) rather than run the model.
 */
import type { AiScoredImageView, NoduleFinding } from './ai-result.view';
import type { TriageLevel } from './triage.model';
import { ACR_LEXICON, scoreNodule, type LexiconItem } from './tirads.report';

type Box = NoduleFinding['box'];

/** A nodule by what a test checks: one ACR code per item (a single echogenic-foci code), its box and size. */
export interface AiNoduleSpec {
  codes: Record<LexiconItem, string>;
  box: Box;
  sizeMm: { long: number; short: number } | null;
  /** Calibrated score; 0.7 unless given. */
  score?: number;
}

/** The outline triage stores with a box: its corners, clockwise from top-left. */
function outlineOf(box: Box): [number, number][] {
  return [
    [box.x, box.y],
    [box.x + box.width, box.y],
    [box.x + box.width, box.y + box.height],
    [box.x, box.y + box.height],
  ];
}

function nodule(spec: AiNoduleSpec, index: number): NoduleFinding {
  const lexicon = (Object.keys(ACR_LEXICON) as LexiconItem[]).map((item) => {
    const category = ACR_LEXICON[item].find((c) => c.code === spec.codes[item]);
    if (!category) throw new Error(`no ACR ${item} code ${spec.codes[item]}`);
    return { item, code: category.code, label: category.label, points: category.points, confidence: 0.9, probabilities: { [category.code]: 0.9 }, basis: 'model' as const };
  });
  const size = spec.sizeMm ? { longMm: spec.sizeMm.long, shortMm: spec.sizeMm.short } : null;
  const scored = scoreNodule({ ...spec.codes, echogenicFoci: [spec.codes.echogenicFoci] }, size);
  if (scored.totalPoints === null || scored.trLevel === null) throw new Error('a nodule spec names a code for every item');
  return {
    index,
    source: 'auto',
    confidence: 0.9,
    box: spec.box,
    outline: outlineOf(spec.box),
    score: spec.score ?? 0.7,
    lexicon,
    tiradsPoints: scored.totalPoints,
    trLevel: scored.trLevel,
    sizeMm: spec.sizeMm,
  };
}

/** An image with confident nodules on one frame, most suspicious first; the image's score is its first nodule's. */
export function scoredImage(image: {
  sopInstanceUid: string;
  seriesInstanceUid: string;
  /** The triage level of the image's score; 'flagged' unless given. */
  category?: TriageLevel;
  frameNumber?: number;
  numberOfFrames?: number;
  rows?: number;
  columns?: number;
  nodules: AiNoduleSpec[];
}): AiScoredImageView & { category: TriageLevel } {
  const nodules = image.nodules.map((spec, i) => nodule(spec, i + 1));
  const first = nodules[0];
  if (!first) throw new Error('a scored image has a nodule');
  const frameNumber = image.frameNumber ?? 1;
  return {
    status: 'scored',
    sopInstanceUid: image.sopInstanceUid,
    seriesInstanceUid: image.seriesInstanceUid,
    sopClassUid: '1.2.840.10008.5.1.4.1.1.6.1',
    score: first.score,
    category: image.category ?? 'flagged',
    frameNumber,
    numberOfFrames: image.numberOfFrames ?? 1,
    rows: image.rows ?? 100,
    columns: image.columns ?? 200,
    thyroid: 0.95,
    nodules,
    box: first.box,
    outline: first.outline,
    frames: [{ frameNumber, thyroid: 0.95, score: first.score }],
    inferenceMs: 5,
  };
}
