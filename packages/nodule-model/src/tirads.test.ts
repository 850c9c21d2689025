import { ACR_LEXICON, LEXICON_ITEMS, lexiconCategory, recommendation, tiradsOf, trLevel } from './tirads';

describe('ACR TI-RADS 2017', () => {
  it('adds the chart points up to the TR levels', () => {
    expect([0, 1, 2, 3, 4, 6, 7, 14].map(trLevel)).toEqual(['TR1', 'TR2', 'TR2', 'TR3', 'TR4', 'TR4', 'TR5', 'TR5']);
  });

  it('scores a solid, very hypoechoic, taller-than-wide nodule with punctate foci as TR5', () => {
    const reading = [
      lexiconCategory('composition', 'solid'),
      lexiconCategory('echogenicity', 'very-hypo'),
      lexiconCategory('shape', 'taller'),
      lexiconCategory('margin', 'smooth'),
      lexiconCategory('echogenicFoci', 'punctate'),
    ].map((c) => ({ points: c?.points ?? Number.NaN }));
    expect(tiradsOf(reading)).toEqual({ points: 11, level: 'TR5' });
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
