import crypto from 'node:crypto';
import fs from 'node:fs';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { createSecretFileOnce } from '@yunying/core';

/**
 * The embedded OIDC provider's signing keys: a JSON Web Key Set of private keys in a file kept with the
 * other local secrets (DATA_DIR/secrets by default, like the audit keys), never in the database. The first
 * key signs; later ones stay published in the JWKS so tokens signed before a rotation still verify
 * (rotation = put a new key first and restart).
 */
export class OidcKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OidcKeyError';
  }
}

/** A fresh RS256 key set (RS256: what every OIDC client and resource server verifies). */
export async function newOidcKeySet(now = new Date()): Promise<{ keys: JWK[] }> {
  const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const kid = `k${now.toISOString().slice(0, 10).replace(/-/g, '')}-${crypto.randomBytes(3).toString('hex')}`;
  return { keys: [{ ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' }] };
}

/** Reads the key set; when `generateMissing` and there is no file, creates one first (once, atomically). */
export async function loadOidcKeySet(file: string, generateMissing: boolean): Promise<{ keys: JWK[] }> {
  if (!fs.existsSync(file)) {
    if (!generateMissing) throw new OidcKeyError(`the OIDC provider key file ${file} does not exist (OIDC_PROVIDER_KEYS_FILE)`);
    createSecretFileOnce(file, `${JSON.stringify(await newOidcKeySet())}\n`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    throw new OidcKeyError(`OIDC_PROVIDER_KEYS_FILE (${file}) is not JSON`);
  }
  const keys = typeof parsed === 'object' && parsed !== null ? (parsed as { keys?: unknown }).keys : undefined;
  // Errors name the file and the rule, never key material.
  if (!Array.isArray(keys) || keys.length === 0) throw new OidcKeyError(`OIDC_PROVIDER_KEYS_FILE (${file}) holds no "keys"`);
  for (const [i, key] of keys.entries()) {
    const k = key as JWK;
    if (typeof k !== 'object' || k === null || typeof k.kty !== 'string' || typeof k.d !== 'string' || typeof k.kid !== 'string') {
      throw new OidcKeyError(`OIDC_PROVIDER_KEYS_FILE (${file}), key ${i + 1}: a private JWK with kty, d and kid is required`);
    }
  }
  return { keys: keys as JWK[] };
}
