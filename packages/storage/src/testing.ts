import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadStorageKeyring } from './envelope/envelope.keys';
import { ObjectEnvelope } from './envelope/object.envelope';
import { FsReplicaTarget } from './fs.target';

/**
 * Helpers for tests of this package and of its users. Fault injection is real: an fs target is taken
 * offline by moving its root away (as an unmounted disk looks), an S3 target points at a closed port.
 */

export interface TempFsTargets {
  targets: FsReplicaTarget[];
  dir: string;
  /** Removes the temp dirs (files are 0444 but their dirs are writable, so this works). */
  cleanup(): Promise<void>;
}

/** Three initialised fs targets (`fs-1`..`fs-3`) in fresh temp dirs. */
export async function tempFsTargets(count = 3, envelope?: ObjectEnvelope): Promise<TempFsTargets> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'yunying-storage-'));
  const targets: FsReplicaTarget[] = [];
  for (let i = 1; i <= count; i++) {
    const target = new FsReplicaTarget({ name: `fs-${i}`, root: path.join(dir, `disk${i}`), ...(envelope ? { envelope } : {}) });
    await target.init();
    targets.push(target);
  }
  return { targets, dir, cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
}

/** Takes an fs target offline as an unmounted disk would be: its root is moved away. Returns `restore`. */
export async function takeFsTargetOffline(target: FsReplicaTarget): Promise<() => Promise<void>> {
  const away = `${target.root}.offline-${randomBytes(4).toString('hex')}`;
  await fs.rename(target.root, away);
  return () => fs.rename(away, target.root);
}

export interface S3TestSettings {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
}

/** The S3 endpoint started by infra/ceph/up.sh (env S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION), or null. */
export function s3TestSettings(): S3TestSettings | null {
  const { S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION } = process.env;
  if (!S3_ENDPOINT || !S3_ACCESS_KEY || !S3_SECRET_KEY) return null;
  return { endpoint: S3_ENDPOINT, accessKey: S3_ACCESS_KEY, secretKey: S3_SECRET_KEY, region: S3_REGION ?? 'us-east-1' };
}

/** A bucket name no earlier run used: locked buckets can never be emptied, so tests never reuse one. */
export function uniqueBucketName(prefix: string): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 30) || 'test';
  return `${clean}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** An http endpoint on 127.0.0.1 where nothing listens (a port just bound and released): an S3 target
 * pointing there fails for real, with ECONNREFUSED. */
export async function closedPortEndpoint(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}`;
}

/** The environment that points a Yunying process at three fresh Object Lock buckets of the test S3. */
export function s3SystemEnv(settings: S3TestSettings, buckets: readonly string[]): Record<string, string> {
  return {
    STORAGE_BACKEND: 's3',
    S3_ENDPOINTS: settings.endpoint,
    S3_BUCKETS: buckets.join(','),
    S3_ACCESS_KEY: settings.accessKey,
    S3_SECRET_KEY: settings.secretKey,
    S3_REGION: settings.region,
  };
}

/**
 * The content of a replica file as a test finds it on disk: opened with the key file when it is sealed
 * (#17: a system started by the tests encrypts at rest with its generated DATA_DIR/secrets/storage.keys).
 * Throws when a sealed file does not open, so a test never hashes ciphertext by mistake.
 */
export async function readStoredFile(file: string, keyFile: string): Promise<Buffer> {
  return openStoredBytes(await fs.readFile(file), keyFile);
}

/** The content of a copy's bytes as a test fetched them (from a file or straight from a bucket), opened with the key file when sealed. */
export async function openStoredBytes(stored: Uint8Array, keyFile: string): Promise<Buffer> {
  const envelope = new ObjectEnvelope({ seal: null, keys: loadStorageKeyring({ keyFile, generateMissing: false }) });
  const content = await envelope.open(stored);
  return Buffer.from(content.buffer, content.byteOffset, content.byteLength);
}

/** Where a test system (DATA_DIR, STORAGE_KEY_FILE unset) keeps its generated storage key file. */
export function systemStorageKeyFile(dataDir: string): string {
  return path.join(dataDir, 'secrets', 'storage.keys');
}
