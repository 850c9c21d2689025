import { z } from 'zod';
import { RECOMMENDED_GLIBC_TUNABLES } from './allocator';

/**
 * Every environment variable Yunying reads, with its type, default and meaning. This schema is the
 * single source of the configuration reference in README.md (kept in sync by config.docs.test.ts).
 * Keys are the environment variable names, so a validation error names the variable to fix.
 */

const port = z.coerce.number().int().min(1).max(65535);
const csv = (description: string) =>
  z
    .string()
    .transform((s) => s.split(',').map((v) => v.trim()).filter((v) => v.length > 0))
    .optional()
    .describe(description);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const httpUrl = z.url({ protocol: /^https?$/ });
/** A browser app registered with the embedded OIDC provider: public (no secret), PKCE, refresh tokens. */
const oidcClient = z.object({
  client_id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, '1-64 of A-Z a-z 0-9 . _ -'),
  redirect_uris: z.array(httpUrl).min(1).max(20),
  post_logout_redirect_uris: z.array(httpUrl).max(20).optional(),
});
export type OidcClientSetting = z.output<typeof oidcClient>;
const aeTitle = z.string().regex(/^[\x20-\x5b\x5d-\x7e]{1,16}$/, 'a DICOM AE title: 1-16 printable ASCII characters, no backslash');

