import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

/**
 * Secrets of a share link. The token is 256 random bits (base64url, 43 characters): it is the capability
 * itself, so only its SHA-256 is stored and looked up (a stolen table yields no working link). The access
 * code is six digits, sent to the patient separately; it only adds a second factor to an unguessable token.
 */
export const TOKEN_BYTES = 32;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const CODE_PATTERN = /^[0-9]{6}$/;

export function newShareToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

/** Null when the text cannot be a token: the lookup is skipped, answered like an unknown token. */
export function tokenHash(token: string): Buffer | null {
  return TOKEN_PATTERN.test(token) ? createHash('sha256').update(token, 'utf8').digest() : null;
}

export function newAccessCode(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, '0');
}

/** Salted with the share id, so equal codes of two shares do not hash alike. */
export function codeHash(shareId: string, code: string): Buffer {
  return createHash('sha256').update(`${shareId}:${code}`, 'utf8').digest();
}

export function codeMatches(shareId: string, code: string | undefined, stored: Buffer): boolean {
  if (code === undefined || !CODE_PATTERN.test(code)) return false;
  return timingSafeEqual(codeHash(shareId, code), stored);
}
