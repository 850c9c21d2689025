import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { canonicalJson } from './hash';
import { AuditKeyError, createSecretFileOnce } from './keyring';

/**
 * Signed checkpoints of the audit chain head (issue #17). A checkpoint says "on <date> the chain <chain>
 * ended at record <seq> with link <hash>", signed with SM2 (GB/T 32918, digest SM3; OpenSSL's default
 * distinguishing id) under a private key kept outside the database (AUDIT_SIGNING_KEY_FILE). They are
 * written out of the database, one file each, never overwritten (0440), to a directory meant to be a WORM
 * mount or synced to Object-Locked storage. Verification then catches what the keyed MAC alone cannot:
 * records removed from the tail of the chain together with a rewritten chain head.
 */
export interface AuditCheckpoint {
  format: 'yy-audit-checkpoint-1';
  /** Which chain: `<database>/<schema>` of the catalog (one directory may hold several deployments' chains). */
  chain: string;
  seq: number;
  hash: string;
  createdAt: string;
  /** SM3 of the signer's public key (SPKI DER), hex: which key to verify with after a rotation. */
  signerKeyId: string;
  algorithm: 'SM2-SM3';
}

export interface SignedAuditCheckpoint extends AuditCheckpoint {
  /** Base64 DER SM2 signature over the canonical JSON of the other fields. */
  signature: string;
}

export interface CheckpointSigner {
  keyId: string;
  privateKey: crypto.KeyObject;
  publicKey: crypto.KeyObject;
}

export function publicKeyId(publicKey: crypto.KeyObject): string {
  return crypto.createHash('sm3').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** DER of the SM2 curve's OID 1.2.156.10197.1.301, as it appears in an SM2 key's SPKI / PKCS#8. */
const SM2_CURVE_OID = Buffer.from('06082a811ccf5501822d', 'hex');

/**
 * Trap: a key object made by generateKeyPairSync('ec', { namedCurve: 'SM2' }) signs as ECDSA over the SM2
 * curve, not as SM2 (no Z value, GB/T 32918.2), and its signatures do not verify under the same key parsed
 * from PEM, which OpenSSL 3 types as SM2 proper. So keys are always re-read from their encoding here.
 */
function asSm2PrivateKey(key: crypto.KeyObject): crypto.KeyObject {
  const der = key.export({ type: 'pkcs8', format: 'der' });
  if (!der.includes(SM2_CURVE_OID)) throw new AuditKeyError('the audit signing key must be an SM2 private key (PKCS#8 PEM)');
  return crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}

export function asSm2PublicKey(key: crypto.KeyObject): crypto.KeyObject {
  const der = key.export({ type: 'spki', format: 'der' });
  if (!der.includes(SM2_CURVE_OID)) throw new AuditKeyError('an audit checkpoint verification key must be an SM2 public key');
  return crypto.createPublicKey({ key: der, format: 'der', type: 'spki' });
}

export function signerFromPrivateKey(key: crypto.KeyObject): CheckpointSigner {
  const privateKey = asSm2PrivateKey(key);
  const publicKey = crypto.createPublicKey(privateKey);
  return { keyId: publicKeyId(publicKey), privateKey, publicKey };
}

export function generateCheckpointSigningKeyPem(): string {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'SM2' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function loadCheckpointSigner(file: string, generateMissing: boolean): CheckpointSigner {
  if (!fs.existsSync(file)) {
    if (!generateMissing) throw new AuditKeyError(`the audit signing key file ${file} does not exist (AUDIT_SIGNING_KEY_FILE)`);
    createSecretFileOnce(file, generateCheckpointSigningKeyPem());
  }
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey(fs.readFileSync(file));
  } catch (error) {
    throw new AuditKeyError(`AUDIT_SIGNING_KEY_FILE (${file}) is not a readable private key: ${(error as Error).message}`);
  }
  return signerFromPrivateKey(key);
}

/**
 * The public keys checkpoints are verified with, from a PEM file of one or more SM2 public keys (the current
 * signer's and retired ones): lets a verifier (the viewer) check checkpoints without holding the signing key.
 */
export function loadCheckpointPublicKeys(file: string): crypto.KeyObject[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new AuditKeyError(`AUDIT_CHECKPOINT_PUBLIC_KEYS_FILE (${file}) cannot be read: ${(error as Error).message}`);
  }
  const blocks = text.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? [];
  if (blocks.length === 0) throw new AuditKeyError(`AUDIT_CHECKPOINT_PUBLIC_KEYS_FILE (${file}) holds no PEM public key`);
  return blocks.map((pem) => asSm2PublicKey(crypto.createPublicKey(pem)));
}

function signedBytes(checkpoint: AuditCheckpoint): Buffer {
  const { format, chain, seq, hash, createdAt, signerKeyId, algorithm } = checkpoint;
  return Buffer.from(canonicalJson({ format, chain, seq, hash, createdAt, signerKeyId, algorithm }));
}

