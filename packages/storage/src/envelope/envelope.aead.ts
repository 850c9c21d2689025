import crypto from 'node:crypto';

/**
 * The two authenticated ciphers of stored objects (#17, encryption at rest).
 *
 * - `aes-256-gcm`: AES-256 in GCM (NIST SP 800-38D), 16-byte tag. The default.
 * - `sm4`: SM4 (GB/T 32907-2016) in CTR mode, then HMAC-SM3 (GB/T 32905 / GB/T 15852.2) over the header,
 *   the segment number and the ciphertext: encrypt-then-MAC, 32-byte tag. Node 20's OpenSSL offers
 *   sm4-ctr but no sm4-gcm (`crypto.getCiphers()`), so the AEAD is composed from the two primitives; the
 *   MAC is checked in constant time before anything is decrypted. Keys: 16 bytes for SM4, 32 for the MAC.
 *
 * Data keys are random and used for one object only, so the nonce of a segment can be its number: a
 * (key, nonce) pair never repeats. Key-encryption keys are long-lived: wrapping takes a random nonce.
 */
export const DATA_ALGORITHMS = ['aes-256-gcm', 'sm4'] as const;
export type DataAlgorithm = (typeof DATA_ALGORITHMS)[number];

export interface SegmentCipher {
  readonly algorithm: DataAlgorithm;
  /** The number in the envelope header. */
  readonly id: number;
  readonly dataKeyBytes: number;
  readonly tagBytes: number;
  /** `plain` sealed as segment `index`: ciphertext then tag, as pieces (the caller concatenates once). */
  seal(dataKey: Buffer, index: number, aad: Buffer, plain: Buffer): Buffer[];
  /** The plaintext, or null when the segment does not authenticate (tampered, truncated, wrong key). */
  open(dataKey: Buffer, index: number, aad: Buffer, sealed: Buffer): Buffer | null;
}

function indexBytes(index: number, size: number): Buffer {
  const out = Buffer.alloc(size);
  out.writeBigUInt64BE(BigInt(index), 0);
  return out;
}

const aesGcm: SegmentCipher = {
  algorithm: 'aes-256-gcm',
  id: 1,
  dataKeyBytes: 32,
  tagBytes: 16,
  seal(dataKey, index, aad, plain) {
    // 96-bit nonce: the segment number, big-endian, in the last eight bytes.
    const nonce = Buffer.concat([Buffer.alloc(4), indexBytes(index, 8)]);
    const cipher = crypto.createCipheriv('aes-256-gcm', dataKey, nonce, { authTagLength: 16 });
    cipher.setAAD(aad);
    const ciphertext = cipher.update(plain);
    const rest = cipher.final();
    return rest.length === 0 ? [ciphertext, cipher.getAuthTag()] : [ciphertext, rest, cipher.getAuthTag()];
  },
  open(dataKey, index, aad, sealed) {
    if (sealed.length < 16) return null;
    const nonce = Buffer.concat([Buffer.alloc(4), indexBytes(index, 8)]);
    const decipher = crypto.createDecipheriv('aes-256-gcm', dataKey, nonce, { authTagLength: 16 });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    const plain = decipher.update(sealed.subarray(0, sealed.length - 16));
    try {
      // GCM releases nothing as authentic until final() has checked the tag; the caller gets null otherwise.
      const rest = decipher.final();
      return rest.length === 0 ? plain : Buffer.concat([plain, rest]);
    } catch {
      return null;
    }
  },
};

function sm4Tag(macKey: Buffer, aad: Buffer, counterBlock: Buffer, ciphertext: Buffer): Buffer {
  const lengths = Buffer.alloc(16);
  lengths.writeBigUInt64BE(BigInt(aad.length), 0);
  lengths.writeBigUInt64BE(BigInt(ciphertext.length), 8);
  return crypto.createHmac('sm3', macKey).update(lengths).update(aad).update(counterBlock).update(ciphertext).digest();
}

/** SM4-CTR + HMAC-SM3 with an explicit 16-byte initial counter block: [ciphertext, tag]. */
function sm4Seal(encKey: Buffer, macKey: Buffer, counterBlock: Buffer, aad: Buffer, plain: Buffer): Buffer[] {
  const cipher = crypto.createCipheriv('sm4-ctr', encKey, counterBlock);
  const head = cipher.update(plain);
  const rest = cipher.final();
  const ciphertext = rest.length === 0 ? head : Buffer.concat([head, rest]);
  return [ciphertext, sm4Tag(macKey, aad, counterBlock, ciphertext)];
}

