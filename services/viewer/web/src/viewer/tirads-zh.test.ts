import { describe, expect, it } from '@jest/globals';
import { scoreCTirads, scoreNodule } from '@yunying/nodule-model/tirads-report';
import { bilingualCode, bilingualCTirads, bilingualScore } from './tirads-zh';
import { LEXICON } from './tirads-state';

const CJK = /[\u4e00-\u9fff]/;

describe('the printed report in Chinese and English', () => {
  it('has a Chinese term beside every ACR lexicon category, so no code prints in English only', () => {
    for (const [item, categories] of Object.entries(LEXICON) as [keyof typeof LEXICON, (typeof LEXICON)[keyof typeof LEXICON]][]) {
      for (const c of categories) {
        const text = bilingualCode(item, c.code);
        expect([item, c.code, CJK.test(text), text.endsWith(c.label)]).toEqual([item, c.code, true, true]);
      }
    }
    expect(bilingualCode('echogenicity', 'hypo')).toBe('低回声 Hypoechoic');
  });

  it('writes the level and the recommendation in both languages', () => {
    const codes = { composition: 'solid', echogenicity: 'very-hypo', shape: 'taller', margin: 'smooth', echogenicFoci: ['punctate'] };
    const score = scoreNodule(codes, { longMm: 16, shortMm: 10 });
    expect(bilingualScore(score)).toMatch(/^11 分 points · TR5 高度可疑 · 建议细针穿刺活检 FNA recommended \(/);
    expect(bilingualScore(null)).toBe('未评分 Not scored');
    const c = scoreCTirads(codes, { cometTail: false, provenMalignant: false }, { longMm: 16, shortMm: 10 });
    expect(bilingualCTirads(c)).toMatch(/^C-TIRADS C-TR\d[ABC]? [\u4e00-\u9fff]+ · [\u4e00-\u9fff]+/);
  });
});
