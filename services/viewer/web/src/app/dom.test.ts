import { describe, expect, it } from '@jest/globals';
import { formatDateTime, formatPersonName, formatWaiting } from './dom';
import { setLanguage } from './i18n';

describe('formatPersonName', () => {
  it('reads family^given as "family, given"', () => {
    expect(formatPersonName('Doe^Jane')).toBe('Doe, Jane');
    expect(formatPersonName('Doe')).toBe('Doe');
    expect(formatPersonName(null)).toBe('');
  });

  it('puts the ideographic group first, without separators, then the alphabetic one (PS3.5 6.2.1)', () => {
    expect(formatPersonName('Wang^Fang=王^芳')).toBe('王芳 · Wang, Fang');
    expect(formatPersonName('Wang^Fang=王^芳=wang^fang')).toBe('王芳 · Wang, Fang');
    expect(formatPersonName('=王^芳')).toBe('王芳');
    expect(formatPersonName('Wang^Fang=')).toBe('Wang, Fang');
  });
});

describe('formatWaiting', () => {
  it('says minutes, hours or days in the reader language', () => {
    setLanguage('en');
    expect(formatWaiting(30)).toBe('1 min');
    expect(formatWaiting(7200)).toBe('2 h');
    setLanguage('zh');
    expect(formatWaiting(600)).toBe('10 分钟');
    expect(formatWaiting(3 * 86_400)).toBe('3 天');
    setLanguage('en');
  });
});

describe('formatDateTime', () => {
  it('writes Chinese date order for a Chinese reader (midday UTC: the same date in every time zone within ±11 h)', () => {
    setLanguage('zh');
    expect(formatDateTime('2026-12-06T12:00:00Z')).toMatch(/^2026\/12\/6 /);
    expect(formatDateTime('not a date')).toBe('not a date');
    setLanguage('en');
  });
});
