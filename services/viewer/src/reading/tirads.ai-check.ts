import { SINGLE_ITEMS } from '@yunying/nodule-model/tirads-report';
import type { NoduleInput } from './tirads.findings';

/**
 * "AI-suggested" must mean what the AI said: a field marked `source: 'ai'` carries the code (or size) of
 * the AI nodule its block names (`aiNodule`: instance + index in the cited AI result), else the record
 * would credit the model with a reader's choice or hide a reader's change. Returns the offending field
 * paths (`nodules[0].margin`), never values.
 */

interface AiNoduleJson {
  index?: unknown;
  lexicon?: unknown;
  sizeMm?: { long?: unknown; short?: unknown } | null;
}

/** The AI result's nodule the block names, from the stored `images` JSON (services/inference result shape). */
function findAiNodule(images: unknown, ref: NonNullable<NoduleInput['aiNodule']>): AiNoduleJson | null {
  if (!Array.isArray(images)) return null;
  for (const image of images as { sopInstanceUid?: unknown; nodules?: unknown }[]) {
    if (image?.sopInstanceUid !== ref.sopInstanceUid || !Array.isArray(image.nodules)) continue;
    const found = (image.nodules as AiNoduleJson[]).find((n) => n?.index === ref.index);
    if (found) return found;
  }
  return null;
}

function aiCode(nodule: AiNoduleJson, item: string): string | null {
  if (!Array.isArray(nodule.lexicon)) return null;
  const entry = (nodule.lexicon as { item?: unknown; code?: unknown }[]).find((l) => l?.item === item);
  return typeof entry?.code === 'string' ? entry.code : null;
}

/** Sizes are compared to 0.05 mm: the browser sends back the number it was given, through JSON. */
const sameMm = (a: number | null, b: unknown): boolean => (a === null ? b === null || b === undefined : typeof b === 'number' && Math.abs(a - b) < 0.05);

export function aiFieldMismatches(nodules: readonly NoduleInput[], images: unknown): string[] {
  return nodules.flatMap((n, i) => {
    const marked: string[] = [...SINGLE_ITEMS.filter((item) => n[item].source === 'ai'), ...(n.echogenicFoci.source === 'ai' ? ['echogenicFoci'] : []), ...(n.size?.source === 'ai' ? ['size'] : [])];
    if (marked.length === 0) return [];
    const ai = n.aiNodule ? findAiNodule(images, n.aiNodule) : null;
    if (!ai) return [`nodules[${i}].aiNodule`];
    const size = ai.sizeMm ?? null;
    return marked
      .filter((field) => {
        if (field === 'size') return !(n.size && size && sameMm(n.size.longMm, size.long) && sameMm(n.size.shortMm, size.short));
        if (field === 'echogenicFoci') {
          const code = aiCode(ai, field);
          return !(code !== null && n.echogenicFoci.codes.length === 1 && n.echogenicFoci.codes[0] === code);
        }
        const item = SINGLE_ITEMS.find((i) => i === field);
        return item === undefined || n[item].code !== aiCode(ai, field);
      })
      .map((field) => `nodules[${i}].${field}`);
  });
}
