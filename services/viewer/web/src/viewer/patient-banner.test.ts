import { describe, expect, it } from '@jest/globals';
import { setLanguage } from '../app/i18n';
import { ageText } from './patient-banner';

describe('ageText', () => {
  it('keeps the server text in English and writes Chinese units in Chinese', () => {
    setLanguage('en');
    expect(ageText('44 y')).toBe('44 y');
    setLanguage('zh');
    expect(['44 y', '3 mo', '2 wk', '5 d'].map(ageText)).toEqual(['44岁', '3个月', '2周', '5天']);
    expect(ageText('unknown')).toBe('unknown');
    setLanguage('en');
  });
});