function sm4Open(encKey: Buffer, macKey: Buffer, counterBlock: Buffer, aad: Buffer, sealed: Buffer): Buffer | null {
  if (sealed.length < 32) return null;
  const ciphertext = sealed.subarray(0, sealed.length - 32);
  const expected = sm4Tag(macKey, aad, counterBlock, ciphertext);
  if (!crypto.timingSafeEqual(expected, sealed.subarray(sealed.length - 32))) return null;
  const decipher = crypto.createDecipheriv('sm4-ctr', encKey, counterBlock);
  const plain = decipher.update(ciphertext);
  const rest = decipher.final();
  return rest.length === 0 ? plain : Buffer.concat([plain, rest]);
}

const sm4CtrHmacSm3: SegmentCipher = {
  algorithm: 'sm4',
  id: 2,
  dataKeyBytes: 48,
  tagBytes: 32,
  seal(dataKey, index, aad, plain) {
    // Counter block: the segment number in the high eight bytes, the block counter in the low eight (a
    // segment of at most 2^20 bytes is 2^16 blocks, far from carrying into the segment number).
    return sm4Seal(dataKey.subarray(0, 16), dataKey.subarray(16, 48), indexBytes(index, 16), aad, plain);
  },
  open(dataKey, index, aad, sealed) {
    return sm4Open(dataKey.subarray(0, 16), dataKey.subarray(16, 48), indexBytes(index, 16), aad, sealed);
  },
};

export const SEGMENT_CIPHERS: Record<DataAlgorithm, SegmentCipher> = { 'aes-256-gcm': aesGcm, sm4: sm4CtrHmacSm3 };

export function segmentCipherById(id: number): SegmentCipher | null {
  return Object.values(SEGMENT_CIPHERS).find((c) => c.id === id) ?? null;
}

export function isDataAlgorithm(value: string): value is DataAlgorithm {
  return (DATA_ALGORITHMS as readonly string[]).includes(value);
}

/**
 * Wrapping of a data key under a key-encryption key (32 bytes from the key file), with a random nonce:
 * `[1][12-byte nonce][ciphertext][16-byte tag]` (AES-256-GCM) or `[2][16-byte counter block][ciphertext]
 * [32-byte HMAC-SM3]` (SM4-CTR + HMAC-SM3, with the SM4 and MAC keys derived from the KEK by HMAC-SM3).
 * `context` binds the wrapped key to its envelope's algorithm and key id.
 */
export function wrapKey(algorithm: DataAlgorithm, kek: Buffer, dataKey: Buffer, context: Buffer): Buffer {
  if (algorithm === 'aes-256-gcm') {
    const nonce = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', kek, nonce, { authTagLength: 16 });
    cipher.setAAD(context);
    return Buffer.concat([Buffer.from([1]), nonce, cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
  }
  const { encKey, macKey } = sm4KekParts(kek);
  const counterBlock = crypto.randomBytes(16);
  return Buffer.concat([Buffer.from([2]), counterBlock, ...sm4Seal(encKey, macKey, counterBlock, context, dataKey)]);
}

/** The data key, or null when the wrapped key does not authenticate under `kek` (wrong key, tampered). */
export function unwrapKey(kek: Buffer, wrapped: Buffer, context: Buffer): Buffer | null {
  const kind = wrapped[0];
  if (kind === 1) {
    if (wrapped.length < 1 + 12 + 16) return null;
    const decipher = crypto.createDecipheriv('aes-256-gcm', kek, wrapped.subarray(1, 13), { authTagLength: 16 });
    decipher.setAAD(context);
    decipher.setAuthTag(wrapped.subarray(wrapped.length - 16));
    const plain = decipher.update(wrapped.subarray(13, wrapped.length - 16));
    try {
      return Buffer.concat([plain, decipher.final()]);
    } catch {
      return null;
    }
  }
  if (kind === 2) {
    if (wrapped.length < 1 + 16 + 32) return null;
    const { encKey, macKey } = sm4KekParts(kek);
    return sm4Open(encKey, macKey, wrapped.subarray(1, 17), context, wrapped.subarray(17));
  }
  return null;
}

function sm4KekParts(kek: Buffer): { encKey: Buffer; macKey: Buffer } {
  return {
    encKey: crypto.createHmac('sm3', kek).update('yunying storage kek sm4-ctr').digest().subarray(0, 16),
    macKey: crypto.createHmac('sm3', kek).update('yunying storage kek hmac-sm3').digest(),
  };
}
