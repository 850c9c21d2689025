export { objectKey, sha256OfKey, sha256Hex, assertObjectKey } from './keys';
export {
  GLOBAL_MINIMUM_RETENTION_YEARS,
  STUDY_DATE_MAX_FUTURE_DAYS,
  computeRetainUntil,
  parseDicomDate,
  addYearsUtc,
  type RetainUntilInput,
} from './retention';
export type {
  ReplicaTarget,
  CopyMeta,
  CopyReceipt,
  CopyStat,
  ListedObject,
  ObjectOrigin,
  VerifyExpectation,
  VerifyResult,
  LockMode,
  ByteRange,
} from './target';
export { originFromStrings, originToStrings } from './origin';
export { assertRecordKey, assertRecordPrefix, type WormRecordTarget, type RecordVersion, type RecordReceipt } from './records';
export { FsReplicaTarget, type FsReplicaTargetOptions } from './fs.target';
export {
  ReplicatedStore,
  type ReplicatedStoreOptions,
  type PutOptions,
  type StoreResult,
  type FailedCopy,
  type ReadOptions,
  type ProbeResult,
  type RepairMeta,
  type CompleteResult,
  type CopyVersions,
  type CopyVersionLookup,
} from './replicated.store';
export { S3ReplicaTarget, type S3ReplicaTargetOptions } from './s3.target';
export {
  createTargetsFromConfig,
  type StorageTargetsSettings,
  type TargetSettings,
  type FsTargetSettings,
  type S3TargetSettings,
  type StorageEncryptionSettings,
  createObjectEnvelope,
} from './config';
export { ObjectEnvelope, isSealed, type ObjectEnvelopeOptions, type ContentDigest } from './envelope/object.envelope';
export {
  FileKeyring,
  StorageKeyError,
  isStorageKeyError,
  loadStorageKeyring,
  newStorageKeyLine,
  parseStorageKeyFile,
  type KeyEncryptionService,
  type StorageKeyProblem,
  type StorageKeySettings,
} from './envelope/envelope.keys';
export { DATA_ALGORITHMS, isDataAlgorithm, type DataAlgorithm } from './envelope/envelope.aead';
export { createDerivedStore, assertDerivedKey, seriesThumbnailKey, FsDerivedStore, S3DerivedStore, type DerivedStore, type DerivedStoreSettings } from './derived.store';
