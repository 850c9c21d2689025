import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { Readable } from 'node:stream';
import * as Minio from 'minio';
import { describeUnless } from '../../../test/support/skip';
import { createDerivedStore, seriesThumbnailKey } from './derived.store';
import { ReplicatedStore } from './replicated.store';
import { computeRetainUntil } from './retention';
import { S3ReplicaTarget } from './s3.target';
import { s3TestSettings, uniqueBucketName, type S3TestSettings } from './testing';
import { streamToBytes } from './util';

/**
 * #17 finding 7: one credential covered all three buckets. infra/ceph/copy-credentials.sh gives each copy
 * an RGW user of its own (owning its bucket) and a read-only user (bucket policy: reads, listings, lock
 * settings; no bucket creation). Against the real Ceph RGW: the reader's key is refused PUT, DELETE and lock
 * changes with AccessDenied, copy 1's key can neither read nor write copy 2's bucket, and the archive works
 * with these keys (writers prepare and write; the reader reads by version, verifies and checks protection).
 */

const settings = s3TestSettings();
const script = path.resolve(__dirname, '../../../infra/ceph/copy-credentials.sh');
const skip =
  settings === null
    ? 'no S3 endpoint: S3_ENDPOINT unset (start one with infra/ceph/up.sh)'
    : process.env.CEPH_CONF === undefined
      ? 'CEPH_CONF unset: radosgw-admin cannot reach the test cluster (source the s3.env of infra/ceph/up.sh)'
      : null;

interface Keys {
  accessKey: string;
  secretKey: string;
}

function provision(prefix: string, buckets: string[]): { writers: Keys[]; readers: Keys[] } {
  const out = execFileSync('bash', [script, prefix, ...buckets], { encoding: 'utf8', env: process.env });
  const vars = new Map(out.split('\n').flatMap((line) => {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line);
    return m ? [[m[1] ?? '', (m[2] ?? '').split(',')] as const] : [];
  }));
  const pair = (a: string, s: string): Keys[] => (vars.get(a) ?? []).map((accessKey, i) => ({ accessKey, secretKey: vars.get(s)?.[i] ?? '' }));
  return { writers: pair('S3_ACCESS_KEYS', 'S3_SECRET_KEYS'), readers: pair('S3_READ_ACCESS_KEYS', 'S3_READ_SECRET_KEYS') };
}

function client(s: S3TestSettings, keys: Keys): Minio.Client {
  const url = new URL(s.endpoint);
  return new Minio.Client({ endPoint: url.hostname, port: Number(url.port), useSSL: false, accessKey: keys.accessKey, secretKey: keys.secretKey, region: s.region, pathStyle: true });
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'succeeded',
    (e: unknown) => String((e as { code?: unknown }).code),
  );
}

