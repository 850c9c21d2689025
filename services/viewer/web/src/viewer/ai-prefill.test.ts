import { describe, expect, it } from '@jest/globals';
import { aiPrefill } from './ai-prefill';
import type { AiNodule, AiResult } from './ai-result';

const nodule: AiNodule = {
  index: 1,
  source: 'auto',
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

function result(status: string, nodules: AiNodule[]): AiResult {
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
    images: [{ sopInstanceUid: '1.2.3', seriesInstanceUid: null, score: 0.4, category: null, frameNumber: 3, box: null, outline: [], located: true, nodules, frameScores: [] }],
  };
}

describe('AI prefill of the report', () => {
  it('turns the top nodule into a findings sentence that says it is the AI suggestion, and its TR level', () => {
    const p = aiPrefill(result('triaged', [nodule]));
    expect(p?.trLevel).toBe('TR4');
    expect(p?.findings).toBe(
      'AI suggestion (model, to be confirmed): nodule on image 1, frame 3: composition solid or almost completely solid (2), echogenicity hypoechoic (2), shape wider-than-tall (0), margin smooth (0), echogenic foci none or large comet-tail artifacts (0); 4 points, ACR TR4; 12.3 × 8.1 mm.',
    );
  });

  it('offers nothing without a triaged result with a nodule', () => {
    expect(aiPrefill(null)).toBeNull();
    expect(aiPrefill(result('triaged', []))).toBeNull();
    expect(aiPrefill(result('not_triaged', [nodule]))).toBeNull();
    expect(aiPrefill(result('no_nodule_found', [nodule]))).toBeNull();
  });
});
