import { categoryOfCount, cTiradsRecommendation, featuresFromAcr, highestCategory, scoreCTirads } from './ctirads';

const codes = (composition: string, echogenicity: string, shape: string, margin: string, foci: string[]) => ({ composition, echogenicity, shape, margin, echogenicFoci: foci });
const plain = { cometTail: false, provenMalignant: false };

describe('C-TIRADS 2020 scoring', () => {
  it('counts the five suspicious features and comet-tail artefacts as the guideline does', () => {
    // Solid, markedly hypoechoic, irregular, punctate foci, taller-than-wide: 5 -> C-TR5.
    expect(scoreCTirads(codes('solid', 'very-hypo', 'taller', 'lobulated-irregular', ['punctate']), plain, null)).toMatchObject({ count: 5, category: 'C-TR5' });
    // Solid and hypoechoic (not markedly), smooth, no foci, wider: 1 -> 4A.
    expect(scoreCTirads(codes('solid', 'hypo', 'wider', 'smooth', ['none']), plain, null)).toMatchObject({ count: 1, category: 'C-TR4A' });
    // Ill-defined margin counts as suspicious (with irregular and extrathyroidal extension).
    expect(scoreCTirads(codes('solid', 'hypo', 'wider', 'ill-defined', ['none']), plain, null)).toMatchObject({ count: 2, category: 'C-TR4B' });
    expect(scoreCTirads(codes('mixed', 'very-hypo', 'wider', 'extrathyroidal', ['macro', 'punctate']), plain, null)).toMatchObject({ count: 3, category: 'C-TR4C' });
    // Mixed, isoechoic, smooth, no foci: 0 -> C-TR3; with comet-tail artefacts -1 -> C-TR2.
    expect(scoreCTirads(codes('mixed', 'hyper-iso', 'wider', 'smooth', ['none']), plain, null)).toMatchObject({ count: 0, category: 'C-TR3' });
    expect(scoreCTirads(codes('mixed', 'hyper-iso', 'wider', 'smooth', ['none']), { cometTail: true, provenMalignant: false }, null)).toMatchObject({ count: -1, category: 'C-TR2' });
    expect([-1, 0, 1, 2, 3, 4, 5].map(categoryOfCount)).toEqual(['C-TR2', 'C-TR3', 'C-TR4A', 'C-TR4B', 'C-TR4C', 'C-TR4C', 'C-TR5']);
  });

  it('classifies cystic and spongiform nodules as benign, proven malignancy as C-TR6, and waits for every feature', () => {
    expect(scoreCTirads(codes('spongiform', 'hypo', 'wider', 'smooth', ['none']), plain, null).category).toBe('C-TR2');
    expect(scoreCTirads(codes('cystic', 'anechoic', 'wider', 'smooth', ['none']), plain, null).category).toBe('C-TR2');
    expect(scoreCTirads(codes('mixed', 'hyper-iso', 'wider', 'smooth', ['none']), { cometTail: false, provenMalignant: true }, null).category).toBe('C-TR6');
    // Comet-tail unassessed (the AI cannot tell it from "none"): no count, no category yet.
    expect(scoreCTirads(codes('solid', 'very-hypo', 'taller', 'smooth', ['punctate']), { cometTail: null, provenMalignant: false }, null)).toMatchObject({ count: null, category: null, recommendation: null });
    expect(featuresFromAcr({ composition: null, echogenicity: 'very-hypo', shape: null, margin: 'smooth', echogenicFoci: [] }, null)).toEqual({
      solid: null,
      markedlyHypoechoic: true,
      suspiciousMargin: false,
      microcalcifications: null,
      tallerThanWide: null,
      cometTail: null,
    });
  });

  it('recommends FNA by the category’s size threshold', () => {
    expect(cTiradsRecommendation('C-TR3', 21).action).toBe('fna');
    expect(cTiradsRecommendation('C-TR3', 20).action).toBe('none');
    expect(cTiradsRecommendation('C-TR4A', 16).action).toBe('fna');
    expect(cTiradsRecommendation('C-TR4A', 15).action).toBe('follow-up');
    expect(cTiradsRecommendation('C-TR4B', 11).action).toBe('fna');
    expect(cTiradsRecommendation('C-TR5', 8)).toEqual({ action: 'follow-up', rule: 'C-TR5: up to 1 cm, follow-up; FNA only for suspected extension or nodes' });
    expect(cTiradsRecommendation('C-TR2', 40).action).toBe('none');
    expect(cTiradsRecommendation('C-TR6', 40).action).toBe('none');
    expect(cTiradsRecommendation('C-TR4C', null).rule).toBe('C-TR4C: size unknown (FNA if > 1 cm)');
    expect(scoreCTirads(codes('solid', 'very-hypo', 'wider', 'smooth', ['none']), plain, { longMm: 12, shortMm: 9 })).toMatchObject({ category: 'C-TR4B', maxDiameterMm: 12, recommendation: { action: 'fna' } });
  });

  it('takes the highest nodule as the report’s category, C-TR1 without a nodule', () => {
    expect(highestCategory(['C-TR3', 'C-TR4B', null], false)).toBe('C-TR4B');
    expect(highestCategory([], true)).toBe('C-TR1');
    expect(highestCategory([null], false)).toBeNull();
  });
});
