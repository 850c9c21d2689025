import { ACR_LEXICON, LEXICON_ITEMS, lexiconCategory, recommendation, tiradsOf, trLevel, withChartEchogenicity, type LexiconItem, type LexiconPrediction } from './tirads';

function reading(codes: Record<LexiconItem, string>): { item: LexiconItem; code: string; points: number }[] {
  return LEXICON_ITEMS.map((item) => ({ item, code: codes[item], points: lexiconCategory(item, codes[item])?.points ?? Number.NaN }));
}

describe('ACR TI-RADS 2017', () => {
  it('adds the chart points up to the TR levels', () => {
    expect([0, 1, 2, 3, 4, 6, 7, 14].map(trLevel)).toEqual(['TR1', 'TR2', 'TR2', 'TR3', 'TR4', 'TR4', 'TR5', 'TR5']);
  });

  it('scores a solid, very hypoechoic, taller-than-wide nodule with punctate foci as TR5', () => {
    expect(tiradsOf(reading({ composition: 'solid', echogenicity: 'very-hypo', shape: 'taller', margin: 'smooth', echogenicFoci: 'punctate' }))).toEqual({ points: 11, level: 'TR5' });
    expect(tiradsOf(reading({ composition: 'mixed', echogenicity: 'hyper-iso', shape: 'wider', margin: 'smooth', echogenicFoci: 'none' }))).toEqual({ points: 2, level: 'TR2' });
  });

  it('scores a spongiform nodule 0 points, TR1, whatever its other items (the chart footnote), as the report does', () => {
    expect(tiradsOf(reading({ composition: 'spongiform', echogenicity: 'hyper-iso', shape: 'wider', margin: 'smooth', echogenicFoci: 'none' }))).toEqual({ points: 0, level: 'TR1' });
    expect(tiradsOf(reading({ composition: 'spongiform', echogenicity: 'very-hypo', shape: 'taller', margin: 'lobulated-irregular', echogenicFoci: 'punctate' }))).toEqual({ points: 0, level: 'TR1' });
    // Cystic is 0 points of its own, not a footnote: its other items still count.
    expect(tiradsOf(reading({ composition: 'cystic', echogenicity: 'anechoic', shape: 'wider', margin: 'smooth', echogenicFoci: 'macro' }))).toEqual({ points: 1, level: 'TR2' });
  });

  it("reads a cystic nodule's echogenicity as anechoic (the chart's category for cystic nodules), and leaves other readings as they are", () => {
    const predicted = (composition: string, echogenicity: string): LexiconPrediction[] =>
      [
        ['composition', composition, 0.7],
        ['echogenicity', echogenicity, 0.6],
        ['margin', 'smooth', 0.8],
      ].map(([item, code, confidence]) => ({
        item: item as LexiconItem,
        code: code as string,
        label: lexiconCategory(item as LexiconItem, code as string)?.label ?? '',
        points: lexiconCategory(item as LexiconItem, code as string)?.points ?? Number.NaN,
        confidence: confidence as number,
        probabilities: {},
        basis: 'model' as const,
      }));
    const cystic = withChartEchogenicity(predicted('cystic', 'hyper-iso'));
    expect(cystic.find((l) => l.item === 'echogenicity')).toMatchObject({ code: 'anechoic', points: 0, confidence: 0.7, basis: 'composition' });
    expect(tiradsOf(cystic)).toEqual({ points: 0, level: 'TR1' });
    expect(withChartEchogenicity(predicted('mixed', 'hypo'))).toEqual(predicted('mixed', 'hypo'));
  });

  it('recommends by the ACR size thresholds', () => {
    expect(recommendation('TR5', 10).action).toBe('fna');
    expect(recommendation('TR5', 9).action).toBe('follow-up');
    expect(recommendation('TR4', 14).action).toBe('follow-up');
    expect(recommendation('TR3', 25).action).toBe('fna');
    expect(recommendation('TR2', 60).action).toBe('none');
    expect(recommendation('TR4', null).action).toBe('none');
  });

  it('has unique codes per item and a category for every item', () => {
    for (const item of LEXICON_ITEMS) {
      const codes = ACR_LEXICON[item].map((c) => c.code);
      expect(new Set(codes).size).toBe(codes.length);
    }
    expect(lexiconCategory('margin', 'nonsense')).toBeNull();
  });
});
