import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Secrets other than passwords (refresh tokens, API keys) carry 256 bits of randomness, so a fast keyed
 * hash is as safe as a slow one: HMAC-SHA256 with a pepper derived from AUTH_TOKEN_SECRET. Verifying an
 * API key on every upload request then costs microseconds instead of argon2's ~50 ms and memory, and a
 * stolen database dump alone cannot test a guessed key. Passwords (low entropy) always use argon2id.
 */
export function derivePepper(tokenSecret: string, purpose: 'api-key' | 'refresh-token' | 'oidc-cookies' | 'totp-secrets' | 'recovery-codes'): Buffer {
  return createHmac('sha256', tokenSecret).update(`yunying/${purpose}/v1`).digest();
}

export function keyedHash(pepper: Buffer, secret: string): string {
  return createHmac('sha256', pepper).update(secret).digest('hex');
}

export function hashesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

const PREFIX_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** 8 characters of [a-z0-9] (41 bits): a lookup key, not a secret. */
export function randomPrefix(): string {
  const bytes = randomBytes(8);
  let out = '';
  for (const b of bytes) out += PREFIX_ALPHABET[b % PREFIX_ALPHABET.length];
  return out;
}

/** API keys look like `yy_<8-char prefix>_<43-char base64url secret>`. */
export function formatApiKey(prefix: string, secret: string): string {
  return `yy_${prefix}_${secret}`;
}

export function parseApiKey(key: string): { prefix: string; secret: string } | undefined {
  const match = /^yy_([a-z0-9]{8})_([A-Za-z0-9_-]{43})$/.exec(key);
  if (!match?.[1] || !match[2]) return undefined;
  return { prefix: match[1], secret: match[2] };
}
