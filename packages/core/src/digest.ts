import crypto from 'node:crypto';

/**
 * The digest and MAC algorithms the archive may be configured with: SHA-256 (the default) or SM3
 * (GB/T 32905-2016, required by a 密评 under GB/T 39786-2021). Both come from Node's OpenSSL; both give
 * 32 bytes, so columns and formats sized for SHA-256 hold either. Content digests and the audit chain's
 * MAC take the algorithm from here so that switching is one setting, never a second code path.
 */
export const DIGEST_ALGORITHMS = ['sha256', 'sm3'] as const;
export type DigestAlgorithm = (typeof DIGEST_ALGORITHMS)[number];

export function isDigestAlgorithm(value: string): value is DigestAlgorithm {
  return (DIGEST_ALGORITHMS as readonly string[]).includes(value);
}

/** An incremental digest (update as the bytes stream past, digest once). */
export function createDigest(algorithm: DigestAlgorithm): crypto.Hash {
  return crypto.createHash(algorithm);
}

export function digest(algorithm: DigestAlgorithm, data: crypto.BinaryLike): Buffer {
  return crypto.createHash(algorithm).update(data).digest();
}

/** HMAC-SHA-256 or HMAC-SM3 (GB/T 15852.2 / RFC 2104 construction over SM3). */
export function createMac(algorithm: DigestAlgorithm, key: crypto.BinaryLike | crypto.KeyObject): crypto.Hmac {
  return crypto.createHmac(algorithm, key);
}

export function mac(algorithm: DigestAlgorithm, key: crypto.BinaryLike | crypto.KeyObject, data: crypto.BinaryLike): Buffer {
  return crypto.createHmac(algorithm, key).update(data).digest();
}

/** Compares two MACs or digests in constant time (false when the lengths differ). */
export function sameDigest(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}
