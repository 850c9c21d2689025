import { describe, expect, it } from '@jest/globals';
import { aiNodules } from './ai-prefill';
import { confirmAi, cTiradsOf, cTiradsText, emptyNodule, scoreOf, scoreText, unconfirmedCount } from './tirads-state';
import type { AiNodule, AiResult } from './ai-result';

const nodule: AiNodule = {
  index: 1,
  source: 'auto',
  locatedBy: null,
  confidence: 0.9,
  score: 0.4,
  box: { x: 10, y: 20, width: 50, height: 40 },
  outline: [],
  lexicon: [
    { item: 'composition', code: 'solid', label: 'Solid or almost completely solid', points: 2, confidence: 0.7, basis: 'model' },
    { item: 'echogenicity', code: 'hypo', label: 'Hypoechoic', points: 2, confidence: 0.6, basis: 'model' },
    { item: 'shape', code: 'wider', label: 'Wider-than-tall', points: 0, confidence: 1, basis: 'outline' },
    { item: 'margin', code: 'smooth', label: 'Smooth', points: 0, confidence: 0.8, basis: 'model' },
    { item: 'echogenicFoci', code: 'none', label: 'None or large comet-tail artifacts', points: 0, confidence: 0.5, basis: 'model' },
  ],
  tiradsPoints: 4,
  trLevel: 'TR4',
  sizeMm: { long: 12.3, short: 8.1 },
  measured: {},
};

function result(status: AiResult['status'], nodules: AiNodule[]): AiResult {
  return {
    id: 'r1',
    current: true,
    modelId: 'm',
    modelVersion: '3.0.0',
    status,
    reason: null,
    score: 0.4,
    category: 'priority',
    priority: 'priority',
    images: [{ sopInstanceUid: '1.2.3', seriesInstanceUid: null, score: 0.4, category: null, frameNumber: 3, box: null, outline: [], located: true, nodules }],
  };
}

describe('AI prefill of the structured report', () => {
  it('turns each nodule of the top image into a block of AI-suggested, unconfirmed fields', () => {
    const [block, ...rest] = aiNodules(result('triaged', [nodule, { ...nodule, index: 2 }]));
    expect(rest).toHaveLength(1);
    expect(block).toEqual({
      location: '',
      composition: { code: 'solid', source: 'ai', confirmed: false },
      echogenicity: { code: 'hypo', source: 'ai', confirmed: false },
      shape: { code: 'wider', source: 'ai', confirmed: false },
      margin: { code: 'smooth', source: 'ai', confirmed: false },
      echogenicFoci: { codes: ['none'], source: 'ai', confirmed: false },
      size: { longMm: 12.3, shortMm: 8.1, source: 'ai', confirmed: false },
      // The AI's foci "none" includes comet-tail artefacts: C-TIRADS waits for the reader to say.
      cometTail: null,
      provenMalignant: false,
      aiNodule: { sopInstanceUid: '1.2.3', frameNumber: 3, index: 1 },
    });
    expect(block && scoreOf(block)).toMatchObject({ totalPoints: 4, trLevel: 'TR4', recommendation: { action: 'follow-up' } });
    expect(unconfirmedCount(block ? [block] : [])).toBe(6);
    expect(unconfirmedCount(block ? [confirmAi(block)] : [])).toBe(0);
  });

  it('maps the AI prefill to C-TIRADS through the same codes, comet-tail left to the reader', () => {
    const [block] = aiNodules(result('triaged', [nodule]));
    if (!block) throw new Error('no block');
    // Solid +1; hypoechoic (not markedly), wider, smooth, no foci: 1 feature once comet-tail is stated.
    expect(cTiradsOf(block)).toMatchObject({ features: { solid: true, markedlyHypoechoic: false, suspiciousMargin: false, microcalcifications: false, tallerThanWide: false, cometTail: null }, category: null });
    expect(unconfirmedCount([confirmAi(block)], 'c-tirads-2020')).toBe(1);
    const stated = { ...confirmAi(block), cometTail: { present: false, source: 'reader' as const, confirmed: true } };
    expect(unconfirmedCount([stated], 'c-tirads-2020')).toBe(0);
    expect(cTiradsOf({ ...stated, provenMalignant: true }).category).toBe('C-TR6');
    expect(cTiradsText(cTiradsOf(stated))).toBe('1 feature · C-TR4A, low suspicion · Ultrasound follow-up (C-TR4A: up to 1.5 cm, follow-up; FNA only for suspected extension or nodes)');
  });

  it('leaves an item the chart does not know unassessed, and confirming does not invent it', () => {
    const odd = { ...nodule, lexicon: nodule.lexicon.map((l) => (l.item === 'margin' ? { ...l, code: 'fuzzy' } : l)) };
    const [block] = aiNodules(result('triaged', [odd]));
    expect(block?.margin).toEqual({ code: null, source: 'reader', confirmed: false });
    expect(block && unconfirmedCount([confirmAi(block)])).toBe(1);
    expect(block && scoreOf(block).trLevel).toBeNull();
  });

  it('offers at most four nodules, and nothing without a triaged result', () => {
    expect(aiNodules(result('triaged', Array.from({ length: 6 }, (_, i) => ({ ...nodule, index: i + 1 }))))).toHaveLength(4);
    expect(aiNodules(null)).toEqual([]);
    expect(aiNodules(result('triaged', []))).toEqual([]);
    expect(aiNodules(result('not_triaged', [nodule]))).toEqual([]);
    expect(aiNodules(result('no_nodule_found', [nodule]))).toEqual([]);
  });

  it('words the score for people, with the rule behind the recommendation', () => {
    const [block] = aiNodules(result('triaged', [nodule]));
    expect(scoreText(block ? scoreOf(block) : null)).toBe('4 points · TR4, moderately suspicious · Ultrasound follow-up (TR4: follow-up if ≥ 1 cm)');
    expect(scoreText(scoreOf(emptyNodule()))).toBe('Not scored yet: choose every item');
  });
});
