import { randomBytes } from 'node:crypto';
import { keyedHash } from './secrets';

/** How many codes a set holds: enough for years of lost phones, few enough to print on one line each. */
export const RECOVERY_CODE_COUNT = 10;

// Crockford's base32 (no i, l, o, u): read aloud or typed from paper without ambiguity; 5 bits per character.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const LENGTH = 10; // 50 bits: single use and counted as a failed sign-in when wrong, so guessing is hopeless

/**
 * Single-use recovery codes for the TOTP second factor. A code is shown once, as `xxxxx-xxxxx`; only its keyed
 * hash is kept (the user id in the hashed text, so equal codes of two users do not share a hash).
 */
export class RecoveryCodes {
  constructor(private readonly pepper: Buffer) {}

  /** A new set, formatted for display. */
  generate(count = RECOVERY_CODE_COUNT): string[] {
    const codes = new Set<string>();
    while (codes.size < count) {
      const bytes = randomBytes(LENGTH);
      let code = '';
      for (const b of bytes) code += ALPHABET[b & 31];
      codes.add(`${code.slice(0, 5)}-${code.slice(5)}`);
    }
    return [...codes];
  }

  hash(userId: string, normalised: string): string {
    return keyedHash(this.pepper, `${userId}:${normalised}`);
  }
}

/**
 * What the user typed as a recovery code, in canonical form (lower case, no spaces or dashes, Crockford's
 * look-alikes o→0 and i/l→1), or null when it cannot be one (a six-digit TOTP code, for one).
 */
export function normaliseRecoveryCode(input: string): string | null {
  const text = input.toLowerCase().replace(/[\s-]/g, '').replace(/o/g, '0').replace(/[il]/g, '1');
  if (text.length !== LENGTH) return null;
  for (const c of text) if (!ALPHABET.includes(c)) return null;
  return text;
}
