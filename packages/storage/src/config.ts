import { AppError, type Logger } from '@yunying/core';
import type { DataAlgorithm } from './envelope/envelope.aead';
import { loadStorageKeyring } from './envelope/envelope.keys';
import { ObjectEnvelope } from './envelope/object.envelope';
import { FsReplicaTarget } from './fs.target';
import { S3ReplicaTarget } from './s3.target';
import type { ReplicaTarget } from './target';

export interface FsTargetSettings {
  kind: 'fs';
  /** Stable: recorded with every copy in the catalog. Default `fs-<n>` (1-based position). */
  name?: string;
  root: string;
  createRoot?: boolean;
  /** O_DIRECT for large object files (FsReplicaTargetOptions.directIo); default on. */
  directIo?: boolean;
  /** When the leaf directories are made (FsReplicaTargetOptions.leafDirs); default on-demand. */
  leafDirs?: 'ahead' | 'on-demand';
}

export interface S3TargetSettings {
  kind: 's3';
  /** Stable: recorded with every copy in the catalog. Default `s3-<n>` (1-based position). */
  name?: string;
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region?: string;
  bucket: string;
  /** Lifecycle transition of this copy to a cold storage class after `afterDays` (#18); null or absent: none. */
  tiering?: { afterDays: number; storageClass: string } | null;
}

export type TargetSettings = FsTargetSettings | S3TargetSettings;

/** Plain settings, as the config package parses them from the environment. */
export type StorageTargetsSettings =
  | { kind: 'fs'; roots: string[]; createRoots?: boolean; directIo?: boolean; leafDirs?: 'ahead' | 'on-demand' }
  | { kind: 's3'; replicas: Omit<S3TargetSettings, 'kind'>[] }
  | { kind: 'mixed'; targets: TargetSettings[] };

/**
 * Builds the replica targets. Refuses two targets on the same root or the same bucket of the same
 * endpoint: that would make "three copies" fewer. Call ReplicatedStore.init() before use.
 */
export function createTargetsFromConfig(settings: StorageTargetsSettings, logger?: Logger, envelope?: ObjectEnvelope): ReplicaTarget[] {
  let specs: TargetSettings[];
  switch (settings.kind) {
    case 'fs':
      specs = settings.roots.map((root) => ({ kind: 'fs', root, createRoot: settings.createRoots, directIo: settings.directIo, leafDirs: settings.leafDirs }));
      break;
    case 's3':
      specs = settings.replicas.map((r) => ({ kind: 's3', ...r }));
      break;
    case 'mixed':
      specs = settings.targets;
      break;
  }
  const places = new Set<string>();
  const targets = specs.map((spec, i): ReplicaTarget => {
    switch (spec.kind) {
      case 'fs': {
        const target = new FsReplicaTarget({ name: spec.name ?? `fs-${i + 1}`, root: spec.root, createRoot: spec.createRoot, directIo: spec.directIo, leafDirs: spec.leafDirs, logger, ...(envelope === undefined ? {} : { envelope }) });
        claim(places, `fs:${target.root}`);
        return target;
      }
      case 's3': {
        const target = new S3ReplicaTarget({ ...spec, name: spec.name ?? `s3-${i + 1}`, logger, ...(envelope === undefined ? {} : { envelope }) });
        claim(places, `s3:${target.endpoint}/${target.bucket}`);
        return target;
      }
    }
  });
  return targets;
}

function claim(places: Set<string>, place: string): void {
  if (places.has(place)) throw new AppError('config_invalid', 'storage: two replica targets share one root or bucket');
  places.add(place);
}

/** Encryption at rest as the config package parses it (STORAGE_ENCRYPTION, STORAGE_KEY_FILE). */
export interface StorageEncryptionSettings {
  /** The cipher of new objects; 'off': new objects are stored as they are (sealed ones still open). */
  algorithm: DataAlgorithm | 'off';
  keyFile: string;
  /** Embedded and development defaults only: create the key file with a fresh key when missing. */
  generateMissing: boolean;
}

/**
 * The envelope every target and the derived store use. With encryption off the key file is still read
 * when it exists, so that objects sealed before stay readable; with it on, a missing key file is an error
 * (unless it may be generated).
 */
export function createObjectEnvelope(settings: StorageEncryptionSettings): ObjectEnvelope {
  const seal = settings.algorithm === 'off' ? null : settings.algorithm;
  const keys = loadStorageKeyring({ keyFile: settings.keyFile, generateMissing: seal !== null && settings.generateMissing });
  if (seal !== null && keys === null) {
    throw new AppError('config_invalid', `storage encryption: the key file ${settings.keyFile} does not exist (STORAGE_KEY_FILE)`);
  }
  return new ObjectEnvelope({ seal, keys });
}
