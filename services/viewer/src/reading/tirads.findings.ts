import { z } from 'zod';
import { ACR_LEXICON, type LexiconItem } from '@yunying/nodule-model';
import {
  highestCategory,
  highestLevel,
  scoreCTirads,
  scoreNodule,
  SINGLE_ITEMS,
  validFoci,
  type CTiradsCategory,
  type CTiradsScore,
  type NoduleScore,
  type SingleItem,
  type TiradsSystem,
} from '@yunying/nodule-model/tirads-report';

/**
 * Structured TI-RADS findings of a report version (#20): per nodule the five ACR lexicon items, size and
 * location, each field marked with where it came from ('ai': the AI's prefill, 'reader': chosen or typed
 * by the reader) and whether the reader confirmed it. The points, TR level and recommendation are
 * computed here, on the server, from the categories: a client may send what it displayed, and it is
 * dropped, never stored.
 */

const MAX_NODULES = 10;
const source = z.enum(['ai', 'reader']);

const codeOf = (item: LexiconItem) => z.enum(ACR_LEXICON[item].map((c) => c.code) as [string, ...string[]]);

/** A field the reader has not assessed has no value and cannot be confirmed. */
const singleField = (item: SingleItem) =>
  z
    .object({ code: codeOf(item).nullable(), source, confirmed: z.boolean() })
    .strict()
    .refine((f) => f.code !== null || !f.confirmed, { path: ['confirmed'] })
    // A value the reader chose is their own statement: confirmed by the choosing.
    .transform((f) => ({ ...f, confirmed: f.code !== null && (f.confirmed || f.source === 'reader') }));

const fociField = z
  .object({ codes: z.array(codeOf('echogenicFoci')).max(4), source, confirmed: z.boolean() })
  .strict()
  .refine((f) => validFoci(f.codes), { path: ['codes'] })
  .refine((f) => f.codes.length > 0 || !f.confirmed, { path: ['confirmed'] })
  .transform((f) => ({ ...f, confirmed: f.codes.length > 0 && (f.confirmed || f.source === 'reader') }));

const mm = z.number().positive().max(200);
const sopUid = z.string().regex(/^[0-9]+(\.[0-9]+)*$/).max(64);
const pixel = z.number().min(0).max(65_535);

/**
 * Where a size was measured: the image (and frame) and the caliper's two ends in image pixels (column,
 * row), as the reader drew it in the viewer. The signed SR writes it as a SCOORD the length is inferred from.
 */
const measuredLine = z
  .object({ sopInstanceUid: sopUid, frameNumber: z.number().int().min(1), points: z.tuple([pixel, pixel, pixel, pixel]) })
  .strict();
export type MeasuredLine = z.output<typeof measuredLine>;

const sizeField = z
  .object({ longMm: mm, shortMm: mm.nullable().default(null), longAxisLine: measuredLine.nullable().default(null), source, confirmed: z.boolean() })
  .strict()
  .transform((f) => ({ ...f, confirmed: f.confirmed || f.source === 'reader' }));

/**
 * C-TIRADS 2020 only: comet-tail artefacts seen or not. The reader's own observation (the AI's foci code
 * "none" does not tell them apart), so it is never AI-sourced; null until assessed.
 */
const cometTailField = z
  .object({ present: z.boolean(), source: z.literal('reader'), confirmed: z.boolean().default(true) })
  .strict()
  .transform((f) => ({ ...f, confirmed: true }));

/** Which AI nodule a block was prefilled from, so the record says what the reader had on screen. */
const aiNoduleRef = z.object({ sopInstanceUid: sopUid, frameNumber: z.number().int().min(1), index: z.number().int().min(1) }).strict();

/** What the client may send back from its own display; accepted so an echoed view saves, then dropped. */
const displayOnly = z.unknown().optional();

