import { isCode } from '@yunying/nodule-model/tirads-report';
import type { AiNodule, AiResult } from './ai-result';
import { emptyNodule, SINGLE_ITEMS, type NoduleState } from './tirads-state';

/**
 * The AI's descriptors as the report's starting point (#20): one nodule block per nodule the model found
 * on its most suspicious image (ACR: report at most the four most suspicious), each category set to the
 * AI's code and marked `source: 'ai'`, unconfirmed. Nothing is signed from it until the reader confirms
 * or changes each field ("Accept AI findings" confirms them all). A code the chart does not know (an
 * older model) leaves the item unassessed rather than guessing.
 */
export const MAX_PREFILLED_NODULES = 4;

function fromAi(n: AiNodule, sopInstanceUid: string, frameNumber: number): NoduleState {
  const state = emptyNodule();
  for (const item of SINGLE_ITEMS) {
    const code = n.lexicon.find((l) => l.item === item)?.code;
    if (code !== undefined && isCode(item, code)) state[item] = { code, source: 'ai', confirmed: false };
  }
  const foci = n.lexicon.find((l) => l.item === 'echogenicFoci')?.code;
  if (foci !== undefined && isCode('echogenicFoci', foci)) state.echogenicFoci = { codes: [foci], source: 'ai', confirmed: false };
  if (n.sizeMm) state.size = { longMm: n.sizeMm.long, shortMm: n.sizeMm.short, source: 'ai', confirmed: false };
  state.aiNodule = { sopInstanceUid, frameNumber, index: n.index };
  return state;
}

export function aiNodules(result: AiResult | null): NoduleState[] {
  const image = result?.images[0];
  if (!result || !image || result.status !== 'triaged') return [];
  return image.nodules.slice(0, MAX_PREFILLED_NODULES).map((n) => fromAi(n, image.sopInstanceUid, image.frameNumber));
}
