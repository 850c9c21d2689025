import { createHash } from 'node:crypto';
import { AppError } from '@yunying/core';

const SHA256_HEX = /^[0-9a-f]{64}$/;
const KEY = /^sha256\/([0-9a-f]{2})\/([0-9a-f]{2})\/([0-9a-f]{64})$/;

/** Object keys are the content address: `sha256/ab/cd/<64 hex>` (two fan-out levels keep directories small on fs). */
export function objectKey(sha256Hex: string): string {
  if (!SHA256_HEX.test(sha256Hex)) {
    throw new AppError('bad_request', 'object key: expected a lowercase hex SHA-256 (64 characters)');
  }
  return `sha256/${sha256Hex.slice(0, 2)}/${sha256Hex.slice(2, 4)}/${sha256Hex}`;
}

/** The SHA-256 a key names, or null when `key` is not a well-formed object key. */
export function sha256OfKey(key: string): string | null {
  const match = KEY.exec(key);
  if (!match) return null;
  const [, a, b, hex] = match;
  if (hex === undefined || hex.slice(0, 2) !== a || hex.slice(2, 4) !== b) return null;
  return hex;
}

/** Throws bad_request unless `key` is a well-formed object key; returns its SHA-256. Keeps any
 * caller-supplied key from walking out of a replica root (`../`). */
export function assertObjectKey(key: string): string {
  const hex = sha256OfKey(key);
  if (hex === null) throw new AppError('bad_request', 'object key is not of the form sha256/ab/cd/<hex>');
  return hex;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