export const noduleInput = z
  .object({
    location: z.string().max(200).default(''),
    composition: singleField('composition'),
    echogenicity: singleField('echogenicity'),
    shape: singleField('shape'),
    margin: singleField('margin'),
    echogenicFoci: fociField,
    size: sizeField.nullable().default(null),
    cometTail: cometTailField.nullable().default(null),
    // A nodule proven malignant by cytology or histology: C-TIRADS 6 (the reader states it).
    provenMalignant: z.boolean().default(false),
    aiNodule: aiNoduleRef.nullable().default(null),
    score: displayOnly,
    trLevel: displayOnly,
    points: displayOnly,
    recommendation: displayOnly,
    cTirads: displayOnly,
  })
  .strict()
  .transform(({ score: _s, trLevel: _t, points: _p, recommendation: _r, cTirads: _c, ...nodule }) => nodule);
export type NoduleInput = z.output<typeof noduleInput>;

export const nodulesInput = z.array(noduleInput).max(MAX_NODULES).default([]);

/**
 * A nodule as stored and shown: the reader's fields plus the server's ACR score, and in a C-TIRADS version
 * the C-TIRADS count, category and recommendation from the same codes.
 */
export type StoredNodule = NoduleInput & { score: NoduleScore; cTirads?: CTiradsScore };

export function scoreNodules(nodules: readonly NoduleInput[], system: TiradsSystem = 'acr-2017'): StoredNodule[] {
  return nodules.map((n) => {
    const codes = { composition: n.composition.code, echogenicity: n.echogenicity.code, shape: n.shape.code, margin: n.margin.code, echogenicFoci: n.echogenicFoci.codes };
    const size = n.size ? { longMm: n.size.longMm, shortMm: n.size.shortMm } : null;
    return {
      ...n,
      score: scoreNodule(codes, size),
      ...(system === 'c-tirads-2020' ? { cTirads: scoreCTirads(codes, { cometTail: n.cometTail?.present ?? null, provenMalignant: n.provenMalignant }, size) } : {}),
    };
  });
}

/** A C-TIRADS version's overall category (C-TR1 without a nodule); null for an ACR version. */
export function overallCTirads(nodules: readonly StoredNodule[], system: string): CTiradsCategory | null {
  if (system !== 'c-tirads-2020') return null;
  return highestCategory(nodules.map((n) => n.cTirads?.category ?? null), nodules.length === 0);
}

/** The report's overall category from its nodules (the most suspicious one), null without a scored nodule. */
export function overallLevel(nodules: readonly StoredNodule[]): ReturnType<typeof highestLevel> {
  return highestLevel(nodules.map((n) => n.score.trLevel));
}

export function usesAi(nodules: readonly NoduleInput[]): boolean {
  return nodules.some((n) => n.aiNodule !== null || [...SINGLE_ITEMS.map((i) => n[i].source), n.echogenicFoci.source, n.size?.source].includes('ai'));
}

/**
 * The fields that keep a version from being signed: every lexicon item must be assessed and confirmed
 * (an AI value the reader neither confirmed nor changed), and a size, when given, confirmed. Named by
 * path only (`nodules[0].margin`), never by value.
 */
export function unconfirmedFields(nodules: readonly NoduleInput[], system: string = 'acr-2017'): string[] {
  return nodules.flatMap((n, i) => [
    ...SINGLE_ITEMS.filter((item) => !n[item].confirmed).map((item) => `nodules[${i}].${item}`),
    ...(n.echogenicFoci.confirmed ? [] : [`nodules[${i}].echogenicFoci`]),
    ...(n.size && !n.size.confirmed ? [`nodules[${i}].size`] : []),
    // C-TIRADS counts comet-tail artefacts: unassessed, the category cannot be computed.
    ...(system === 'c-tirads-2020' && !(n.cometTail?.confirmed ?? false) ? [`nodules[${i}].cometTail`] : []),
  ]);
}

/** Stored JSON back to the typed shape (rows written by scoreNodules only). */
export function storedNodules(value: unknown): StoredNodule[] {
  return Array.isArray(value) ? (value as StoredNodule[]) : [];
}