describeUnless(skip, 'one S3 credential per copy, read-only credentials for readers (Ceph RGW)', () => {
  let s: S3TestSettings;
  let buckets: string[];
  let writers: Keys[];
  let readers: Keys[];
  let store: ReplicatedStore;
  let stored: { key: string; versions: Map<string, string | null>; bytes: Uint8Array };

  beforeAll(async () => {
    s = settings!;
    const run = uniqueBucketName('yy-cred');
    buckets = [1, 2, 3].map((n) => `${run}-${n}`);
    ({ writers, readers } = provision(run.replace(/[^a-z0-9-]/g, '').slice(-20), [...buckets, `${buckets[0]}-derived`]));
    expect(writers).toHaveLength(3);
    expect(new Set([...writers, ...readers].map((k) => k.accessKey)).size).toBe(6);
    // The archive with the writers' keys prepares (default COMPLIANCE retention) and writes.
    store = new ReplicatedStore({
      targets: buckets.map((bucket, i) => new S3ReplicaTarget({ name: `s3-${i + 1}`, endpoint: s.endpoint, region: s.region, bucket, ...writers[i]! })),
    });
    await store.init();
    const bytes = new Uint8Array(Buffer.from('per-copy credentials '.repeat(50)));
    const put = await store.put(bytes, { retainUntil: computeRetainUntil({ receivedAt: new Date(), policyYears: 15, minimumYears: 15 }) });
    stored = { key: put.key, bytes, versions: new Map(put.copies.map((c) => [c.target, c.versionId])) };
  });

  it("copy 1's key can neither read nor write copy 2's bucket", async () => {
    const one = client(s, writers[0]!);
    expect(await codeOf(one.statObject(buckets[1]!, stored.key))).toMatch(/AccessDenied|Forbidden/);
    expect(await codeOf(streamToBytesOf(one.getObject(buckets[1]!, stored.key)))).toBe('AccessDenied');
    expect(await codeOf(one.putObject(buckets[1]!, stored.key, Buffer.from('x')))).toBe('AccessDenied');
    expect(await codeOf(one.removeObject(buckets[1]!, stored.key))).toBe('AccessDenied');
    expect(await codeOf(one.setObjectLockConfig(buckets[1]!, { mode: Minio.RETENTION_MODES.GOVERNANCE, unit: Minio.RETENTION_VALIDITY_UNITS.DAYS, validity: 1 }) as unknown as Promise<void>)).toBe('AccessDenied');
    // Its own bucket it can read.
    expect(Buffer.from(await streamToBytesOf(one.getObject(buckets[0]!, stored.key)))).toEqual(Buffer.from(stored.bytes));
  });

  it("the viewer's read-only key is refused PUT, DELETE, lock changes and bucket creation (AccessDenied)", async () => {
    for (const [i, bucket] of buckets.entries()) {
      const reader = client(s, readers[i]!);
      expect(await codeOf(reader.putObject(bucket, stored.key, Buffer.from('garbage')))).toBe('AccessDenied');
      expect(await codeOf(reader.removeObject(bucket, stored.key))).toBe('AccessDenied');
      expect(await codeOf(reader.setObjectLockConfig(bucket, { mode: Minio.RETENTION_MODES.GOVERNANCE, unit: Minio.RETENTION_VALIDITY_UNITS.DAYS, validity: 1 }) as unknown as Promise<void>)).toBe('AccessDenied');
      expect(await codeOf(reader.makeBucket(`${bucket}-r`, s.region))).not.toBe('succeeded');
    }
    // Another copy's bucket it cannot even read.
    expect(await codeOf(streamToBytesOf(client(s, readers[0]!).getObject(buckets[1]!, stored.key)))).toBe('AccessDenied');
  });

  it('the viewer reads, verifies and checks protection with read-only keys, and never prepares', async () => {
    const viewer = new ReplicatedStore({
      targets: buckets.map((bucket, i) => new S3ReplicaTarget({ name: `s3-${i + 1}`, endpoint: s.endpoint, region: s.region, bucket, ...readers[i]! })),
      copyVersions: () => Promise.resolve(stored.versions),
    });
    for (const target of viewer.targets) {
      await target.assertExists();
      expect(await target.checkProtection()).toEqual([]);
    }
    expect(Buffer.from(await viewer.read(stored.key, { expectedSize: stored.bytes.length }))).toEqual(Buffer.from(stored.bytes));
    expect(Buffer.from(await viewer.readRange(stored.key, 0, 3))).toEqual(Buffer.from('per'));
    const [verified] = await viewer.verifyAll(stored.key, { sha256: stored.key.slice(-64), size: stored.bytes.length, retainUntil: new Date() }, stored.versions);
    expect(verified).toMatchObject({ ok: true, tampering: [] });
    // Thumbnails (derived bucket, copy 1's keys as the config gives them): ingest writes, the viewer reads.
    const derived = (keys: Keys) => createDerivedStore({ backend: 's3', endpoint: s.endpoint, region: s.region, bucket: `${buckets[0]}-derived`, ...keys });
    const thumb = seriesThumbnailKey('1.2.3.4.5');
    await derived(writers[0]!).put(thumb, new Uint8Array(Buffer.from('jpeg')), 'image/jpeg');
    expect((await derived(readers[0]!).get(thumb))?.toString()).toBe('jpeg');
    await expect(derived(readers[0]!).put(thumb, new Uint8Array(Buffer.from('x')), 'image/jpeg')).rejects.toBeDefined();
    // A write through the archive code is refused by the store, not done.
    await expect(viewer.put(new Uint8Array(Buffer.from('new')), { retainUntil: new Date(Date.now() + 86_400_000) })).rejects.toMatchObject({ code: 'unavailable' });
  });
});

async function streamToBytesOf(stream: Promise<Readable>): Promise<Uint8Array> {
  return streamToBytes(await stream);
}
