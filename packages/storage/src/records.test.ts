import { AppError } from '@yunying/core';
import { assertRecordKey, assertRecordPrefix } from './records';

describe('record keys (write-once audit records beside the content-addressed copies)', () => {
  it('accepts audit/<parts> keys and prefixes', () => {
    expect(() => assertRecordKey('audit/test_schema/checkpoints/000000000000010-20261204T203000000Z.json')).not.toThrow();
    expect(() => assertRecordPrefix('audit/test_schema/segments/')).not.toThrow();
    expect(() => assertRecordPrefix('audit/')).not.toThrow();
  });

  it.each([
    'audit',
    'audit/',
    'audit/../sha256/ab/cd/x',
    'audit/./x',
    'audit/.hidden',
    'sha256/2c/f2/2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
    '/audit/x',
    'audit//x',
    'audit/a b',
    'audit/a/b/c/d/e/f/g',
  ])('refuses %s (outside audit/, a dot part, an empty part, unsafe characters, too deep)', (key) => {
    expect(() => assertRecordKey(key)).toThrow(AppError);
  });

  it('refuses a prefix that walks out of audit/', () => {
    expect(() => assertRecordPrefix('audit/../')).toThrow(AppError);
    expect(() => assertRecordPrefix('sha256/')).toThrow(AppError);
  });
});