export const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development').describe('Runtime environment.'),
    ROLE: z
      .enum(['all', 'ingest', 'inference', 'viewer', 'keeper'])
      .default('all')
      .describe('Which service role(s) this process runs: all (embedded default) or one role for scale-out (keeper: scrubber, repair, disposal, orphan sweep).'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Log level (pino).'),
    LOG_FORMAT: z
      .enum(['auto', 'json', 'pretty'])
      .default('auto')
      .describe('Log lines: auto (human-readable on a terminal, JSON otherwise), json, or pretty.'),
    GLIBC_TUNABLES: z
      .string()
      .optional()
      .describe(
        `Read by the C library when the process starts, not by Yunying; recommended: ${RECOMMENDED_GLIBC_TUNABLES} (large buffers from the heap, freed memory kept: less CPU per ingested instance). npm start and infra/deploy set it; the launcher warns when it is missing.`,
      ),
    DATA_DIR: z.string().min(1).default('.data').describe('Directory for local state: replica roots and derived objects (fs backend), temp files.'),

    DATABASE_URL: z
      .url({ protocol: /^postgres(ql)?$/ })
      .default('postgres://postgres@127.0.0.1:5432/yunying')
      .describe('PostgreSQL connection URL of the catalog.'),
    DATABASE_SCHEMA: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case SQL identifier')
      .default('public')
      .describe('PostgreSQL schema holding the catalog tables (tests use one schema each).'),
    DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10).describe('Connections in the catalog pool.'),
    CATALOG_READ_URL: z
      .url({ protocol: /^postgres(ql)?$/ })
      .optional()
      .describe(
        'PostgreSQL URL of a streaming replica of the catalog for reads where staleness is harmless (QIDO-RS and WADO-RS lookups in the viewer); never the write path, claims or jobs. Reads fall back to DATABASE_URL while the replica is unreachable or lagging. Unset: every query goes to DATABASE_URL.',
      ),
    CATALOG_READ_MAX_LAG_SECONDS: z.coerce
      .number()
      .min(0)
      .max(3600)
      .default(30)
      .describe('Replay lag of the CATALOG_READ_URL replica beyond which reads go to the primary until it catches up.'),
    DATABASE_MIGRATE: bool
      .default(true)
      .describe(
        'Apply pending catalog migrations at start-up. false: the process connects as a least-privileged role that cannot change the schema (npm start does this; migrations run as the owner first) and refuses to start while a migration is pending.',
      ),
    REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379').describe('Redis URL for the job queues (bull).'),
    QUEUE_PREFIX: z
      .string()
      .regex(/^(?:[A-Za-z0-9_-]{1,32}|\{[A-Za-z0-9_-]{1,32}\})$/, 'letters, digits, _ or -, optionally in one {hash tag}')
      .default('{yunying}')
      .describe('Key prefix of every bull queue in Redis; in braces (a hash tag) it keeps each queue in one Redis Cluster slot.'),
    QUEUE_LOCK_SECONDS: z.coerce
      .number()
      .int()
      .min(5)
      .max(600)
      .default(30)
      .describe(
        'How long a worker holds a job’s lock without renewing it (renewed every half of it while the job runs), and how often workers look for jobs whose lock lapsed. A job whose process died is taken up by another process within about twice this. Lower: faster failover; a worker whose event loop stalls longer than this may see its job taken up again (each result is stored once).',
      ),

    INGEST_PORT: port.default(8041).describe('HTTP port of the ingest service (STOW-RS).'),
    VIEWER_PORT: port.default(8042).describe('HTTP port of the viewer service (QIDO/WADO, reading queue, web app).'),
    INFERENCE_PORT: port.default(8043).describe('HTTP port of the inference service (health and metrics only).'),
    KEEPER_PORT: port.default(8044).describe('HTTP port of the keeper role when it runs on its own (ROLE=keeper; health and metrics only). Under ROLE=all the keeper opens no port.'),
    PUBLIC_VIEWER_URL: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe('Public base URL of the viewer service, used in STOW-RS RetrieveURLs (default: http://HTTP_HOST:VIEWER_PORT).'),
    PUBLIC_INGEST_URL: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe('Public base URL of the ingest service, used by the web upload page (default: http://HTTP_HOST:INGEST_PORT).'),
    TRUSTED_PROXIES: csv(
      'Comma-separated reverse proxies whose X-Forwarded-For/-Proto are believed (addresses, CIDRs or `loopback`); unset: none, the socket address is the client.',
    ),
    METRICS_TOKEN: z
      .string()
      .min(16, 'at least 16 characters')
      .optional()
      .describe('Bearer token for /metrics and the detail of /readyz; unset: only a direct loopback caller (no forwarding header) sees them.'),
    HTTP_HOST: z.string().min(1).default('127.0.0.1').describe('Interface the HTTP services listen on.'),
    CORS_ORIGINS: z
      .string()
      .transform((s) => s.split(',').map((v) => v.trim().replace(/\/+$/, '')).filter((v) => v.length > 0))
      .pipe(z.array(z.union([z.literal('*'), z.url({ protocol: /^https?$/ }).refine((u) => new URL(u).origin === u, 'an origin: scheme://host[:port], no path')])))
      .optional()
      .describe('Comma-separated origins (scheme://host[:port]) whose browser apps may call the DICOMweb and API routes (CORS), e.g. a separately served OHIF; `*` for any (never with credentials).'),
    DIMSE_PORT: port.default(11112).describe('DICOM (DIMSE) port of the C-ECHO/C-STORE SCP.'),
    DIMSE_HOST: z.string().min(1).default('127.0.0.1').describe('Interface the DICOM SCP listens on.'),
    DIMSE_AE_TITLE: aeTitle.default('YUNYING').describe('AE title of the archive’s SCP.'),
    DIMSE_CHECK_CALLED_AE: bool.default(false).describe('Reject associations whose called AE title is not DIMSE_AE_TITLE (most archives accept any).'),
    DIMSE_MAX_FAILED_ASSOCIATIONS: z.coerce
      .number()
      .int()
      .min(0)
      .max(10_000)
      .default(20)
      .describe('Refused DICOM associations tolerated per source address and minute; beyond them the address is refused (transient) until its refusals age out (0 turns this off).'),
    DIMSE_MAX_OPERATIONS_INVOKED: z.coerce
      .number()
      .int()
      .min(1)
      .max(256)
      .default(16)
      .describe('Asynchronous operations window (PS3.7 D.3.3.3): the most C-STOREs an SCU that proposes a window may have outstanding on one association (each holds its dataset in memory until committed); 1 answers every proposal with the synchronous default.'),
    DIMSE_TLS_PORT: port
      .optional()
      .describe('DICOM TLS port (PS3.15 B.1, TLS 1.2+) beside DIMSE_PORT; client certificates are mapped to clinic devices. Unset: no TLS listener.'),
    DIMSE_TLS_CERT_FILE: z.string().min(1).optional().describe('PEM certificate (chain) of the archive on the DICOM TLS port; required with DIMSE_TLS_PORT.'),
    DIMSE_TLS_KEY_FILE: z.string().min(1).optional().describe('PEM private key of that certificate; required with DIMSE_TLS_PORT.'),
    DIMSE_TLS_CA_FILE: z.string().min(1).optional().describe('PEM CA certificate(s) that clinic device certificates must chain to; required with DIMSE_TLS_PORT.'),

    STORAGE_BACKEND: z.enum(['fs', 's3']).default('fs').describe('Replica targets: three local directories (fs) or three S3 buckets with Object Lock (s3).'),
    STORAGE_FS_ROOTS: csv('Comma-separated list of the three replica directories (fs backend), ideally on three disks.'),
    STORAGE_FS_DIRECT_IO: bool
      .default(true)
      .describe('fs backend: write object files of 256 KiB and more with O_DIRECT, from memory straight to the disk, instead of through the page cache (about half the kernel CPU per stored instance, #14); a replica whose filesystem refuses O_DIRECT falls back by itself. false: always through the page cache.'),
    STORAGE_FS_LEAF_DIRS: z
      .enum(['ahead', 'on-demand'])
      .default('ahead')
      .describe('fs backend: make the 65,536 leaf directories of each replica (sha256/ab/cd) at its first start, ahead (about 256 MiB of empty directories per replica on ext4, seconds once), or on-demand, each by the first object that needs it (a mkdir and an fsync of its parent more for that object, per copy, #14).'),
    S3_ENDPOINTS: csv('Comma-separated S3 endpoint URLs: one shared by all three buckets, or three (one per copy).'),
    S3_BUCKETS: csv('Comma-separated names of the three Object Lock buckets (created when missing).'),
    S3_DERIVED_BUCKET: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{2,62}$/, 'an S3 bucket name')
      .optional()
      .describe('S3 bucket (no Object Lock, on the first endpoint) for derived objects such as thumbnails: one copy, rebuildable (default: the first of S3_BUCKETS + "-derived").'),
    S3_ACCESS_KEY: z.string().min(1).optional().describe('S3 access key for all three buckets (prefer S3_ACCESS_KEYS: one per copy).'),
    S3_SECRET_KEY: z.string().min(1).optional().describe('S3 secret key for all three buckets (prefer S3_SECRET_KEYS).'),
    S3_ACCESS_KEYS: csv(
      'Comma-separated S3 access keys, one per copy in S3_BUCKETS order, so that one leaked key touches one copy; read-only keys for the viewer (infra/ceph/copy-credentials.sh makes both kinds on Ceph RGW). Used instead of S3_ACCESS_KEY.',
    ),
    S3_SECRET_KEYS: csv('Comma-separated S3 secret keys, one per copy, in the order of S3_ACCESS_KEYS.'),
    S3_REGION: z.string().min(1).default('us-east-1').describe('S3 region name.'),
    STORAGE_COLD_AFTER_DAYS: z
      .string()
      .regex(/^\s*(\d{1,5}|never)\s*,\s*(\d{1,5}|never)\s*,\s*(\d{1,5}|never)\s*$/, 'three values, each a number of days or "never", e.g. 730,90,90')
      .optional()
      .describe(
        'Storage tiering (S3 only, #18): per copy in S3_BUCKETS order, the age in days after which an S3 lifecycle rule moves the copy to STORAGE_COLD_CLASS, or "never"; e.g. 730,90,90 keeps the first copy hot two years and the other two 90 days. Set on the buckets at start by the roles that prepare them; unset removes the rule. A transition keeps the version and its Object Lock retention. Not applicable to STORAGE_BACKEND=fs (no storage classes; put the replica directories on the storage you want).',
      ),
    STORAGE_COLD_CLASS: z
      .string()
      .regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'an S3 storage class name, e.g. COLD or GLACIER')
      .default('COLD')
      .describe('The storage class STORAGE_COLD_AFTER_DAYS moves copies to: on Ceph RGW a storage class of the placement target (infra/ceph/up.sh adds COLD); on AWS e.g. GLACIER_IR (reads need no restore).'),
    STORAGE_ENCRYPTION: z
      .enum(['aes-256-gcm', 'sm4', 'off'])
      .default('aes-256-gcm')
      .describe(
        'Envelope encryption at rest of new archive copies and thumbnails: AES-256-GCM, or SM4 (SM4-CTR + HMAC-SM3, GB/T 39786) for a 密评; each object gets its own data key, wrapped by the last key of STORAGE_KEY_FILE. off: new objects are stored as they are (refused in production); sealed objects stay readable while the key file is there. See docs/security-storage.md.',
      ),
    STORAGE_KEY_FILE: z
      .string()
      .min(1)
      .optional()
      .describe(
        'File of the storage key-encryption keys (`<id>:<base64 of 32 bytes>` per line; the last seals new objects, earlier ones stay to open older objects), kept away from the replicas and the database. Required in production; elsewhere default DATA_DIR/secrets/storage.keys, generated on first start.',
      ),
    WRITE_QUORUM: z.coerce.number().int().min(1).max(3).default(3).describe('Copies that must be durable before an instance is acknowledged (1-3).'),
    RETENTION_MIN_YEARS: z.coerce
      .number()
      .int()
      .min(15, 'at least 15 (the regulatory minimum)')
      .max(100)
      .default(15)
      .describe('Global minimum retention in years; a clinic policy can only lengthen it.'),
    REPORT_RETENTION_YEARS: z.coerce
      .number()
      .int()
      .min(15, 'at least 15 (outpatient medical records)')
      .max(100)
      .default(15)
      .describe('Retention in years of signed report SRs (medical records); the longer of this and the study retention applies.'),
    SHARE_DEFAULT_DAYS: z.coerce.number().int().min(1).max(365).default(30).describe('Expiry of a study share link (云胶片) when its creator names none, in days.'),
    SHARE_MAX_DAYS: z.coerce.number().int().min(1).max(365).default(90).describe('The longest expiry a creator may give a study share link, in days (at least SHARE_DEFAULT_DAYS).'),
    REPORT_SIGNING_ALGORITHM: z.enum(['ecdsa-p256', 'sm2']).default('ecdsa-p256').describe('Algorithm of new readers\' report-signing keys: ECDSA P-256 with SHA-256, or SM2 with SM3 (GB/T 32918).'),
    REPORT_SIGNING_SECRET_FILE: z
      .string()
      .min(1)
      .optional()
      .describe(
        'File of the 32-byte secret (base64) that encrypts readers\' report-signing private keys at rest, kept outside the database (set it in production: a secret next to the data is readable by whoever can copy the database disk). Default DATA_DIR/secrets/report-signing.key, generated on first start.',
      ),

    SCRUB_INTERVAL_SECONDS: z.coerce
      .number()
      .int()
      .min(0)
      .max(86_400)
      .default(60)
      .describe('Seconds between scrub ticks; each tick re-verifies the copies verified longest ago (0 turns the schedule off).'),
    SCRUB_BATCH: z.coerce.number().int().min(1).max(10_000).default(200).describe('Copies verified per scrub tick at most.'),
    SCRUB_MAX_BYTES_PER_SECOND: z.coerce
      .number()
      .int()
      .min(0)
      .default(32 * 1024 * 1024)
      .describe('Read rate limit of the scrubber per process, in bytes per second, so it never starves ingest (0 = unlimited).'),
    SCRUB_CYCLE_DAYS: z.coerce.number().min(0.001).max(365).default(7).describe('Every copy is re-verified (full SHA-256 re-read) at least once per this many days.'),
    SCRUB_STALE_DAYS: z.coerce.number().min(1).max(3650).default(30).describe('A copy not verified for this long puts its study on the auditor’s at-risk list.'),
    REPAIR_RETRY_SECONDS: z.coerce
      .number()
      .min(0.1)
      .max(3600)
      .default(30)
      .describe('First retry delay of a failed copy repair (doubles per attempt, up to 64 times this); also how often the repair worker looks for due copies.'),
    ORPHAN_SWEEP_INTERVAL_SECONDS: z.coerce
      .number()
      .int()
      .min(0)
      .max(604_800)
      .default(86_400)
      .describe('Seconds between sweeps that report objects present on a replica target but absent from the catalog (0 turns it off).'),

    STOW_MAX_INSTANCE_BYTES: z.coerce.number().int().min(1024).default(512 * 1024 * 1024).describe('Largest single DICOM instance accepted, in bytes.'),
    STOW_MAX_REQUEST_BYTES: z.coerce.number().int().min(1024).default(4 * 1024 * 1024 * 1024).describe('Largest STOW-RS request body accepted, in bytes.'),
    STOW_MEMORY_BUDGET_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .default(2 * 1024 * 1024 * 1024)
      .describe('Memory that STOW-RS uploads in flight may hold together (each is charged min(Content-Length, 4 x STOW_MAX_INSTANCE_BYTES + 24 MiB + 2 x INGEST_BATCH_MAX_BYTES): up to six parts of a request, 24 MiB beyond two, are stored at a time, and copied parts wait for their catalog transaction); beyond it uploads get 503 + Retry-After.'),

    INGEST_BATCH_MAX_INSTANCES: z.coerce
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(64)
      .describe('Instances of one STOW-RS request or one DICOM association written in one catalog transaction at most.'),
    INGEST_BATCH_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .default(32 * 1024 * 1024)
      .describe('Bytes of copied instances a STOW-RS request or DICOM association holds until their catalog transaction commits; reaching it writes the batch.'),
    INGEST_GROUP_COMMIT_MAX_INSTANCES: z.coerce
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(256)
      .describe('Instances in one catalog transaction shared by concurrent requests and associations (group commit: those that arrive while a transaction runs are written together in the next one; a lone client waits for nothing).'),

    AUTH_TOKEN_SECRET: z
      .string()
      .min(32, 'at least 32 characters of random secret')
      .describe('Secret that signs access tokens (HS256). `npm start` generates one under DATA_DIR when unset.'),
    ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(3600).default(900).describe('Lifetime of an access token.'),
    REFRESH_TOKEN_TTL_SECONDS: z.coerce.number().int().min(300).max(2_592_000).default(43_200).describe('Lifetime of a refresh token.'),
    AUTH_DORMANT_DISABLE_DAYS: z.coerce
      .number()
      .int()
      .min(0)
      .max(3650)
      .refine((days) => days === 0 || days >= 30, '0 (off) or at least 30 days')
      .default(0)
      .describe(
        'Days without use (no sign-in since the account was created or an admin last re-enabled it) after which the keeper disables an account, ends its sign-ins and audits it (GB/T 22239-2019 8.1.4.2); the most recently used admin is kept when no other admin would be left. 0: off, dormant accounts are only flagged on the Users page after 90 days, for an admin to decide (the archive cannot tell a radiologist on leave from a forgotten account). Checked when the keeper starts and hourly after.',
      ),
    AUTH_SECOND_FACTOR: z
      .enum(['privileged', 'optional'])
      .optional()
      .describe(
        'privileged: radiologist, auditor and admin users need a TOTP second factor at every sign-in (web app, embedded OIDC provider, API); one without a set-up generator enrols at its first sign-in before getting a session. optional: a second factor only for users who set one up. Default: privileged in production, optional elsewhere (like the other production-only controls: the embedded development default keeps the demo sign-in one step).',
      ),
    OIDC_ISSUER: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe('OpenID Connect issuer whose access tokens are accepted beside Yunying’s own (discovery + JWKS); unset: none.'),
    OIDC_AUDIENCE: z.string().min(1).default('yunying').describe('Audience (`aud`) an OIDC access token must carry to be accepted.'),
    OIDC_CLOCK_TOLERANCE_SECONDS: z.coerce
      .number()
      .int()
      .min(0)
      .max(300)
      .default(30)
      .describe(
        'Clock skew allowed between the OIDC issuer and Yunying when checking an access token’s `exp` and `nbf`: a token is refused this long after it expired. Lower it where the clocks are synchronised (NTP) to end an expired token sooner.',
      ),
    OIDC_USERNAME_CLAIM: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/)
      .default('preferred_username')
      .describe('Claim of an OIDC access token that names the Yunying user (role and clinic grants come from that user; unknown users are refused).'),
    OIDC_SECOND_FACTOR_AMR: csv(
      'When a second factor is required (AUTH_SECOND_FACTOR=privileged), the `amr` values (RFC 8176) of an external issuer’s (OIDC_ISSUER) access token, any one of which shows that the provider used a second factor for a radiologist, auditor or admin; a token with none of them (and no accepted `acr`) is refused 401 and audited. Comma-separated. Default: otp,mfa,hwk,swk.',
    ),
    OIDC_SECOND_FACTOR_ACR: csv(
      'When a second factor is required, `acr` values of an external issuer’s access token that show a second factor too (the IdP’s own level names, e.g. a Keycloak level of assurance or `http://schemas.openid.net/pape/policies/2007/06/multi-factor`). Comma-separated. Default: none (only `amr` counts).',
    ),
    OIDC_PROVIDER: z
      .enum(['embedded', 'off'])
      .optional()
      .describe(
        'embedded: the viewer role serves an OpenID Connect provider at PUBLIC_VIEWER_URL/oidc (authorization code + PKCE, refresh tokens) that signs in Yunying’s own users, and its access tokens are accepted; ignored when OIDC_ISSUER names an external issuer. Default: embedded, off in production (a hospital’s own identity provider goes in OIDC_ISSUER).',
      ),
    OIDC_PROVIDER_KEYS_FILE: z
      .string()
      .min(1)
      .optional()
      .describe('JSON Web Key Set (private keys) the embedded OIDC provider signs tokens with; the first key signs. Required in production with the embedded provider; elsewhere default DATA_DIR/secrets/oidc-provider.jwks.json, generated on first start.'),
    OIDC_CLIENTS: z
      .string()
      .transform((text, ctx) => {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          ctx.addIssue({ code: 'custom', message: 'a JSON array' });
          return z.NEVER;
        }
      })
      .pipe(z.array(oidcClient).max(50))
      .optional()
      .describe(
        'Clients of the embedded OIDC provider, a JSON array of {"client_id", "redirect_uris": [...], "post_logout_redirect_uris"?: [...]}: browser apps such as OHIF (public clients, PKCE required, refresh tokens). Unset: none.',
      ),

    AUDIT_MAC_KEY_FILE: z
      .string()
      .min(1)
      .optional()
      .describe(
        'File of the audit chain MAC keys (`<id>:<base64 of >= 32 bytes>` per line, the last one current), kept outside the database. Required in production; elsewhere default DATA_DIR/secrets/audit-mac.keys, generated on first start.',
      ),
    AUDIT_MAC_ALGORITHM: z.enum(['sm3', 'sha256']).default('sm3').describe('MAC of new audit records: HMAC-SM3 (GB/T 39786) or HMAC-SHA-256.'),
    AUDIT_SIGNING_KEY_FILE: z
      .string()
      .min(1)
      .optional()
      .describe(
        'SM2 private key (PKCS#8 PEM) that signs audit chain checkpoints, kept outside the database. Required in production; elsewhere default DATA_DIR/secrets/audit-signing.pem, generated on first start.',
      ),
    AUDIT_CHECKPOINT_PUBLIC_KEYS_FILE: z
      .string()
      .min(1)
      .optional()
      .describe(
        'PEM file of the SM2 public keys audit checkpoints are verified with (current and retired signers), so a verifier needs no signing key. Unset: derived from AUDIT_SIGNING_KEY_FILE.',
      ),
    AUDIT_CHECKPOINT_DIR: z
      .string()
      .min(1)
      .optional()
      .describe('Directory for signed audit chain checkpoints with AUDIT_ANCHOR_STORE=dir (a WORM mount, or one synced to Object-Locked storage; default: DATA_DIR/audit-checkpoints).'),
    AUDIT_ANCHOR_STORE: z
      .enum(['replicas', 'dir'])
      .default('replicas')
      .describe(
        'Where signed audit checkpoints and exported audit segments go: `replicas` writes each as a write-once object under audit/ in every replica target (the three Object Lock buckets with STORAGE_BACKEND=s3, COMPLIANCE retention; the three replica directories with fs); `dir` keeps checkpoints as files in AUDIT_CHECKPOINT_DIR only, with no segment export.',
      ),
    AUDIT_ANCHOR_RETENTION_DAYS: z.coerce
      .number()
      .int()
      .min(183)
      .max(36_500)
      .default(5479)
      .describe(
        'Days each audit checkpoint and exported audit segment stays retention-locked (at least 183: six months, 网络安全法 Art. 21; default 5479: the 15-year minimum retention of the studies the records concern). A segment naming a study kept longer is locked until that study\'s retain-until. On S3 the buckets\' default retention (15 years) is the floor.',
      ),
    AUDIT_CHECKPOINT_INTERVAL_SECONDS: z.coerce
      .number()
      .int()
      .min(0)
      .max(86_400)
      .default(3600)
      .describe('Seconds between signed checkpoints of the audit chain head, written by the keeper, each followed by the export of the new audit records as a segment (AUDIT_ANCHOR_STORE=replicas); 0 turns the schedule off.'),

    MODELS_DIR: z.string().min(1).default('models').describe('Directory of the model registry (models/*/manifest.json).'),
    ACTIVE_MODEL: z.string().min(1).default('thyroid-nodule').describe('Model id used for triage.'),
    TRIAGE_QUIET_SECONDS: z.coerce.number().min(0).max(3600).default(5).describe('A study is stable after this many seconds without a new instance.'),
    TRIAGE_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1).describe('Triage jobs processed at once per inference process.'),

    SHUTDOWN_GRACE_SECONDS: z.coerce.number().min(0).max(300).default(20).describe('Time allowed to drain in-flight work on SIGTERM.'),
  })
  .superRefine((env, ctx) => {
    if (env.SHARE_DEFAULT_DAYS > env.SHARE_MAX_DAYS) ctx.addIssue({ code: 'custom', path: ['SHARE_DEFAULT_DAYS'], message: 'at most SHARE_MAX_DAYS' });
    if (env.STORAGE_BACKEND === 's3') {
      for (const key of ['S3_ENDPOINTS', 'S3_BUCKETS'] as const) {
        if (env[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'required when STORAGE_BACKEND=s3' });
      }
      // One credential per copy (#17), or one shared by all three (older deployments).
      const perCopy = env.S3_ACCESS_KEYS !== undefined || env.S3_SECRET_KEYS !== undefined;
      const pairs = perCopy ? (['S3_ACCESS_KEYS', 'S3_SECRET_KEYS'] as const) : (['S3_ACCESS_KEY', 'S3_SECRET_KEY'] as const);
      for (const key of pairs) {
        if (env[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'required when STORAGE_BACKEND=s3' });
      }
      for (const key of ['S3_ACCESS_KEYS', 'S3_SECRET_KEYS'] as const) {
        if (env[key] !== undefined && env[key].length !== 3) ctx.addIssue({ code: 'custom', path: [key], message: 'exactly three (one per copy)' });
      }
      if (env.S3_BUCKETS !== undefined && env.S3_BUCKETS.length !== 3) {
        ctx.addIssue({ code: 'custom', path: ['S3_BUCKETS'], message: 'exactly three bucket names (one per copy)' });
      }
      if (env.S3_ENDPOINTS !== undefined && env.S3_ENDPOINTS.length !== 1 && env.S3_ENDPOINTS.length !== 3) {
        ctx.addIssue({ code: 'custom', path: ['S3_ENDPOINTS'], message: 'one endpoint, or three (one per copy)' });
      }
    }
    if (env.DIMSE_TLS_PORT !== undefined) {
      for (const key of ['DIMSE_TLS_CERT_FILE', 'DIMSE_TLS_KEY_FILE', 'DIMSE_TLS_CA_FILE'] as const) {
        if (env[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'required when DIMSE_TLS_PORT is set' });
      }
    }
    if (env.NODE_ENV === 'production') {
      // A generated key next to the data would be readable by whoever can rewrite the database's disk.
      for (const key of ['AUDIT_MAC_KEY_FILE', 'AUDIT_SIGNING_KEY_FILE'] as const) {
        if (env[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'required in production (a key file outside the database; see packages/audit/README.md)' });
      }
      // A generated key beside the replicas would sit with the ciphertext it protects.
      if (env.STORAGE_KEY_FILE === undefined) ctx.addIssue({ code: 'custom', path: ['STORAGE_KEY_FILE'], message: 'required in production (key-encryption keys for data at rest; see docs/security-storage.md)' });
      if (env.STORAGE_ENCRYPTION === 'off') ctx.addIssue({ code: 'custom', path: ['STORAGE_ENCRYPTION'], message: 'production stores patient images encrypted (aes-256-gcm or sm4)' });
    }
    if (env.NODE_ENV === 'production' && env.OIDC_ISSUER === undefined && env.OIDC_PROVIDER === 'embedded' && env.OIDC_PROVIDER_KEYS_FILE === undefined) {
      ctx.addIssue({ code: 'custom', path: ['OIDC_PROVIDER_KEYS_FILE'], message: 'required in production with the embedded OIDC provider (or OIDC_PROVIDER=off)' });
    }
    if (env.STORAGE_COLD_AFTER_DAYS !== undefined && env.STORAGE_BACKEND !== 's3') {
      ctx.addIssue({ code: 'custom', path: ['STORAGE_COLD_AFTER_DAYS'], message: 'only with STORAGE_BACKEND=s3: fs targets have no storage classes' });
    }
    if (env.STORAGE_FS_ROOTS !== undefined && env.STORAGE_FS_ROOTS.length !== 3) {
      ctx.addIssue({ code: 'custom', path: ['STORAGE_FS_ROOTS'], message: 'exactly three directories (one per copy)' });
    }
    if (env.STORAGE_FS_ROOTS !== undefined && new Set(env.STORAGE_FS_ROOTS).size !== env.STORAGE_FS_ROOTS.length) {
      ctx.addIssue({ code: 'custom', path: ['STORAGE_FS_ROOTS'], message: 'three different directories' });
    }
  });

export type Env = z.output<typeof envSchema>;
