import { normaliseRecoveryCode, RecoveryCodes, RECOVERY_CODE_COUNT } from './recovery-codes';

describe('recovery codes', () => {
  const codes = new RecoveryCodes(Buffer.alloc(32, 7));

  it('makes ten distinct codes of ten Crockford base32 characters, shown as xxxxx-xxxxx', () => {
    const set = codes.generate();
    expect(set).toHaveLength(RECOVERY_CODE_COUNT);
    expect(new Set(set).size).toBe(set.length);
    for (const code of set) expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$/);
    // Fresh randomness each time.
    expect(codes.generate()).not.toEqual(set);
  });

  it('reads a code as typed from paper: case, spaces, dashes and the look-alikes o, i, l do not matter', () => {
    expect(normaliseRecoveryCode('ab3de-fg4hj')).toBe('ab3defg4hj');
    expect(normaliseRecoveryCode(' AB3DE FG4HJ ')).toBe('ab3defg4hj');
    expect(normaliseRecoveryCode('O1ILo-abcde')).toBe('01110abcde');
  });

  it('is not a recovery code: a six-digit TOTP code, the wrong length, a letter outside the alphabet', () => {
    expect(normaliseRecoveryCode('123456')).toBeNull();
    expect(normaliseRecoveryCode('ab3de-fg4h')).toBeNull();
    expect(normaliseRecoveryCode('ab3de-fg4hjk')).toBeNull();
    expect(normaliseRecoveryCode('ab3de-fg4hu')).toBeNull();
    expect(normaliseRecoveryCode('ab3de_fg4hj')).toBeNull();
  });

  it('hashes per user under the pepper: the same code of two users, or under another pepper, differs', () => {
    const hash = codes.hash('user-a', 'ab3defg4hj');
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(codes.hash('user-a', 'ab3defg4hj')).toBe(hash);
    expect(codes.hash('user-b', 'ab3defg4hj')).not.toBe(hash);
    expect(new RecoveryCodes(Buffer.alloc(32, 8)).hash('user-a', 'ab3defg4hj')).not.toBe(hash);
  });
});
