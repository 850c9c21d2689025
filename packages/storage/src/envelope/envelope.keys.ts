import crypto from 'node:crypto';
import fs from 'node:fs';
import { AppError, createSecretFileOnce } from '@yunying/core';
import { unwrapKey, wrapKey, type DataAlgorithm } from './envelope.aead';

/**
 * Where the key-encryption keys (KEKs) live. Every stored object is sealed under its own random data key;
 * only the data key, wrapped by a KEK, travels with the object (with the KEK's id). This interface is the
 * seam for a real KMS (an HSM, a cloud KMS, a 密码机): `wrap` and `unwrap` are the only calls, and the KEK
 * never has to leave it. The file keyring below is the embedded implementation.
 */
export interface KeyEncryptionService {
  /** The id of the KEK new objects are sealed under. */
  readonly activeKeyId: string;
  /** Wraps `dataKey` under the active KEK with `algorithm`; `context` must be given again to unwrap. */
  wrap(algorithm: DataAlgorithm, dataKey: Buffer, context: Buffer): Promise<{ keyId: string; wrapped: Buffer }>;
  /** The data key. Throws StorageKeyError('key_unavailable') for an unknown key id, ('not_authentic')
   * when the wrapped key does not open under that KEK. */
  unwrap(keyId: string, wrapped: Buffer, context: Buffer): Promise<Buffer>;
}

export type StorageKeyProblem = 'key_unavailable' | 'not_authentic' | 'malformed';

/**
 * A stored object that cannot be opened. Never carries key bytes, paths or content. `key_unavailable` is a
 * configuration problem (500, not retryable: the key file lacks a retired KEK); `not_authentic` and
 * `malformed` are a corrupt or tampered copy, which readers skip for the next copy and the scrubber reports.
 */
export class StorageKeyError extends AppError {
  readonly problem: StorageKeyProblem;
  constructor(problem: StorageKeyProblem, message: string) {
    super(problem === 'key_unavailable' ? 'config_invalid' : 'unprocessable', message, { retryable: false });
    this.name = 'StorageKeyError';
    this.problem = problem;
  }
}

export function isStorageKeyError(error: unknown): error is StorageKeyError {
  return error instanceof StorageKeyError;
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const KEK_BYTES = 32;

/**
 * The key file (STORAGE_KEY_FILE): one KEK per line as `<id>:<base64 of 32 bytes>`, `#` starts a comment.
 * The LAST line seals new objects; earlier lines are retired keys, kept so that everything sealed under
 * them still opens (rotation = append a line, restart; objects under Object Lock are never rewritten).
 */
export class FileKeyring implements KeyEncryptionService {
  readonly activeKeyId: string;
  private readonly keys: ReadonlyMap<string, Buffer>;

  constructor(keys: ReadonlyMap<string, Buffer>, activeKeyId: string) {
    this.keys = keys;
    this.activeKeyId = activeKeyId;
  }

  wrap(algorithm: DataAlgorithm, dataKey: Buffer, context: Buffer): Promise<{ keyId: string; wrapped: Buffer }> {
    const kek = this.keys.get(this.activeKeyId);
    if (kek === undefined) throw new StorageKeyError('key_unavailable', 'storage encryption: the active key is missing');
    return Promise.resolve({ keyId: this.activeKeyId, wrapped: wrapKey(algorithm, kek, dataKey, context) });
  }

  unwrap(keyId: string, wrapped: Buffer, context: Buffer): Promise<Buffer> {
    const kek = this.keys.get(keyId);
    if (kek === undefined) {
      return Promise.reject(
        new StorageKeyError('key_unavailable', `storage encryption: the object is sealed under key "${keyId}", which is not in the key file (STORAGE_KEY_FILE); add the retired key back`),
      );
    }
    const dataKey = unwrapKey(kek, wrapped, context);
    if (dataKey === null) return Promise.reject(new StorageKeyError('not_authentic', `storage encryption: the data key does not open under key "${keyId}" (wrong key material or tampered copy)`));
    return Promise.resolve(dataKey);
  }
}

/** Parses a key file's text. Errors name the line, never a key's bytes. */
export function parseStorageKeyFile(text: string, source = 'the storage key file'): FileKeyring {
  const keys = new Map<string, Buffer>();
  let last: string | null = null;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const id = colon > 0 ? line.slice(0, colon) : '';
    const material = colon > 0 ? Buffer.from(line.slice(colon + 1), 'base64') : Buffer.alloc(0);
    if (!KEY_ID.test(id)) throw new AppError('config_invalid', `${source}, line ${index + 1}: expected <id>:<base64 key>, the id 1-64 of A-Z a-z 0-9 . _ -`);
    if (material.length !== KEK_BYTES) throw new AppError('config_invalid', `${source}, line ${index + 1}: key "${id}" must be ${KEK_BYTES} bytes`);
    if (keys.has(id)) throw new AppError('config_invalid', `${source}, line ${index + 1}: key id "${id}" appears twice`);
    keys.set(id, material);
    last = id;
  });
  if (last === null) throw new AppError('config_invalid', `${source} holds no key`);
  return new FileKeyring(keys, last);
}

/** A new key line: a dated id (rotations sort and read well) and 32 random bytes. */
export function newStorageKeyLine(now = new Date()): string {
  const id = `kek${now.toISOString().slice(0, 10).replace(/-/g, '')}-${crypto.randomBytes(3).toString('hex')}`;
  return `${id}:${crypto.randomBytes(KEK_BYTES).toString('base64')}\n`;
}

export interface StorageKeySettings {
  keyFile: string;
  /** Embedded and development defaults only: create the file with a fresh key when it is missing. */
  generateMissing: boolean;
}

/** The keyring of STORAGE_KEY_FILE; null when the file does not exist and may not be generated. */
export function loadStorageKeyring(settings: StorageKeySettings): FileKeyring | null {
  if (!fs.existsSync(settings.keyFile)) {
    if (!settings.generateMissing) return null;
    createSecretFileOnce(
      settings.keyFile,
      `# Yunying storage key-encryption keys: <id>:<base64 of 32 bytes>; the last line seals new objects, earlier lines stay to open older ones.\n${newStorageKeyLine()}`,
    );
  }
  return parseStorageKeyFile(fs.readFileSync(settings.keyFile, 'utf8'), `STORAGE_KEY_FILE (${settings.keyFile})`);
}
