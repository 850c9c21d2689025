import type { AiNodule, AiResult } from './ai-result';

/**
 * What the report form takes from the AI when the reader asks for it ("Fill from AI"): the most
 * suspicious nodule's ACR TI-RADS reading as a findings sentence, and its TR level for the category
 * field. Nothing is filled without that click, and everything stays editable: the reader signs what
 * the report says, and the sentence names itself as the AI's suggestion.
 */
export interface AiPrefill {
  trLevel: string;
  findings: string;
}

const ITEM: Record<string, string> = {
  composition: 'composition',
  echogenicity: 'echogenicity',
  shape: 'shape',
  margin: 'margin',
  echogenicFoci: 'echogenic foci',
};

function noduleSentence(n: AiNodule, imageIndex: number, frameNumber: number): string {
  const items = n.lexicon.map((l) => `${ITEM[l.item] ?? l.item} ${l.label.toLowerCase()} (${l.points})`).join(', ');
  const size = n.sizeMm ? `; ${n.sizeMm.long} × ${n.sizeMm.short} mm` : '';
  return `AI suggestion (model, to be confirmed): nodule on image ${imageIndex}, frame ${frameNumber}: ${items}; ${n.tiradsPoints} points, ACR ${n.trLevel}${size}.`;
}

export function aiPrefill(result: AiResult | null): AiPrefill | null {
  const image = result?.images[0];
  const nodule = image?.nodules[0];
  if (!result || !image || !nodule || result.status !== 'triaged') return null;
  return { trLevel: nodule.trLevel, findings: noduleSentence(nodule, 1, image.frameNumber) };
}
