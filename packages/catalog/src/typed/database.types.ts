/**
 * The catalog's tables as the migrations leave them, for Kysely (kyselyOn). GENERATED from a freshly migrated
 * schema by `npm run db:types -w @yunying/catalog`: do not edit; database.types.int.test.ts fails when this
 * file and the migrations disagree. Names are camelCase (kyselyOn maps them to the snake_case columns).
 */
import type { ColumnType } from 'kysely';

export type Generated<T> = T extends ColumnType<infer S, infer I, infer U> ? ColumnType<S, I | undefined, U> : ColumnType<T, T | undefined, T>;
export type Int8 = ColumnType<string, string | number | bigint, string | number | bigint>;
export type Numeric = ColumnType<string, string | number, string | number>;
export type Timestamp = ColumnType<Date, Date | string, Date | string>;
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type Json = ColumnType<JsonValue, JsonValue, JsonValue>;

export interface AiResults {
  id: Generated<string>;
  studyRef: Int8;
  modelId: string;
  modelVersion: string;
  modelSha256: string;
  instanceCount: number;
  status: string;
  reason: string | null;
  score: number | null;
  category: string | null;
  priority: string | null;
  thresholds: Json | null;
  images: Generated<Json>;
  timings: Json | null;
  createdAt: Generated<Timestamp>;
  srSopInstanceUid: string | null;
  gate: Json | null;
}

export interface ApiKeys {
  id: Generated<string>;
  clinicId: string;
  name: string;
  keyPrefix: string;
  keyHash: string;
  createdBy: string | null;
  createdAt: Generated<Timestamp>;
  lastUsedAt: Timestamp | null;
  expiresAt: Timestamp | null;
  revokedAt: Timestamp | null;
  replacedBy: string | null;
}

export interface AuditChainHead {
  singleton: Generated<boolean>;
  lastSeq: Int8;
  lastHash: string;
}

export interface AuditEvents {
  seq: Int8;
  id: string;
  occurredAt: Timestamp;
  eventType: string;
  eventCode: string;
  action: string;
  outcome: number;
  actorUserId: string | null;
  actorUsername: string;
  actorRole: string | null;
  actorClinic: string | null;
  sourceIp: string | null;
  requestId: string | null;
  studyInstanceUid: string | null;
  clinicId: string | null;
  details: Generated<Json>;
  prevHash: string;
  hash: string;
  macKeyId: string | null;
  macAlg: string | null;
}

export interface ClinicAeTitles {
  aeTitle: string;
  clinicId: string;
  createdAt: Generated<Timestamp>;
}

export interface ClinicDimseCertificates {
  fingerprintSha256: string;
  clinicId: string;
  aeTitle: string | null;
  label: string;
  createdAt: Generated<Timestamp>;
  revokedAt: Timestamp | null;
}

export interface Clinics {
  id: Generated<string>;
  code: string;
  name: string;
  retentionYears: Generated<number>;
  createdAt: Generated<Timestamp>;
  dimseAuth: Generated<string>;
  dimseSourceNetworks: string[] | null;
  tiradsSystem: Generated<string>;
}

export interface Copies {
  id: Generated<Int8>;
  sha256: string;
  target: string;
  objectKey: string;
  versionId: string | null;
  sizeBytes: Int8;
  retainUntil: Timestamp;
  lockMode: string;
  state: string;
  failureReason: string | null;
  lastVerifiedAt: Timestamp | null;
  createdAt: Generated<Timestamp>;
  claimedUntil: Timestamp | null;
  repairAttempts: Generated<number>;
  nextRepairAt: Timestamp | null;
  lastRepairedAt: Timestamp | null;
  tampering: string | null;
  storageClass: string | null;
}

export interface DimseCommitmentPending {
  id: Generated<Int8>;
  clinicId: string;
  callingAe: string;
  transactionUid: string;
  result: Json;
  studyUids: Generated<string[]>;
  attempts: Generated<number>;
  nextAttemptAt: Timestamp;
  expiresAt: Timestamp;
  lastError: string | null;
  createdAt: Generated<Timestamp>;
}

export interface DimseMoveDestinations {
  clinicId: string;
  aeTitle: string;
  host: string;
  port: number;
  createdAt: Generated<Timestamp>;
  tls: Generated<boolean>;
  tlsCaPem: string | null;
  tlsServerName: string | null;
  commitmentReports: Generated<string>;
}

