import { AppError } from '@yunying/core';
import { objectKey, sha256Hex, sha256OfKey } from './keys';

describe('objectKey', () => {
  const hex = sha256Hex(Buffer.from('hello'));

  it('fans out by the first two bytes of the SHA-256', () => {
    expect(hex).toBe('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
    expect(objectKey(hex)).toBe(`sha256/2c/f2/${hex}`);
    expect(sha256OfKey(objectKey(hex))).toBe(hex);
  });

  it.each([['ABC'], [hex.toUpperCase()], [hex.slice(1)], ['../../etc/passwd']])('rejects %p', (bad) => {
    expect(() => objectKey(bad)).toThrow(AppError);
  });

  it('does not accept keys whose fan-out disagrees with the hash or that walk out of the root', () => {
    expect(sha256OfKey(`sha256/00/00/${hex}`)).toBeNull();
    expect(sha256OfKey(`sha256/2c/f2/../${hex}`)).toBeNull();
  });
});
