import { describe, expect, it } from '@jest/globals';
import { setLanguage } from '../app/i18n';
import { dormancyNote } from './dormancy-note';

describe('dormancyNote', () => {
  it('says whether unused accounts are disabled automatically, in the reader’s language', () => {
    setLanguage('en');
    expect(dormancyNote({ flagAfterDays: 90, disableAfterDays: 45 })).toMatch(/^Accounts unused for 45 days are disabled automatically/);
    expect(dormancyNote({ flagAfterDays: 90, disableAfterDays: null })).toMatch(/^Accounts unused for 90 days are marked dormant; nothing is disabled automatically/);
    // An older server without the field: the page does not claim an automatic rule it cannot see.
    expect(dormancyNote(undefined)).toMatch(/nothing is disabled automatically/);
    setLanguage('zh');
    expect(dormancyNote({ flagAfterDays: 90, disableAfterDays: 45 })).toMatch(/^连续 45 天未使用的账户将被自动停用/);
    setLanguage('en');
  });
});