export interface DisposalRequests {
  id: Generated<Int8>;
  studyRef: Int8;
  requestedBy: string | null;
  requestedAt: Generated<Timestamp>;
  reason: string;
  status: Generated<string>;
  approvedBy: string | null;
  approvedAt: Timestamp | null;
  decidedNote: string | null;
  executedAt: Timestamp | null;
  attempts: Generated<number>;
  claimedUntil: Timestamp | null;
  result: Json | null;
}

export interface Instances {
  id: Generated<Int8>;
  seriesRef: Int8;
  studyRef: Int8;
  clinicId: string;
  sopInstanceUid: string;
  version: Generated<number>;
  isCurrent: Generated<boolean>;
  sopClassUid: string;
  transferSyntaxUid: string;
  instanceNumber: number | null;
  rows: number | null;
  columns: number | null;
  numberOfFrames: number | null;
  photometric: string | null;
  sha256: string;
  sizeBytes: Int8;
  dicomJson: Json;
  frames: Json | null;
  receivedAt: Generated<Timestamp>;
  datasetSha256: string | null;
}

export interface KeyImageSelections {
  id: string;
  studyRef: Int8;
  revision: number;
  titleCode: string;
  images: Json;
  createdBy: string;
  createdAt: Generated<Timestamp>;
  kosSopInstanceUid: string | null;
  kosSha256: string | null;
  kosStoredAt: Timestamp | null;
}

export interface LegalHoldReleases {
  id: Generated<Int8>;
  studyRef: Int8;
  requestedBy: string | null;
  requestedAt: Generated<Timestamp>;
  reason: string;
  status: Generated<string>;
  decidedBy: string | null;
  decidedAt: Timestamp | null;
}

export interface Objects {
  sha256: string;
  objectKey: string;
  sizeBytes: Int8;
  retainUntil: Timestamp;
  legalHold: Generated<boolean>;
  createdAt: Generated<Timestamp>;
}

export interface OidcGrantSessions {
  grantId: string;
  sessionId: string;
  createdAt: Generated<Timestamp>;
}

export interface OidcPayloads {
  model: string;
  id: string;
  payload: Json;
  grantId: string | null;
  userCode: string | null;
  uid: string | null;
  expiresAt: Timestamp | null;
  consumedAt: Timestamp | null;
}

export interface OrphanCopies {
  id: Generated<Int8>;
  target: string;
  objectKey: string;
  sizeBytes: Int8 | null;
  firstSeenAt: Generated<Timestamp>;
  lastSeenAt: Generated<Timestamp>;
  resolvedAt: Timestamp | null;
}

export interface Outbox {
  id: Generated<Int8>;
  queue: string;
  jobName: string;
  jobId: string;
  payload: Json;
  createdAt: Generated<Timestamp>;
  publishedAt: Timestamp | null;
}

export interface PatientIdentifierIssuers {
  issuer: string;
  label: Generated<string>;
  addedBy: string;
  addedAt: Generated<Timestamp>;
}

export interface PatientIndexCorrections {
  id: Generated<Int8>;
  studyRef: Int8;
  patientId: string | null;
  issuer: string | null;
  patientName: string | null;
  birthDate: string | null;
  sex: string | null;
  reason: string;
  correctedBy: string;
  correctedAt: Generated<Timestamp>;
  previousPersonRef: Int8 | null;
  personRef: Int8 | null;
}

export interface PatientIndexIdentifiers {
  namespace: string;
  value: string;
  personRef: Int8;
}

export interface PatientIndexMerges {
  id: Generated<Int8>;
  survivorRef: Int8;
  mergedRef: Int8;
  movedPersons: string[];
  reviewRef: Int8 | null;
  mergedBy: string;
  mergedAt: Generated<Timestamp>;
  unmergedBy: string | null;
  unmergedAt: Timestamp | null;
}

export interface PatientIndexPersons {
  id: Generated<Int8>;
  patientName: string | null;
  birthDate: string | null;
  sex: string | null;
  mergedInto: Int8 | null;
  createdAt: Generated<Timestamp>;
}

export interface PatientIndexReviews {
  id: Generated<Int8>;
  studyRef: Int8;
  personRef: Int8;
  candidateRef: Int8;
  reason: string;
  differs: Generated<string[]>;
  status: Generated<string>;
  decidedBy: string | null;
  decidedAt: Timestamp | null;
  createdAt: Generated<Timestamp>;
}

