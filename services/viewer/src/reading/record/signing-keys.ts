/**
 * Readers' report-signing keys (#20). Trust model: the server holds one key pair per reader and
 * algorithm, generated at the reader's first signature; the private key is stored encrypted (AES-256-GCM)
 * under a server secret kept outside the database (REPORT_SIGNING_SECRET_FILE), and is used only inside a
 * sign request that re-authenticated the reader with their password. A signature therefore proves "the
 * server signed this content after the reader re-authenticated", not possession of a key only the reader
 * holds (that would need a smart card or a client-side key; see docs/security.md).
 */
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import { createSecretFileOnce } from '@yunying/core';
import type { PoolClient } from '@yunying/catalog';
import { ReportRecordsRepository } from './report-records.repository';

export type SigningAlgorithm = 'ecdsa-p256-sha256' | 'sm2-sm3';

export function algorithmFromConfig(setting: 'ecdsa-p256' | 'sm2'): SigningAlgorithm {
  return setting === 'sm2' ? 'sm2-sm3' : 'ecdsa-p256-sha256';
}

const CURVE: Record<SigningAlgorithm, string> = { 'ecdsa-p256-sha256': 'prime256v1', 'sm2-sm3': 'SM2' };
const DIGEST: Record<SigningAlgorithm, string> = { 'ecdsa-p256-sha256': 'sha256', 'sm2-sm3': 'sm3' };

/** The 32-byte key-encryption secret; generated on first start when the configuration allows it. */
export function loadSigningSecret(file: string, generateMissing: boolean): Buffer {
  if (!fs.existsSync(file)) {
    if (!generateMissing) throw new Error(`the report-signing secret file ${file} does not exist (REPORT_SIGNING_SECRET_FILE)`);
    createSecretFileOnce(file, `${randomBytes(32).toString('base64')}\n`);
  }
  const secret = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
  if (secret.length !== 32) throw new Error('the report-signing secret must be 32 bytes, base64');
  return secret;
}

export interface ReaderKey {
  id: string;
  algorithm: SigningAlgorithm;
  privateKey: KeyObject;
}

function encrypt(secret: Buffer, keyId: string, pem: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', secret, iv);
  // The key id as associated data: an encrypted key copied onto another row does not decrypt.
  cipher.setAAD(Buffer.from(keyId));
  const body = Buffer.concat([cipher.update(pem, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

function decrypt(secret: Buffer, keyId: string, sealed: Buffer): string {
  const decipher = createDecipheriv('aes-256-gcm', secret, sealed.subarray(0, 12));
  decipher.setAAD(Buffer.from(keyId));
  decipher.setAuthTag(sealed.subarray(12, 28));
  return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]).toString('utf8');
}

export class ReaderKeys {
  private readonly repo = new ReportRecordsRepository();

  constructor(
    private readonly secret: Buffer,
    private readonly algorithm: SigningAlgorithm,
  ) {}

  /** The reader's key for the configured algorithm, created on first use (in the signing transaction). */
  async forReader(client: PoolClient, userId: string): Promise<ReaderKey> {
    const row = await this.repo.signingKey(client, userId, this.algorithm);
    if (row) return { id: row.id, algorithm: this.algorithm, privateKey: createPrivateKey(decrypt(this.secret, row.id, row.privateKeyEnc)) };
    const pair = generateKeyPairSync('ec', { namedCurve: CURVE[this.algorithm] });
    const id = randomUUID();
    const pem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    // Two first signatures of one reader at once keep one key; the loser reads it back.
    const inserted = await this.repo.insertSigningKey(client, {
      id,
      userId,
      algorithm: this.algorithm,
      publicKeyPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      privateKeyEnc: encrypt(this.secret, id, pem),
    });
    // Re-imported from PEM: OpenSSL types a decoded SM2 key as SM2 (real SM2 signatures with the default
    // ID), while the freshly generated object is a plain EC key that would sign ECDSA-over-SM3 instead.
    if (inserted) return { id, algorithm: this.algorithm, privateKey: createPrivateKey(pem) };
    return this.forReader(client, userId);
  }
}

export function signPayload(key: ReaderKey, payload: string): Buffer {
  return sign(DIGEST[key.algorithm], Buffer.from(payload, 'utf8'), key.privateKey);
}

export function verifyPayload(algorithm: string, publicKeyPem: string, payload: string, signature: Buffer): boolean {
  if (algorithm !== 'ecdsa-p256-sha256' && algorithm !== 'sm2-sm3') return false;
  try {
    return verify(DIGEST[algorithm], Buffer.from(payload, 'utf8'), createPublicKey(publicKeyPem), signature);
  } catch {
    // A malformed signature or key is a failed verification, not a server error.
    return false;
  }
}
