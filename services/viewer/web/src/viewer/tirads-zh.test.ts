import { afterEach, describe, expect, it } from '@jest/globals';
import { C_TIRADS_ORDER, cTiradsRecommendation, scoreCTirads, scoreNodule } from '@yunying/nodule-model/tirads-report';
import { setLanguage } from '../app/i18n';
import { aiCysticNote, aiSpongiformNote, bilingualCode, bilingualCTirads, bilingualScore, codeText, itemText, localCTiradsText, localScoreText, ruleZh } from './tirads-zh';
import { cTiradsText, LEXICON, scoreText } from './tirads-state';

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

describe('the screen in the reader\'s language', () => {
  afterEach(() => setLanguage('en'));
  const sizes = [null, 4, 9, 12, 16, 22, 30];

  it('has a Chinese form of every rule the scoring writes, ACR and C-TIRADS', () => {
    const rules = new Set<string>();
    const [composition, echogenicity, shape, margin, foci] = [LEXICON.composition, LEXICON.echogenicity, LEXICON.shape, LEXICON.margin, LEXICON.echogenicFoci];
    for (const c of composition)
      for (const e of echogenicity)
        for (const s of shape)
          for (const m of margin)
            for (const f of foci)
              for (const size of sizes) {
                const score = scoreNodule({ composition: c.code, echogenicity: e.code, shape: s.code, margin: m.code, echogenicFoci: [f.code] }, size === null ? null : { longMm: size, shortMm: null });
                if (score.recommendation) rules.add(score.recommendation.rule);
              }
    for (const category of C_TIRADS_ORDER) for (const size of sizes) rules.add(cTiradsRecommendation(category, size).rule);
    const untranslated = [...rules].filter((r) => ruleZh(r) === r || !CJK.test(ruleZh(r)));
    expect([rules.size > 10, untranslated]).toEqual([true, []]);
    expect(ruleZh('TR5: FNA if >= 1 cm')).toBe('TR5：≥ 1 cm 时行 FNA');
    expect(ruleZh('something new')).toBe('something new');
  });

  it('keeps the English as it was, and says the score, items and codes in Chinese', () => {
    const codes = { composition: 'solid', echogenicity: 'very-hypo', shape: 'taller', margin: 'smooth', echogenicFoci: ['punctate'] };
    const score = scoreNodule(codes, { longMm: 16, shortMm: 10 });
    const c = scoreCTirads(codes, { cometTail: false, provenMalignant: false }, { longMm: 16, shortMm: 10 });
    expect([localScoreText(score), localCTiradsText(c), itemText('echogenicFoci'), codeText('echogenicity', 'very-hypo')]).toEqual([scoreText(score), cTiradsText(c), 'Echogenic foci', 'Very hypoechoic']);
    setLanguage('zh');
    expect(localScoreText(score)).toBe('11 分 · TR5 高度可疑 · 建议细针穿刺活检（TR5：≥ 1 cm 时行 FNA）');
    expect(localCTiradsText(c)).toMatch(/^\d 分 · C-TR\d[ABC]? [\u4e00-\u9fff]+ · [\u4e00-\u9fff]+（C-TR/);
    expect(localScoreText(null)).toBe('尚未评分：请选择每一项');
    expect([itemText('echogenicFoci'), codeText('echogenicity', 'very-hypo'), codeText('echogenicity', 'unknown-code')]).toEqual(['强回声灶', '极低回声', 'unknown-code']);
  });
});

describe("the AI panel's note on a spongiform nodule", () => {
  const lexicon = (composition: string): { item: string; code: string }[] => [
    { item: 'composition', code: composition },
    { item: 'echogenicity', code: 'hyper-iso' },
  ];
  afterEach(() => setLanguage('en'));

  it('explains a total of 0 under rows that add up to more, says when a stored result predates the rule, and is absent otherwise', () => {
    setLanguage('en');
    expect(aiSpongiformNote({ lexicon: lexicon('spongiform'), tiradsPoints: 0 })).toBe('Spongiform: the other items add no points (ACR chart), so the nodule is TR1.');
    expect(aiSpongiformNote({ lexicon: lexicon('spongiform'), tiradsPoints: 1 })).toContain('stored before that rule was applied');
    expect(aiSpongiformNote({ lexicon: lexicon('mixed'), tiradsPoints: 2 })).toBeNull();
    setLanguage('zh');
    expect(aiSpongiformNote({ lexicon: lexicon('spongiform'), tiradsPoints: 0 })).toMatch(CJK);
  });
});

describe("the AI panel's note on a cystic nodule", () => {
  const reading = (composition: string, echogenicity: string, basis: string): { item: string; code: string; basis: string }[] => [
    { item: 'composition', code: composition, basis: 'model' },
    { item: 'echogenicity', code: echogenicity, basis },
  ];

  it('says when a stored cystic reading predates the anechoic rule, and is absent for readings after it or not cystic', () => {
    setLanguage('en');
    expect(aiCysticNote({ lexicon: reading('cystic', 'hyper-iso', 'model') })).toContain('stored before that rule was applied');
    expect(aiCysticNote({ lexicon: reading('cystic', 'anechoic', 'composition') })).toBeNull();
    expect(aiCysticNote({ lexicon: reading('solid', 'hypo', 'model') })).toBeNull();
  });
});