export interface PatientIndexStudies {
  studyRef: Int8;
  personRef: Int8;
  linkedBy: string;
  indexedAt: Generated<Timestamp>;
}

export interface Patients {
  id: Generated<Int8>;
  clinicId: string;
  patientKey: string;
  patientId: Generated<string>;
  patientName: string | null;
  birthDate: string | null;
  sex: string | null;
  createdAt: Generated<Timestamp>;
}

export interface RadiologistGrants {
  userId: string;
  clinicId: string;
  grantedBy: string | null;
  grantedAt: Generated<Timestamp>;
}

export interface ReaderAiResults {
  id: Generated<string>;
  studyRef: Int8;
  sopInstanceUid: string;
  frameNumber: number;
  requestedBy: string;
  modelId: string;
  modelVersion: string;
  modelSha256: string;
  box: Json;
  finding: Json;
  createdAt: Generated<Timestamp>;
}

export interface ReaderSigningKeys {
  id: Generated<string>;
  userId: string;
  algorithm: string;
  publicKeyPem: string;
  privateKeyEnc: Buffer;
  createdAt: Generated<Timestamp>;
}

export interface ReadingTimes {
  studyRef: Int8;
  readerUserId: string;
  clinicId: string;
  openedAt: Generated<Timestamp>;
  signedAt: Timestamp | null;
}

export interface RebuildCopies {
  target: string;
  objectKey: string;
  sha256: string;
  sizeBytes: Int8;
  versionId: string | null;
  retainUntil: Timestamp | null;
  lockMode: string | null;
  legalHold: Generated<boolean>;
  clinicId: string | null;
  clinicCode: string | null;
  receivedAt: Timestamp | null;
  digestOk: boolean | null;
  listedAt: Generated<Timestamp>;
}

export interface RebuildObjects {
  sha256: string;
  outcome: string;
  doneAt: Generated<Timestamp>;
}

export interface RefreshTokens {
  id: Generated<string>;
  sessionId: string;
  tokenHash: string;
  issuedAt: Generated<Timestamp>;
  expiresAt: Timestamp;
  usedAt: Timestamp | null;
  replacedBy: string | null;
}

export interface ReplicaProtection {
  target: string;
  problems: string;
  checkedAt: Generated<Timestamp>;
}

export interface ReportRecords {
  reportId: string;
  keyId: string;
  algorithm: string;
  payload: string;
  signature: Buffer;
  srSopInstanceUid: string;
  srSha256: string;
  srStoredAt: Timestamp | null;
  createdAt: Generated<Timestamp>;
}

export interface Reports {
  id: Generated<string>;
  studyRef: Int8;
  version: number;
  kind: string;
  authorUserId: string;
  tiradsCategory: string | null;
  findings: Generated<string>;
  impression: Generated<string>;
  aiResultRef: string | null;
  aiSuggestionAccepted: boolean | null;
  status: string;
  signedAt: Timestamp | null;
  createdAt: Generated<Timestamp>;
  updatedAt: Generated<Timestamp>;
  nodules: Generated<Json>;
  tiradsSystem: Generated<string>;
}

export interface SchemaMigrations {
  version: string;
  name: string;
  checksum: string;
  appliedAt: Generated<Timestamp>;
}

export interface Series {
  id: Generated<Int8>;
  studyRef: Int8;
  seriesInstanceUid: string;
  modality: string | null;
  seriesNumber: number | null;
  seriesDescription: string | null;
  seriesDate: string | null;
  bodyPartExamined: string | null;
  numberOfInstances: Generated<number>;
  thumbnailKey: string | null;
  createdAt: Generated<Timestamp>;
}

export interface Sessions {
  id: Generated<string>;
  userId: string;
  createdAt: Generated<Timestamp>;
  expiresAt: Timestamp;
  revokedAt: Timestamp | null;
  revokedReason: string | null;
  sourceIp: string | null;
  userAgent: string | null;
}

export interface SignInFailures {
  id: Generated<Int8>;
  username: string;
  sourceIp: string;
  attemptedAt: Generated<Timestamp>;
}

export interface SignInKnownSources {
  username: string;
  sourceIp: string;
  lastSuccessAt: Timestamp;
}

