import path from 'node:path';
import type { z } from 'zod';
import { AppError } from '@yunying/core';
import { envSchema, type Env, type OidcClientSetting } from './schema';

export type Role = Env['ROLE'];
export type ServiceRole = Exclude<Role, 'all'>;

export type StorageConfig =
  | { backend: 'fs'; roots: [string, string, string]; directIo: boolean; leafDirs: 'ahead' | 'on-demand' }
  | {
      backend: 's3';
      endpoints: string[];
      buckets: [string, string, string];
      /** One per copy, in bucket order (#17); the same three when one shared key is configured. */
      credentials: [S3Credential, S3Credential, S3Credential];
      region: string;
      /** Per copy: days until its lifecycle rule moves it to coldStorageClass; null = never (#18 tiering). */
      coldAfterDays: [number | null, number | null, number | null];
      coldStorageClass: string;
    };

export interface S3Credential {
  accessKey: string;
  secretKey: string;
}

export type DerivedStorageConfig =
  | { backend: 'fs'; dir: string }
  | { backend: 's3'; endpoint: string; bucket: string; accessKey: string; secretKey: string; region: string };

/** The one typed configuration object, built once at boot from the environment. */
export interface Config {
  env: Env['NODE_ENV'];
  role: Role;
  logLevel: Env['LOG_LEVEL'];
  logFormat: Env['LOG_FORMAT'];
  dataDir: string;
  /** migrate: apply pending migrations at start (false: connect as a role that cannot, and refuse to start while one is pending). */
  database: {
    url: string;
    schema: string;
    poolSize: number;
    migrate: boolean;
    /** A streaming replica for reads where staleness is harmless (CATALOG_READ_URL); null: the primary only. */
    readReplica: { url: string; maxLagSeconds: number } | null;
  };
  /** lockSeconds: a job's lock and the stalled-job check interval (QUEUE_LOCK_SECONDS). */
  redis: { url: string; queuePrefix: string; lockSeconds: number };
  http: {
    host: string;
    ports: Record<ServiceRole, number>;
    publicViewerUrl: string;
    publicIngestUrl: string;
    /** Proxies whose forwarding headers are believed; empty: none. */
    trustedProxies: string[];
    /** Opens /metrics and the /readyz detail; undefined: direct loopback callers only. */
    metricsToken?: string;
    corsOrigins: string[];
  };
  dimse: {
    host: string;
    port: number;
    aeTitle: string;
    checkCalledAe: boolean;
    /** Refused associations tolerated per source address and minute (0: no throttling). */
    maxFailedAssociationsPerMinute: number;
    /** Asynchronous operations window granted to an SCU that proposes one (PS3.7 D.3.3.3). */
    maxOperationsInvoked: number;
    /** DICOM TLS listener (PS3.15 B.1); null when DIMSE_TLS_PORT is unset. */
    tls: { port: number; certFile: string; keyFile: string; caFile: string } | null;
  };
  storage: StorageConfig;
  /** Envelope encryption at rest of copies and derived objects (#17); the shape createObjectEnvelope takes. */
  storageEncryption: { algorithm: Env['STORAGE_ENCRYPTION']; keyFile: string; generateMissing: boolean };
  /** Where derived objects (thumbnails) go: one copy, no retention, rebuildable from the archive. */
  derived: DerivedStorageConfig;
  writeQuorum: number;
  retentionMinYears: number;
  /** Signed reports as records (#20): SR retention, the readers' key algorithm, the key-encryption secret. */
  /** Study share links (#20): default and longest expiry in days. */
  shares: { defaultDays: number; maxDays: number };
  reports: { retentionYears: number; signingAlgorithm: Env['REPORT_SIGNING_ALGORITHM']; signingSecretFile: string; generateMissingSecret: boolean };
  /** Scrubber, repair worker and orphan sweeper (#8 "keep and prove"). */
  keeper: {
    scrubIntervalSeconds: number;
    scrubBatch: number;
    scrubMaxBytesPerSecond: number;
    scrubCycleDays: number;
    scrubStaleDays: number;
    repairRetrySeconds: number;
    orphanSweepIntervalSeconds: number;
  };
  stow: { maxInstanceBytes: number; maxRequestBytes: number; memoryBudgetBytes: number };
  /** Catalog transactions of ingest (#14): per request / association batch, and shared across them (group commit). */
  ingest: { batchMaxInstances: number; batchMaxBytes: number; groupCommitMaxInstances: number };
  auth: {
    tokenSecret: string;
    accessTokenTtlSeconds: number;
    refreshTokenTtlSeconds: number;
    /** Roles that must give a TOTP code at sign-in (AUTH_SECOND_FACTOR=privileged: radiologist, auditor, admin); empty: optional for everyone. */
    secondFactorRoles: ('radiologist' | 'auditor' | 'admin')[];
    /** AUTH_DORMANT_DISABLE_DAYS: the keeper disables accounts unused this long; 0: never (they are only flagged). */
    dormantDisableDays: number;
    /**
     * The OpenID Connect issuer whose access tokens are accepted too: an external one (OIDC_ISSUER), or the
     * embedded provider at PUBLIC_VIEWER_URL/oidc (`embedded` set); null when neither.
     */
    oidc: {
      issuer: string;
      audience: string;
      usernameClaim: string;
      /** Seconds of clock skew allowed on `exp` / `nbf` (OIDC_CLOCK_TOLERANCE_SECONDS). */
      clockToleranceSeconds: number;
      /**
       * What an external issuer's token must show for a role in secondFactorRoles: one of `amr` (RFC 8176
       * method references) or `acr` equal to one of `acr`. Not applied to the embedded provider, whose
       * sign-in is Yunying's own (with its TOTP step).
       */
      secondFactor: { amr: string[]; acr: string[] };
      embedded: {
        keysFile: string;
        /** True for a key file left at its default (never in production): created with fresh keys when missing. */
        generateKeys: boolean;
        clients: OidcClientSetting[];
      } | null;
    } | null;
  };
  /** The audit chain's keys (outside the database) and its signed checkpoints (issue #17). */
  audit: {
    macKeyFile: string;
    macAlgorithm: Env['AUDIT_MAC_ALGORITHM'];
    signingKeyFile: string;
    /** True for a key file left at its embedded default (never in production): created with a fresh key when missing. */
    generateMissing: { macKey: boolean; signingKey: boolean };
    /** Verification keys of checkpoints (current and retired signers); null: derived from the signing key. */
    checkpointPublicKeysFile: string | null;
    checkpointDir: string;
    /** replicas: checkpoints and segments as write-once objects in every replica target; dir: checkpoint files only. */
    anchorStore: 'replicas' | 'dir';
    anchorRetentionDays: number;
    checkpointIntervalSeconds: number;
    /** Names this chain in its checkpoints: `<database>/<schema>`. */
    chain: string;
  };
  models: { dir: string; active: string };
  triage: { quietSeconds: number; concurrency: number };
  shutdownGraceSeconds: number;
}

