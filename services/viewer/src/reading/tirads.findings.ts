import { z } from 'zod';
import { ACR_LEXICON, type LexiconItem } from '@yunying/nodule-model';
import { highestLevel, scoreNodule, SINGLE_ITEMS, validFoci, type NoduleScore, type SingleItem } from '@yunying/nodule-model/tirads-report';

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
const sizeField = z
  .object({ longMm: mm, shortMm: mm.nullable().default(null), source, confirmed: z.boolean() })
  .strict()
  .transform((f) => ({ ...f, confirmed: f.confirmed || f.source === 'reader' }));

/** Which AI nodule a block was prefilled from, so the record says what the reader had on screen. */
const aiNoduleRef = z.object({ sopInstanceUid: z.string().regex(/^[0-9]+(\.[0-9]+)*$/).max(64), frameNumber: z.number().int().min(1), index: z.number().int().min(1) }).strict();

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
    aiNodule: aiNoduleRef.nullable().default(null),
    score: displayOnly,
    trLevel: displayOnly,
    points: displayOnly,
    recommendation: displayOnly,
  })
  .strict()
  .transform(({ score: _s, trLevel: _t, points: _p, recommendation: _r, ...nodule }) => nodule);
export type NoduleInput = z.output<typeof noduleInput>;

export const nodulesInput = z.array(noduleInput).max(MAX_NODULES).default([]);

/** A nodule as stored and shown: the reader's fields plus the server's score. */
export type StoredNodule = NoduleInput & { score: NoduleScore };

export function scoreNodules(nodules: readonly NoduleInput[]): StoredNodule[] {
  return nodules.map((n) => ({
    ...n,
    score: scoreNodule(
      { composition: n.composition.code, echogenicity: n.echogenicity.code, shape: n.shape.code, margin: n.margin.code, echogenicFoci: n.echogenicFoci.codes },
      n.size ? { longMm: n.size.longMm, shortMm: n.size.shortMm } : null,
    ),
  }));
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
export function unconfirmedFields(nodules: readonly NoduleInput[]): string[] {
  return nodules.flatMap((n, i) => [
    ...SINGLE_ITEMS.filter((item) => !n[item].confirmed).map((item) => `nodules[${i}].${item}`),
    ...(n.echogenicFoci.confirmed ? [] : [`nodules[${i}].echogenicFoci`]),
    ...(n.size && !n.size.confirmed ? [`nodules[${i}].size`] : []),
  ]);
}

/** Stored JSON back to the typed shape (rows written by scoreNodules only). */
export function storedNodules(value: unknown): StoredNodule[] {
  return Array.isArray(value) ? (value as StoredNodule[]) : [];
}