export interface Studies {
  id: Generated<Int8>;
  clinicId: string;
  patientRef: Int8;
  studyInstanceUid: string;
  patientName: string | null;
  patientId: string | null;
  patientBirthDate: string | null;
  patientSex: string | null;
  studyDate: string | null;
  studyTime: string | null;
  accessionNumber: string | null;
  referringPhysicianName: string | null;
  studyId: string | null;
  studyDescription: string | null;
  modalities: Generated<string[]>;
  numberOfSeries: Generated<number>;
  numberOfInstances: Generated<number>;
  receivedAt: Generated<Timestamp>;
  lastInstanceAt: Generated<Timestamp>;
  retainUntil: Timestamp;
  legalHold: Generated<boolean>;
  priority: Generated<string>;
  priorityRank: number | null;
  triageStatus: Generated<string>;
  readingStatus: Generated<string>;
  claimedBy: string | null;
  claimExpiresAt: Timestamp | null;
  aiResultRef: string | null;
  disposedAt: Timestamp | null;
  disposalRequestRef: Int8 | null;
}

export interface StudyShares {
  id: Generated<string>;
  studyRef: Int8;
  clinicId: string;
  tokenSha256: Buffer;
  codeSha256: Buffer | null;
  createdBy: string;
  createdAt: Generated<Timestamp>;
  expiresAt: Timestamp;
  revokedAt: Timestamp | null;
  revokedBy: string | null;
  codeFailures: Generated<number>;
  codeLockedUntil: Timestamp | null;
  viewCount: Generated<number>;
  lastViewedAt: Timestamp | null;
}

export interface TriageScopeRules {
  clinicId: string;
  pattern: string;
  scope: string;
  createdAt: Generated<Timestamp>;
}

export interface UserAccountChanges {
  userId: string;
  changedBy: string;
  change: string;
  changedAt: Generated<Timestamp>;
}

export interface UserRecoveryCodes {
  userId: string;
  codeHash: string;
  usedAt: Timestamp | null;
  createdAt: Generated<Timestamp>;
}

export interface UserTotp {
  userId: string;
  secretSealed: string;
  confirmedAt: Timestamp | null;
  lastStep: Generated<Int8>;
  createdAt: Generated<Timestamp>;
}

export interface Users {
  id: Generated<string>;
  username: string;
  displayName: Generated<string>;
  role: string;
  clinicId: string | null;
  passwordHash: string;
  disabled: Generated<boolean>;
  tokenVersion: Generated<number>;
  createdAt: Generated<Timestamp>;
  updatedAt: Generated<Timestamp>;
  enabledAt: Timestamp | null;
}

export interface DB {
  aiResults: AiResults;
  apiKeys: ApiKeys;
  auditChainHead: AuditChainHead;
  auditEvents: AuditEvents;
  clinicAeTitles: ClinicAeTitles;
  clinicDimseCertificates: ClinicDimseCertificates;
  clinics: Clinics;
  copies: Copies;
  dimseCommitmentPending: DimseCommitmentPending;
  dimseMoveDestinations: DimseMoveDestinations;
  disposalRequests: DisposalRequests;
  instances: Instances;
  keyImageSelections: KeyImageSelections;
  legalHoldReleases: LegalHoldReleases;
  objects: Objects;
  oidcGrantSessions: OidcGrantSessions;
  oidcPayloads: OidcPayloads;
  orphanCopies: OrphanCopies;
  outbox: Outbox;
  patientIdentifierIssuers: PatientIdentifierIssuers;
  patientIndexCorrections: PatientIndexCorrections;
  patientIndexIdentifiers: PatientIndexIdentifiers;
  patientIndexMerges: PatientIndexMerges;
  patientIndexPersons: PatientIndexPersons;
  patientIndexReviews: PatientIndexReviews;
  patientIndexStudies: PatientIndexStudies;
  patients: Patients;
  radiologistGrants: RadiologistGrants;
  readerAiResults: ReaderAiResults;
  readerSigningKeys: ReaderSigningKeys;
  readingTimes: ReadingTimes;
  rebuildCopies: RebuildCopies;
  rebuildObjects: RebuildObjects;
  refreshTokens: RefreshTokens;
  replicaProtection: ReplicaProtection;
  reportRecords: ReportRecords;
  reports: Reports;
  schemaMigrations: SchemaMigrations;
  series: Series;
  sessions: Sessions;
  signInFailures: SignInFailures;
  signInKnownSources: SignInKnownSources;
  studies: Studies;
  studyShares: StudyShares;
  triageScopeRules: TriageScopeRules;
  userAccountChanges: UserAccountChanges;
  userRecoveryCodes: UserRecoveryCodes;
  userTotp: UserTotp;
  users: Users;
}