export function signCheckpoint(signer: CheckpointSigner, head: { chain: string; seq: number; hash: string }, now = new Date()): SignedAuditCheckpoint {
  const checkpoint: AuditCheckpoint = { format: 'yy-audit-checkpoint-1', ...head, createdAt: now.toISOString(), signerKeyId: signer.keyId, algorithm: 'SM2-SM3' };
  return { ...checkpoint, signature: crypto.sign('sm3', signedBytes(checkpoint), signer.privateKey).toString('base64') };
}

/** True when the signature verifies under one of `publicKeys` (the current signer and retired ones). */
export function checkpointSignatureValid(checkpoint: SignedAuditCheckpoint, publicKeys: readonly crypto.KeyObject[]): boolean {
  const found = publicKeys.find((k) => publicKeyId(k) === checkpoint.signerKeyId);
  if (found === undefined) return false;
  const key = asSm2PublicKey(found);
  try {
    return crypto.verify('sm3', signedBytes(checkpoint), key, Buffer.from(checkpoint.signature, 'base64'));
  } catch {
    return false;
  }
}

/** Where checkpoints go and come from. A file directory here; an Object-Locked bucket would implement the same. */
export interface CheckpointStore {
  readonly chain: string;
  put(checkpoint: SignedAuditCheckpoint): Promise<void>;
  list(): Promise<ParsedCheckpoint[]>;
  /** The newest `count` names only (the keeper's tick needs the latest trusted checkpoint, not all of them);
   * absent: list() is used. */
  newest?(count: number): Promise<ParsedCheckpoint[]>;
}

/**
 * What is wrong with one copy of a checkpoint held in several places (ReplicaCheckpointStore):
 * - missing: the copy is not there (never written, or deleted where the store cannot prevent it: fs);
 * - deleted: an S3 delete marker hides it (the locked version beneath is still read);
 * - overwritten: a later version was put over it (the first one is read; the later one is checked too);
 * - unreachable: the copy's target could not be listed or read.
 */
export interface CheckpointCopyProblem {
  problem: 'missing' | 'deleted' | 'overwritten' | 'unreachable';
  target: string;
}

/**
 * A checkpoint as read back: `problem` set when the file is not a well-formed checkpoint. A store of several
 * copies returns one entry per distinct content of a name, with the targets it was found on and the copy
 * problems of that name (on its first entry).
 */
export type ParsedCheckpoint = ({ checkpoint: SignedAuditCheckpoint; problem?: undefined } | { checkpoint?: undefined; problem: string }) & {
  name: string;
  foundOn?: string[];
  copyProblems?: CheckpointCopyProblem[];
};

export function parseCheckpoint(name: string, text: string, chain: string): ParsedCheckpoint {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { name, problem: 'not JSON' };
  }
  const c = value as Partial<SignedAuditCheckpoint> | null;
  if (
    c === null ||
    typeof c !== 'object' ||
    c.format !== 'yy-audit-checkpoint-1' ||
    c.chain !== chain ||
    typeof c.seq !== 'number' ||
    !Number.isSafeInteger(c.seq) ||
    c.seq < 0 ||
    typeof c.hash !== 'string' ||
    typeof c.createdAt !== 'string' ||
    typeof c.signerKeyId !== 'string' ||
    c.algorithm !== 'SM2-SM3' ||
    typeof c.signature !== 'string'
  ) {
    return { name, problem: 'not a checkpoint of this chain' };
  }
  return { name, checkpoint: c as SignedAuditCheckpoint };
}

/** `<seq, 15 digits>-<createdAt without : and .>.json`: sorts by seq, unique per signing. */
export function checkpointName(checkpoint: AuditCheckpoint): string {
  return `${String(checkpoint.seq).padStart(15, '0')}-${checkpoint.createdAt.replace(/[:.]/g, '')}.json`;
}

/** One file per checkpoint under `<dir>/<chain>/`, created exclusively and made read-only. */
export class FileCheckpointStore implements CheckpointStore {
  private readonly dir: string;
  constructor(
    root: string,
    readonly chain: string,
  ) {
    this.dir = path.join(root, chain.replace(/[^A-Za-z0-9._-]/g, '_'));
  }

  async put(checkpoint: SignedAuditCheckpoint): Promise<void> {
    await fs.promises.mkdir(this.dir, { recursive: true, mode: 0o750 });
    const file = path.join(this.dir, checkpointName(checkpoint));
    await fs.promises.writeFile(file, `${JSON.stringify(checkpoint, null, 2)}\n`, { flag: 'wx', mode: 0o440 });
  }

  async list(): Promise<ParsedCheckpoint[]> {
    let names: string[];
    try {
      names = (await fs.promises.readdir(this.dir)).filter((n) => n.endsWith('.json')).sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return Promise.all(names.map(async (name) => parseCheckpoint(name, await fs.promises.readFile(path.join(this.dir, name), 'utf8'), this.chain)));
  }
}
