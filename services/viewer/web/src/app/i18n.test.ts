import { describe, expect, it } from '@jest/globals';
import { chooseLanguage, language, setLanguage, t, tCount } from './i18n';

describe('chooseLanguage', () => {
  it('keeps the choice saved in this browser over its languages', () => {
    expect(chooseLanguage('en', ['zh-CN', 'zh'])).toBe('en');
    expect(chooseLanguage('zh', ['en-US'])).toBe('zh');
  });

  it('follows the first of the browser languages it has, Chinese in any region or script', () => {
    for (const tag of ['zh-CN', 'zh', 'zh-Hans-CN', 'ZH-tw', 'zh-HK']) expect(chooseLanguage(null, [tag])).toBe('zh');
    expect(chooseLanguage(null, ['en-GB', 'zh-CN'])).toBe('en');
    expect(chooseLanguage(null, ['fr-FR', 'zh-CN', 'en'])).toBe('zh');
  });

  it('falls back to English for other languages, nothing, or a saved value it does not know', () => {
    expect(chooseLanguage(null, ['fr-FR', 'de'])).toBe('en');
    expect(chooseLanguage(null, [])).toBe('en');
    expect(chooseLanguage('ja', ['ja-JP'])).toBe('en');
  });
});

describe('t and tCount', () => {
  it('give the text of the current language', () => {
    setLanguage('zh');
    expect(language()).toBe('zh');
    expect(t('Reading queue', '阅片队列')).toBe('阅片队列');
    expect(tCount(3, ['study', 'studies'], '项检查')).toBe('3 项检查');
    setLanguage('en');
    expect(t('Reading queue', '阅片队列')).toBe('Reading queue');
    expect(tCount(1, ['study', 'studies'], '项检查')).toBe('1 study');
    expect(tCount(2, ['study', 'studies'], '项检查')).toBe('2 studies');
  });
});
