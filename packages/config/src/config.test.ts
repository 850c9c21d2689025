import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig, storageTargetSettings } from './config';
import { replaceConfigReference } from './docs';

const secret = 'x'.repeat(40);

describe('loadConfig', () => {
  test('ingest batches, group commit and the DIMSE window: defaults and from the environment (#14)', () => {
    const defaults = loadConfig({ AUTH_TOKEN_SECRET: secret }, '/srv/yunying');
    expect(defaults.ingest).toEqual({ batchMaxInstances: 64, batchMaxBytes: 32 * 1024 * 1024, groupCommitMaxInstances: 256 });
    expect(defaults.dimse.maxOperationsInvoked).toBe(16);
    const set = loadConfig(
      { AUTH_TOKEN_SECRET: secret, INGEST_BATCH_MAX_INSTANCES: '8', INGEST_BATCH_MAX_BYTES: '1048576', INGEST_GROUP_COMMIT_MAX_INSTANCES: '32', DIMSE_MAX_OPERATIONS_INVOKED: '1' },
      '/srv/yunying',
    );
    expect(set.ingest).toEqual({ batchMaxInstances: 8, batchMaxBytes: 1048576, groupCommitMaxInstances: 32 });
    expect(set.dimse.maxOperationsInvoked).toBe(1);
    expect(() => loadConfig({ AUTH_TOKEN_SECRET: secret, INGEST_GROUP_COMMIT_MAX_INSTANCES: '0' })).toThrow();
  });

  it('builds the typed config from defaults', () => {
    const config = loadConfig({ AUTH_TOKEN_SECRET: secret }, '/srv/yunying');
    expect(config.role).toBe('all');
    expect(config.writeQuorum).toBe(3);
    expect(config.retentionMinYears).toBe(15);
    expect(config.storage).toEqual({
      backend: 'fs',
      roots: ['/srv/yunying/.data/replica-a', '/srv/yunying/.data/replica-b', '/srv/yunying/.data/replica-c'],
      // O_DIRECT for large object files unless turned off (#14).
      directIo: true,
      // Every leaf directory made at a replica's first start (#14).
      leafDirs: 'ahead',
    });
    expect(loadConfig({ AUTH_TOKEN_SECRET: secret, STORAGE_FS_DIRECT_IO: 'false' }, '/srv/yunying').storage).toMatchObject({ backend: 'fs', directIo: false });
    expect(loadConfig({ AUTH_TOKEN_SECRET: secret, STORAGE_FS_LEAF_DIRS: 'on-demand' }, '/srv/yunying').storage).toMatchObject({ backend: 'fs', leafDirs: 'on-demand' });
    expect(() => loadConfig({ AUTH_TOKEN_SECRET: secret, STORAGE_FS_LEAF_DIRS: 'later' }, '/srv/yunying')).toThrow(ConfigError);
    expect(config.http.ports).toEqual({ ingest: 8041, viewer: 8042, inference: 8043, keeper: 8044 });
    expect(config.derived).toEqual({ backend: 'fs', dir: '/srv/yunying/.data/derived' });
    // Redis Cluster safe by default: bull's keys of a queue share the {hash tag}, so one slot.
    expect(config.redis.queuePrefix).toBe('{yunying}');
  });

  it('keeps the audit keys outside the database: generated dev defaults, required files in production', () => {
    const dev = loadConfig({ AUTH_TOKEN_SECRET: secret }, '/srv/yunying');
    expect(dev.audit).toMatchObject({
      macKeyFile: '/srv/yunying/.data/secrets/audit-mac.keys',
      macAlgorithm: 'sm3',
      signingKeyFile: '/srv/yunying/.data/secrets/audit-signing.pem',
      generateMissing: { macKey: true, signingKey: true },
      chain: 'yunying/public',
    });
    expect(() => loadConfig({ AUTH_TOKEN_SECRET: secret, NODE_ENV: 'production' })).toThrow(
      /AUDIT_MAC_KEY_FILE: required in production[\s\S]*AUDIT_SIGNING_KEY_FILE: required in production/,
    );
    const prod = loadConfig({ AUTH_TOKEN_SECRET: secret, NODE_ENV: 'production', AUDIT_MAC_KEY_FILE: '/run/secrets/mac', AUDIT_SIGNING_KEY_FILE: '/run/secrets/sm2.pem', STORAGE_KEY_FILE: '/run/secrets/storage.keys' });
    expect(prod.audit.generateMissing).toEqual({ macKey: false, signingKey: false });
  });

  it('encrypts at rest by default (#17): a generated key file outside production, a required one and no "off" in production', () => {
    expect(loadConfig({ AUTH_TOKEN_SECRET: secret }, '/srv/yunying').storageEncryption).toEqual({
      algorithm: 'aes-256-gcm',
      keyFile: '/srv/yunying/.data/secrets/storage.keys',
      generateMissing: true,
    });
    expect(loadConfig({ AUTH_TOKEN_SECRET: secret, STORAGE_ENCRYPTION: 'off' }).storageEncryption.algorithm).toBe('off');
    const prod = { AUTH_TOKEN_SECRET: secret, NODE_ENV: 'production', AUDIT_MAC_KEY_FILE: '/k/mac', AUDIT_SIGNING_KEY_FILE: '/k/sm2.pem' };
    expect(() => loadConfig(prod)).toThrow(/STORAGE_KEY_FILE: required in production/);
    expect(() => loadConfig({ ...prod, STORAGE_KEY_FILE: '/k/s.keys', STORAGE_ENCRYPTION: 'off' })).toThrow(/STORAGE_ENCRYPTION: production stores patient images encrypted/);
    expect(loadConfig({ ...prod, STORAGE_KEY_FILE: '/k/s.keys', STORAGE_ENCRYPTION: 'sm4' }, '/srv').storageEncryption).toEqual({ algorithm: 'sm4', keyFile: '/k/s.keys', generateMissing: false });
  });

  it('runs the embedded OIDC provider by default outside production, with generated keys and the clients given', () => {
    const dev = loadConfig({ AUTH_TOKEN_SECRET: secret, PUBLIC_VIEWER_URL: 'https://pacs.example/', OIDC_CLIENTS: '[{"client_id":"ohif","redirect_uris":["https://ohif.example/callback"]}]' }, '/srv/yunying');
    expect(dev.auth.oidc).toEqual({
      issuer: 'https://pacs.example/oidc',
      audience: 'yunying',
      usernameClaim: 'preferred_username',
      clockToleranceSeconds: 30,
      secondFactor: { amr: ['otp', 'mfa', 'hwk', 'swk'], acr: [] },
      embedded: { keysFile: '/srv/yunying/.data/secrets/oidc-provider.jwks.json', generateKeys: true, clients: [{ client_id: 'ohif', redirect_uris: ['https://ohif.example/callback'] }] },
    });
    expect(loadConfig({ AUTH_TOKEN_SECRET: secret, OIDC_PROVIDER: 'off' }).auth.oidc).toBeNull();
    expect(loadConfig({ AUTH_TOKEN_SECRET: secret, OIDC_ISSUER: 'https://idp.example/realm' }).auth.oidc?.embedded).toBeNull();
    expect(loadConfig({ AUTH_TOKEN_SECRET: secret, OIDC_ISSUER: 'https://idp.example/realm' }).auth.oidc?.secondFactor).toEqual({ amr: ['otp', 'mfa', 'hwk', 'swk'], acr: [] });
    expect(loadConfig({ AUTH_TOKEN_SECRET: secret, OIDC_ISSUER: 'https://idp.example/realm', OIDC_SECOND_FACTOR_AMR: 'otp, hwk', OIDC_SECOND_FACTOR_ACR: 'gold,urn:mace:incommon:iap:silver' }).auth.oidc?.secondFactor).toEqual({
      amr: ['otp', 'hwk'],
      acr: ['gold', 'urn:mace:incommon:iap:silver'],
    });
    expect(() => loadConfig({ AUTH_TOKEN_SECRET: secret, OIDC_CLIENTS: '{not json' })).toThrow(/OIDC_CLIENTS: a JSON array/);
    expect(() => loadConfig({ AUTH_TOKEN_SECRET: secret, OIDC_CLIENTS: '[{"client_id":"x","redirect_uris":[]}]' })).toThrow(/OIDC_CLIENTS/);
    const prod = { AUTH_TOKEN_SECRET: secret, NODE_ENV: 'production', AUDIT_MAC_KEY_FILE: '/k/mac', AUDIT_SIGNING_KEY_FILE: '/k/sm2.pem', STORAGE_KEY_FILE: '/k/storage.keys' };
    expect(loadConfig(prod).auth.oidc).toBeNull();
    expect(() => loadConfig({ ...prod, OIDC_PROVIDER: 'embedded' })).toThrow(/OIDC_PROVIDER_KEYS_FILE: required in production/);
  });

  it('requires a second factor of radiologists, auditors and admins in production, optional elsewhere unless configured', () => {
    const prod = { AUTH_TOKEN_SECRET: secret, NODE_ENV: 'production', AUDIT_MAC_KEY_FILE: '/k/mac', AUDIT_SIGNING_KEY_FILE: '/k/sm2.pem', STORAGE_KEY_FILE: '/k/storage.keys' };
    expect(loadConfig(prod).auth.secondFactorRoles).toEqual(['radiologist', 'auditor', 'admin']);
    expect(loadConfig({ ...prod, AUTH_SECOND_FACTOR: 'optional' }).auth.secondFactorRoles).toEqual([]);
    expect(loadConfig({ AUTH_TOKEN_SECRET: secret }).auth.secondFactorRoles).toEqual([]);
    expect(loadConfig({ AUTH_TOKEN_SECRET: secret, AUTH_SECOND_FACTOR: 'privileged' }).auth.secondFactorRoles).toEqual(['radiologist', 'auditor', 'admin']);
    expect(() => loadConfig({ AUTH_TOKEN_SECRET: secret, AUTH_SECOND_FACTOR: 'always' })).toThrow(/AUTH_SECOND_FACTOR/);
  });

  it('disables dormant accounts only when AUTH_DORMANT_DISABLE_DAYS is set, and not sooner than 30 days', () => {
    expect(loadConfig({ AUTH_TOKEN_SECRET: secret }).auth.dormantDisableDays).toBe(0);
    expect(loadConfig({ AUTH_TOKEN_SECRET: secret, AUTH_DORMANT_DISABLE_DAYS: '180' }).auth.dormantDisableDays).toBe(180);
    expect(() => loadConfig({ AUTH_TOKEN_SECRET: secret, AUTH_DORMANT_DISABLE_DAYS: '7' })).toThrow(/AUTH_DORMANT_DISABLE_DAYS: 0 \(off\) or at least 30 days/);
    expect(() => loadConfig({ AUTH_TOKEN_SECRET: secret, AUTH_DORMANT_DISABLE_DAYS: '90.5' })).toThrow(/AUTH_DORMANT_DISABLE_DAYS/);
  });

  it('opens the DICOM TLS port only with its certificate, key and CA', () => {
    expect(loadConfig({ AUTH_TOKEN_SECRET: secret }).dimse.tls).toBeNull();
    expect(() => loadConfig({ AUTH_TOKEN_SECRET: secret, DIMSE_TLS_PORT: '2762' })).toThrow(
      /DIMSE_TLS_CERT_FILE: required when DIMSE_TLS_PORT is set[\s\S]*DIMSE_TLS_KEY_FILE[\s\S]*DIMSE_TLS_CA_FILE/,
    );
    const tls = loadConfig({ AUTH_TOKEN_SECRET: secret, DIMSE_TLS_PORT: '2762', DIMSE_TLS_CERT_FILE: 'tls/a.crt', DIMSE_TLS_KEY_FILE: '/k/a.key', DIMSE_TLS_CA_FILE: 'tls/ca.crt' }, '/srv');
    expect(tls.dimse.tls).toEqual({ port: 2762, certFile: '/srv/tls/a.crt', keyFile: '/k/a.key', caFile: '/srv/tls/ca.crt' });
  });

  it('takes the job lock in seconds (QUEUE_LOCK_SECONDS: bull\'s 30 by default, 5 to 600)', () => {
    expect(loadConfig({ AUTH_TOKEN_SECRET: secret }).redis.lockSeconds).toBe(30);
    expect(loadConfig({ AUTH_TOKEN_SECRET: secret, QUEUE_LOCK_SECONDS: '5' }).redis.lockSeconds).toBe(5);
    expect(() => loadConfig({ AUTH_TOKEN_SECRET: secret, QUEUE_LOCK_SECONDS: '2' })).toThrow(/QUEUE_LOCK_SECONDS/);
    expect(() => loadConfig({ AUTH_TOKEN_SECRET: secret, QUEUE_LOCK_SECONDS: '5.5' })).toThrow(/QUEUE_LOCK_SECONDS/);
  });

  it('accepts a plain or {hash-tagged} queue prefix and refuses a broken tag', () => {
    expect(loadConfig({ AUTH_TOKEN_SECRET: secret, QUEUE_PREFIX: 'sys1' }).redis.queuePrefix).toBe('sys1');
    expect(loadConfig({ AUTH_TOKEN_SECRET: secret, QUEUE_PREFIX: '{centre-7}' }).redis.queuePrefix).toBe('{centre-7}');
    expect(() => loadConfig({ AUTH_TOKEN_SECRET: secret, QUEUE_PREFIX: '{yunying' })).toThrow(/QUEUE_PREFIX: .*hash tag/);
    expect(() => loadConfig({ AUTH_TOKEN_SECRET: secret, QUEUE_PREFIX: 'a{b}' })).toThrow(/QUEUE_PREFIX/);
  });

  it('sets share link expiry: 30 of at most 90 days unless configured, and refuses a default past the maximum', () => {
    expect(loadConfig({ AUTH_TOKEN_SECRET: secret }).shares).toEqual({ defaultDays: 30, maxDays: 90 });
    expect(loadConfig({ AUTH_TOKEN_SECRET: secret, SHARE_DEFAULT_DAYS: '7', SHARE_MAX_DAYS: '14' }).shares).toEqual({ defaultDays: 7, maxDays: 14 });
    expect(() => loadConfig({ AUTH_TOKEN_SECRET: secret, SHARE_DEFAULT_DAYS: '30', SHARE_MAX_DAYS: '14' })).toThrow(/SHARE_DEFAULT_DAYS: at most SHARE_MAX_DAYS/);
    expect(() => loadConfig({ AUTH_TOKEN_SECRET: secret, SHARE_MAX_DAYS: '0' })).toThrow(/SHARE_MAX_DAYS/);
  });

  it('puts derived objects in a bucket of their own next to the first copy (S3)', () => {
    const s3 = { AUTH_TOKEN_SECRET: secret, STORAGE_BACKEND: 's3', S3_ENDPOINTS: 'http://a:7480,http://b:7480,http://c:7480', S3_BUCKETS: 'c1,c2,c3', S3_ACCESS_KEY: 'k', S3_SECRET_KEY: 's' };
    expect(loadConfig(s3).derived).toEqual({ backend: 's3', endpoint: 'http://a:7480', bucket: 'c1-derived', accessKey: 'k', secretKey: 's', region: 'us-east-1' });
    expect(loadConfig({ ...s3, S3_DERIVED_BUCKET: 'thumbs' }).derived).toMatchObject({ bucket: 'thumbs' });
  });

  it('names the variable and what is expected when a value is wrong', () => {
    expect(() => loadConfig({ AUTH_TOKEN_SECRET: secret, WRITE_QUORUM: 'x' })).toThrow(/WRITE_QUORUM: .*got "x"/);
    expect(() => loadConfig({ AUTH_TOKEN_SECRET: secret, ROLE: 'reader' })).toThrow(/ROLE: .*ingest.*keeper.*got "reader"/);
    expect(() => loadConfig({ AUTH_TOKEN_SECRET: secret, RETENTION_MIN_YEARS: '10' })).toThrow(/RETENTION_MIN_YEARS: at least 15/);
    expect(() => loadConfig({ AUTH_TOKEN_SECRET: secret, DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/);
  });

  it('names a missing required variable without echoing secrets', () => {
    let caught: unknown;
    try {
      loadConfig({ AUTH_TOKEN_SECRET: 'short-secret-value' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).message).toMatch(/AUTH_TOKEN_SECRET: at least 32 characters/);
    expect((caught as ConfigError).message).not.toContain('short-secret-value');
    expect(() => loadConfig({})).toThrow(/AUTH_TOKEN_SECRET: .*not set/);
  });

  it('requires the S3 settings together, with three buckets', () => {
    expect(() => loadConfig({ AUTH_TOKEN_SECRET: secret, STORAGE_BACKEND: 's3' })).toThrow(/S3_ENDPOINTS: required when STORAGE_BACKEND=s3/);
    expect(() =>
      loadConfig({
        AUTH_TOKEN_SECRET: secret,
        STORAGE_BACKEND: 's3',
        S3_ENDPOINTS: 'http://127.0.0.1:7480',
        S3_BUCKETS: 'a,b',
        S3_ACCESS_KEY: 'k',
        S3_SECRET_KEY: 's',
      }),
    ).toThrow(/S3_BUCKETS: exactly three/);
  });
});

describe('one S3 credential per copy (#17)', () => {
  const base = { AUTH_TOKEN_SECRET: secret, STORAGE_BACKEND: 's3', S3_ENDPOINTS: 'http://127.0.0.1:7480', S3_BUCKETS: 'c1,c2,c3' };

  it('gives each copy its own key, in bucket order; the derived bucket uses the first copy\'s', () => {
    const config = loadConfig({ ...base, S3_ACCESS_KEYS: 'k1,k2,k3', S3_SECRET_KEYS: 's1,s2,s3' });
    expect(storageTargetSettings(config)).toMatchObject({
      kind: 's3',
      replicas: [
        { name: 's3-1', bucket: 'c1', accessKey: 'k1', secretKey: 's1' },
        { name: 's3-2', bucket: 'c2', accessKey: 'k2', secretKey: 's2' },
        { name: 's3-3', bucket: 'c3', accessKey: 'k3', secretKey: 's3' },
      ],
    });
    expect(config.derived).toMatchObject({ accessKey: 'k1', secretKey: 's1' });
  });

  it('still takes one shared key, and refuses keys that are not three or not paired, without echoing them', () => {
    expect(storageTargetSettings(loadConfig({ ...base, S3_ACCESS_KEY: 'k', S3_SECRET_KEY: 's' }))).toMatchObject({
      replicas: [{ accessKey: 'k', secretKey: 's' }, { accessKey: 'k', secretKey: 's' }, { accessKey: 'k', secretKey: 's' }],
    });
    expect(() => loadConfig({ ...base, S3_ACCESS_KEYS: 'k1,k2', S3_SECRET_KEYS: 'secret-one,secret-two' })).toThrow(/S3_ACCESS_KEYS: exactly three/);
    expect(() => loadConfig({ ...base, S3_ACCESS_KEYS: 'k1,k2,k3' })).toThrow(/S3_SECRET_KEYS: required when STORAGE_BACKEND=s3/);
    expect(() => loadConfig(base)).toThrow(/S3_ACCESS_KEY: required when STORAGE_BACKEND=s3/);
    let message = '';
    try {
      loadConfig({ ...base, S3_ACCESS_KEYS: 'k1,k2', S3_SECRET_KEYS: 'secret-one,secret-two' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).not.toContain('secret-one');
  });
});

describe('storage tiering (#18)', () => {
  const base = { AUTH_TOKEN_SECRET: secret, STORAGE_BACKEND: 's3', S3_ENDPOINTS: 'http://127.0.0.1:7480', S3_BUCKETS: 'c1,c2,c3', S3_ACCESS_KEY: 'k', S3_SECRET_KEY: 's' };

  it('gives each copy its own transition age, in bucket order, to the configured class; none by default', () => {
    const tiered = storageTargetSettings(loadConfig({ ...base, STORAGE_COLD_AFTER_DAYS: '730, never ,90' }));
    expect(tiered.kind === 's3' && tiered.replicas.map((r) => r.tiering)).toEqual([{ afterDays: 730, storageClass: 'COLD' }, null, { afterDays: 90, storageClass: 'COLD' }]);
    const glacier = storageTargetSettings(loadConfig({ ...base, STORAGE_COLD_AFTER_DAYS: '90,90,90', STORAGE_COLD_CLASS: 'GLACIER_IR' }));
    expect(glacier.kind === 's3' && glacier.replicas[0]?.tiering).toEqual({ afterDays: 90, storageClass: 'GLACIER_IR' });
    const plain = storageTargetSettings(loadConfig(base));
    expect(plain.kind === 's3' && plain.replicas.map((r) => r.tiering)).toEqual([null, null, null]);
  });

  it('refuses it on fs (no storage classes) and values that are not three ages', () => {
    expect(() => loadConfig({ AUTH_TOKEN_SECRET: secret, STORAGE_COLD_AFTER_DAYS: '90,90,90' })).toThrow(/STORAGE_COLD_AFTER_DAYS: only with STORAGE_BACKEND=s3/);
    expect(() => loadConfig({ ...base, STORAGE_COLD_AFTER_DAYS: '90,90' })).toThrow(/STORAGE_COLD_AFTER_DAYS/);
    expect(() => loadConfig({ ...base, STORAGE_COLD_CLASS: 'cold' })).toThrow(/STORAGE_COLD_CLASS/);
  });
});

describe('configuration reference', () => {
  it('README.md is in sync with the schema (run `npm run docs:config` after changing it)', () => {
    const readme = fs.readFileSync(path.resolve(__dirname, '../../../README.md'), 'utf8');
    expect(replaceConfigReference(readme)).toBe(readme);
  });
});