export class ConfigError extends AppError {
  readonly problems: string[];
  constructor(problems: string[]) {
    super('config_invalid', `Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

function describeIssue(issue: z.core.$ZodIssue, env: Record<string, string | undefined>): string {
  const variable = String(issue.path[0] ?? '(environment)');
  const raw = env[variable];
  // Secrets are never echoed back, even when wrong.
  const shown = raw === undefined ? 'not set' : /SECRET|PASSWORD|KEY|TOKEN/.test(variable) ? 'a value (hidden)' : JSON.stringify(raw);
  return `${variable}: ${issue.message} (got ${shown})`;
}

function triple<T>(values: T[]): [T, T, T] {
  const [a, b, c] = values;
  if (a === undefined || b === undefined || c === undefined || values.length !== 3) throw new ConfigError(['expected exactly three values']);
  return [a, b, c];
}

/**
 * Parses and validates the environment. Throws ConfigError naming every wrong or missing variable and
 * what is expected; callers at boot print it and exit (see `loadConfigOrExit`).
 */
export function loadConfig(env: Record<string, string | undefined> = process.env, cwd = process.cwd()): Config {
  // Empty strings count as unset, as most shells and .env files mean.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = envSchema.safeParse(cleaned);
  if (!result.success) throw new ConfigError(result.error.issues.map((i) => describeIssue(i, cleaned)));
  const e = result.data;
  const dataDir = path.resolve(cwd, e.DATA_DIR);
  const publicViewerUrl = (e.PUBLIC_VIEWER_URL ?? `http://${e.HTTP_HOST.includes(':') ? `[${e.HTTP_HOST}]` : e.HTTP_HOST}:${e.VIEWER_PORT}`).replace(/\/+$/, '');
  // RFC 8176 method references that mean more than a password: one-time password, multiple factors, a hardware or software key.
  const oidcSecondFactor = { amr: e.OIDC_SECOND_FACTOR_AMR ?? ['otp', 'mfa', 'hwk', 'swk'], acr: e.OIDC_SECOND_FACTOR_ACR ?? [] };
  const storage: StorageConfig =
    e.STORAGE_BACKEND === 's3'
      ? {
          backend: 's3',
          endpoints: e.S3_ENDPOINTS ?? [],
          buckets: triple(e.S3_BUCKETS ?? []),
          credentials: triple(
            [0, 1, 2].map((i) => ({ accessKey: e.S3_ACCESS_KEYS?.[i] ?? e.S3_ACCESS_KEY ?? '', secretKey: e.S3_SECRET_KEYS?.[i] ?? e.S3_SECRET_KEY ?? '' })),
          ),
          region: e.S3_REGION,
          coldAfterDays: triple(
            (e.STORAGE_COLD_AFTER_DAYS ?? 'never,never,never').split(',').map((v) => (v.trim() === 'never' ? null : Number(v.trim()))),
          ),
          coldStorageClass: e.STORAGE_COLD_CLASS,
        }
      : {
          backend: 'fs',
          roots: triple((e.STORAGE_FS_ROOTS ?? ['replica-a', 'replica-b', 'replica-c'].map((r) => path.join(dataDir, r))).map((r) => path.resolve(cwd, r))),
          directIo: e.STORAGE_FS_DIRECT_IO,
          leafDirs: e.STORAGE_FS_LEAF_DIRS,
        };
  const derived: DerivedStorageConfig =
    storage.backend === 's3'
      ? {
          backend: 's3',
          endpoint: storage.endpoints[0] ?? '',
          bucket: e.S3_DERIVED_BUCKET ?? `${storage.buckets[0]}-derived`.slice(0, 63),
          // The derived bucket is on the first endpoint, with the first copy's credential.
          accessKey: storage.credentials[0].accessKey,
          secretKey: storage.credentials[0].secretKey,
          region: storage.region,
        }
      : { backend: 'fs', dir: path.join(dataDir, 'derived') };
  return {
    env: e.NODE_ENV,
    role: e.ROLE,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    dataDir,
    database: {
      url: e.DATABASE_URL,
      schema: e.DATABASE_SCHEMA,
      poolSize: e.DATABASE_POOL_SIZE,
      migrate: e.DATABASE_MIGRATE,
      readReplica: e.CATALOG_READ_URL === undefined ? null : { url: e.CATALOG_READ_URL, maxLagSeconds: e.CATALOG_READ_MAX_LAG_SECONDS },
    },
    redis: { url: e.REDIS_URL, queuePrefix: e.QUEUE_PREFIX, lockSeconds: e.QUEUE_LOCK_SECONDS },
    http: {
      host: e.HTTP_HOST,
      ports: { ingest: e.INGEST_PORT, viewer: e.VIEWER_PORT, inference: e.INFERENCE_PORT, keeper: e.KEEPER_PORT },
      publicViewerUrl,
      publicIngestUrl: (e.PUBLIC_INGEST_URL ?? `http://${e.HTTP_HOST.includes(':') ? `[${e.HTTP_HOST}]` : e.HTTP_HOST}:${e.INGEST_PORT}`).replace(/\/+$/, ''),
      trustedProxies: e.TRUSTED_PROXIES ?? [],
      ...(e.METRICS_TOKEN !== undefined ? { metricsToken: e.METRICS_TOKEN } : {}),
      corsOrigins: e.CORS_ORIGINS ?? [],
    },
    dimse: {
      host: e.DIMSE_HOST,
      port: e.DIMSE_PORT,
      aeTitle: e.DIMSE_AE_TITLE,
      checkCalledAe: e.DIMSE_CHECK_CALLED_AE,
      maxFailedAssociationsPerMinute: e.DIMSE_MAX_FAILED_ASSOCIATIONS,
      maxOperationsInvoked: e.DIMSE_MAX_OPERATIONS_INVOKED,
      tls:
        e.DIMSE_TLS_PORT === undefined
          ? null
          : {
              port: e.DIMSE_TLS_PORT,
              certFile: path.resolve(cwd, e.DIMSE_TLS_CERT_FILE ?? ''),
              keyFile: path.resolve(cwd, e.DIMSE_TLS_KEY_FILE ?? ''),
              caFile: path.resolve(cwd, e.DIMSE_TLS_CA_FILE ?? ''),
            },
    },
    storage,
    storageEncryption: {
      algorithm: e.STORAGE_ENCRYPTION,
      keyFile: path.resolve(cwd, e.STORAGE_KEY_FILE ?? path.join(dataDir, 'secrets', 'storage.keys')),
      generateMissing: e.STORAGE_KEY_FILE === undefined,
    },
    derived,
    writeQuorum: e.WRITE_QUORUM,
    retentionMinYears: e.RETENTION_MIN_YEARS,
    shares: { defaultDays: e.SHARE_DEFAULT_DAYS, maxDays: e.SHARE_MAX_DAYS },
    reports: {
      retentionYears: e.REPORT_RETENTION_YEARS,
      signingAlgorithm: e.REPORT_SIGNING_ALGORITHM,
      signingSecretFile: path.resolve(cwd, e.REPORT_SIGNING_SECRET_FILE ?? path.join(dataDir, 'secrets', 'report-signing.key')),
      generateMissingSecret: e.REPORT_SIGNING_SECRET_FILE === undefined,
    },
    keeper: {
      scrubIntervalSeconds: e.SCRUB_INTERVAL_SECONDS,
      scrubBatch: e.SCRUB_BATCH,
      scrubMaxBytesPerSecond: e.SCRUB_MAX_BYTES_PER_SECOND,
      scrubCycleDays: e.SCRUB_CYCLE_DAYS,
      scrubStaleDays: e.SCRUB_STALE_DAYS,
      repairRetrySeconds: e.REPAIR_RETRY_SECONDS,
      orphanSweepIntervalSeconds: e.ORPHAN_SWEEP_INTERVAL_SECONDS,
    },
    stow: { maxInstanceBytes: e.STOW_MAX_INSTANCE_BYTES, maxRequestBytes: e.STOW_MAX_REQUEST_BYTES, memoryBudgetBytes: e.STOW_MEMORY_BUDGET_BYTES },
    ingest: { batchMaxInstances: e.INGEST_BATCH_MAX_INSTANCES, batchMaxBytes: e.INGEST_BATCH_MAX_BYTES, groupCommitMaxInstances: e.INGEST_GROUP_COMMIT_MAX_INSTANCES },
    auth: {
      tokenSecret: e.AUTH_TOKEN_SECRET,
      accessTokenTtlSeconds: e.ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlSeconds: e.REFRESH_TOKEN_TTL_SECONDS,
      dormantDisableDays: e.AUTH_DORMANT_DISABLE_DAYS,
      secondFactorRoles: (e.AUTH_SECOND_FACTOR ?? (e.NODE_ENV === 'production' ? 'privileged' : 'optional')) === 'privileged' ? ['radiologist', 'auditor', 'admin'] : [],
      oidc:
        e.OIDC_ISSUER !== undefined
          ? { issuer: e.OIDC_ISSUER, audience: e.OIDC_AUDIENCE, usernameClaim: e.OIDC_USERNAME_CLAIM, clockToleranceSeconds: e.OIDC_CLOCK_TOLERANCE_SECONDS, secondFactor: oidcSecondFactor, embedded: null }
          : (e.OIDC_PROVIDER ?? (e.NODE_ENV === 'production' ? 'off' : 'embedded')) === 'embedded'
            ? {
                issuer: `${publicViewerUrl}/oidc`,
                audience: e.OIDC_AUDIENCE,
                usernameClaim: e.OIDC_USERNAME_CLAIM,
                clockToleranceSeconds: e.OIDC_CLOCK_TOLERANCE_SECONDS,
                secondFactor: oidcSecondFactor,
                embedded: {
                  keysFile: path.resolve(cwd, e.OIDC_PROVIDER_KEYS_FILE ?? path.join(dataDir, 'secrets', 'oidc-provider.jwks.json')),
                  generateKeys: e.OIDC_PROVIDER_KEYS_FILE === undefined,
                  clients: e.OIDC_CLIENTS ?? [],
                },
              }
            : null,
    },
    audit: {
      macKeyFile: path.resolve(cwd, e.AUDIT_MAC_KEY_FILE ?? path.join(dataDir, 'secrets', 'audit-mac.keys')),
      macAlgorithm: e.AUDIT_MAC_ALGORITHM,
      signingKeyFile: path.resolve(cwd, e.AUDIT_SIGNING_KEY_FILE ?? path.join(dataDir, 'secrets', 'audit-signing.pem')),
      generateMissing: { macKey: e.AUDIT_MAC_KEY_FILE === undefined, signingKey: e.AUDIT_SIGNING_KEY_FILE === undefined },
      checkpointPublicKeysFile: e.AUDIT_CHECKPOINT_PUBLIC_KEYS_FILE === undefined ? null : path.resolve(cwd, e.AUDIT_CHECKPOINT_PUBLIC_KEYS_FILE),
      checkpointDir: path.resolve(cwd, e.AUDIT_CHECKPOINT_DIR ?? path.join(dataDir, 'audit-checkpoints')),
      checkpointIntervalSeconds: e.AUDIT_CHECKPOINT_INTERVAL_SECONDS,
      anchorStore: e.AUDIT_ANCHOR_STORE,
      anchorRetentionDays: e.AUDIT_ANCHOR_RETENTION_DAYS,
      chain: `${decodeURIComponent(new URL(e.DATABASE_URL).pathname.slice(1)) || 'postgres'}/${e.DATABASE_SCHEMA}`,
    },
    models: { dir: path.resolve(cwd, e.MODELS_DIR), active: e.ACTIVE_MODEL },
    triage: { quietSeconds: e.TRIAGE_QUIET_SECONDS, concurrency: e.TRIAGE_CONCURRENCY },
    shutdownGraceSeconds: e.SHUTDOWN_GRACE_SECONDS,
  };
}

/** For process entry points: a bad configuration stops the process with a readable message. */
export function loadConfigOrExit(env: Record<string, string | undefined> = process.env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\nSee the configuration reference in README.md.\n`);
      process.exit(78); // EX_CONFIG (sysexits.h)
    }
    throw error;
  }
}

/**
 * The replica targets as plain settings, in the shape `createTargetsFromConfig` of @yunying/storage takes
 * (config does not depend on storage; the shapes are kept compatible by the type check in the services).
 */
export function storageTargetSettings(
  config: Config,
):
  | { kind: 'fs'; roots: string[]; directIo: boolean; leafDirs: 'ahead' | 'on-demand' }
  | {
      kind: 's3';
      replicas: {
        name: string;
        endpoint: string;
        accessKey: string;
        secretKey: string;
        region: string;
        bucket: string;
        tiering: { afterDays: number; storageClass: string } | null;
      }[];
    } {
  const storage = config.storage;
  if (storage.backend === 'fs') return { kind: 'fs', roots: [...storage.roots], directIo: storage.directIo, leafDirs: storage.leafDirs };
  return {
    kind: 's3',
    replicas: storage.buckets.map((bucket, i) => ({
      name: `s3-${i + 1}`,
      endpoint: storage.endpoints[storage.endpoints.length === 3 ? i : 0] ?? '',
      accessKey: storage.credentials[i]?.accessKey ?? '',
      secretKey: storage.credentials[i]?.secretKey ?? '',
      region: storage.region,
      bucket,
      tiering: tieringOf(storage.coldAfterDays[i] ?? null, storage.coldStorageClass),
    })),
  };
}

function tieringOf(afterDays: number | null, storageClass: string): { afterDays: number; storageClass: string } | null {
  return afterDays === null ? null : { afterDays, storageClass };
}
