import { randomBytes } from 'node:crypto';
import * as Minio from 'minio';
import { AppError } from '@yunying/core';
import { describeUnless } from '../../../test/support/skip';
import { sha256Hex } from './keys';
import { ReplicatedStore } from './replicated.store';
import { computeRetainUntil } from './retention';
import { S3ReplicaTarget } from './s3.target';
import { closedPortEndpoint, s3TestSettings, uniqueBucketName, type S3TestSettings } from './testing';

const settings = s3TestSettings();

function rawClient(s: S3TestSettings): Minio.Client {
  const url = new URL(s.endpoint);
  return new Minio.Client({
    endPoint: url.hostname,
    port: Number(url.port),
    useSSL: url.protocol === 'https:',
    accessKey: s.accessKey,
    secretKey: s.secretKey,
    region: s.region,
    pathStyle: true,
  });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected a rejection, got success'),
    (e: unknown) => e,
  );
}

async function expectS3Code(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await rejection(promise);
  expect((error as { code?: unknown }).code).toBe(code);
}

async function expectAppError(promise: Promise<unknown>, code: string): Promise<AppError> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(code);
  return error as AppError;
}

describeUnless(
  settings === null ? 'no S3 endpoint: S3_ENDPOINT/S3_ACCESS_KEY/S3_SECRET_KEY unset (start one with infra/ceph/up.sh)' : null,
  'ReplicatedStore over three S3 buckets with Object Lock (Ceph RGW)',
  () => {
    // describe.skip still runs this body: nothing here may touch the settings before beforeAll.
    let s: S3TestSettings;
    let raw: Minio.Client;
    const run = uniqueBucketName('yy-storage');
    // A policy longer than the bucket default (15 x 365 days), so the exact date is visible.
    const retainUntil = computeRetainUntil({ receivedAt: new Date(), policyYears: 20, minimumYears: 15 });
    let n = 0;

    function s3Target(name: string, bucket = `${run}-${++n}`, endpoint = s.endpoint): S3ReplicaTarget {
      return new S3ReplicaTarget({ name, endpoint, accessKey: s.accessKey, secretKey: s.secretKey, region: s.region, bucket });
    }

    let targets: S3ReplicaTarget[];
    let store: ReplicatedStore;

    beforeAll(async () => {
      s = settings!;
      raw = rawClient(s);
      targets = [s3Target('s3-1'), s3Target('s3-2'), s3Target('s3-3')];
      store = new ReplicatedStore({ targets });
      await store.init();
    });

    it('creates each bucket with Object Lock and a default COMPLIANCE retention of 15 years', async () => {
      for (const t of targets) {
        const config = (await (raw.getObjectLockConfig(t.bucket) as unknown as Promise<Record<string, unknown>>));
        expect(config).toMatchObject({ objectLockEnabled: 'Enabled', mode: 'COMPLIANCE', unit: 'Years', validity: 15 });
      }
      // init is idempotent
      await store.init();
    });

    it('puts three copies, each COMPLIANCE-locked until the exact retain-until, with matching SHA-256', async () => {
      const bytes = randomBytes(300_000);
      const result = await store.put(bytes, { retainUntil });
      expect(result.failed).toEqual([]);
      expect(result.copies).toHaveLength(3);
      for (const [i, t] of targets.entries()) {
        const copy = result.copies.find((c) => c.target === t.name)!;
        expect(copy).toMatchObject({ lockMode: 'COMPLIANCE', sha256: sha256Hex(bytes), size: bytes.length });
        expect(copy.versionId).toEqual(expect.any(String));
        expect(copy.retainUntil.toISOString()).toBe(retainUntil.toISOString());
        const retention = await raw.getObjectRetention(t.bucket, result.key, { versionId: copy.versionId! });
        expect(retention?.mode).toBe('COMPLIANCE');
        expect(new Date(retention!.retainUntilDate.replace(/(\.\d{3})\d+/, '$1')).toISOString()).toBe(retainUntil.toISOString());
        const chunks: Buffer[] = [];
        for await (const chunk of (await raw.getObject(t.bucket, result.key)) as AsyncIterable<Buffer>) chunks.push(chunk);
        expect(sha256Hex(Buffer.concat(chunks))).toBe(result.sha256);
        const verified = await store.verifyCopy(result.key, t.name, { sha256: result.sha256, size: result.size, retainUntil });
        expect(verified).toMatchObject({ ok: true, lockMode: 'COMPLIANCE', sha256Ok: true, sizeOk: true, lockOk: true });
        expect(i).toBeLessThan(3);
      }
    });

    it('is locked from the moment it exists: a date shorter than the bucket default keeps the default', async () => {
      const short = new Date(Date.now() + 86_400_000);
      const result = await store.put(randomBytes(1000), { retainUntil: short });
      for (const copy of result.copies) {
        expect(copy.retainUntil.getTime()).toBeGreaterThan(Date.now() + 14 * 365 * 86_400_000);
      }
    });

    it('refuses every delete of a locked version, and any shortening of its retention', async () => {
      const result = await store.put(randomBytes(2000), { retainUntil });
      for (const copy of result.copies) {
        const t = targets.find((x) => x.name === copy.target)!;
        await expectAppError(t.remove(result.key, new Date()), 'retention_locked');
        await expectAppError(t.remove(result.key, new Date('2100-01-01T00:00:00Z')), 'retention_locked');
        await expectS3Code(raw.removeObject(t.bucket, result.key, { versionId: copy.versionId! }), 'AccessDenied');
        await expectS3Code(raw.removeObject(t.bucket, result.key, { versionId: copy.versionId!, governanceBypass: true }), 'AccessDenied');
        const shorter = new Date(retainUntil.getTime() - 86_400_000).toISOString();
        await expectS3Code(
          raw.putObjectRetention(t.bucket, result.key, { mode: 'COMPLIANCE', retainUntilDate: shorter, versionId: copy.versionId! }),
          'AccessDenied',
        );
        await expectS3Code(
          raw.putObjectRetention(t.bucket, result.key, {
            mode: 'GOVERNANCE',
            retainUntilDate: retainUntil.toISOString(),
            versionId: copy.versionId!,
            governanceBypass: true,
          }),
          'AccessDenied',
        );
        expect((await t.stat(result.key))?.versionId).toBe(copy.versionId);
      }
    });

    it('is idempotent: the same bytes again add no version', async () => {
      const bytes = randomBytes(4000);
      const first = await store.put(bytes, { retainUntil });
      const again = await store.put(bytes, { retainUntil });
      expect(again.copies.map((c) => c.versionId).sort()).toEqual(first.copies.map((c) => c.versionId).sort());
    });

    it('sets and reads the legal hold; a held object refuses removal', async () => {
      const result = await store.put(randomBytes(1500), { retainUntil, legalHold: true });
      const t = targets[0]!;
      expect(result.copies.every((c) => c.legalHold)).toBe(true);
      expect(await t.legalHold(result.key)).toBe(true);
      const copy = result.copies.find((c) => c.target === t.name)!;
      const status: unknown = await raw.getObjectLegalHold(t.bucket, result.key, { versionId: copy.versionId! });
      expect(JSON.stringify(status)).toContain('ON');
      await expectAppError(t.remove(result.key, new Date()), 'retention_locked');
      await t.setLegalHold(result.key, false);
      expect(await t.legalHold(result.key)).toBe(false);
      expect((await t.stat(result.key))?.legalHold).toBe(false);
    });

    it('serves exact byte ranges', async () => {
      const bytes = randomBytes(1_000_000);
      const { key } = await store.put(bytes, { retainUntil });
      const range = await store.readRange(key, 654_321, 12_345, { expectedSize: bytes.length });
      expect(Buffer.compare(range, bytes.subarray(654_321, 654_321 + 12_345))).toBe(0);
      const tail = await targets[2]!.readRange(key, bytes.length - 5, 50);
      expect(Buffer.compare(tail, bytes.subarray(bytes.length - 5))).toBe(0);
      expect(Buffer.compare(await store.read(key), bytes)).toBe(0);
    });

    it('with quorum 3 and one endpoint down, refuses with a retryable unavailable; with quorum 2 accepts and names it', async () => {
      const down = s3Target('s3-3', targets[2]!.bucket, await closedPortEndpoint());
      const degraded = [targets[0]!, targets[1]!, down];
      expect((await new ReplicatedStore({ targets: degraded }).probe()).down.map((d) => d.target)).toEqual(['s3-3']);
      const bytes = randomBytes(5000);
      const error = await expectAppError(new ReplicatedStore({ targets: degraded }).put(bytes, { retainUntil }), 'unavailable');
      expect(error.retryable).toBe(true);
      expect(error.details).toMatchObject({ failed: [{ target: 's3-3' }] });

      const result = await new ReplicatedStore({ targets: degraded, writeQuorum: 2 }).put(bytes, { retainUntil });
      expect(result.copies.map((c) => c.target)).toEqual(['s3-1', 's3-2']);
      expect(result.failed.map((f) => f.target)).toEqual(['s3-3']);
      expect(result.failed[0]?.reason).toMatch(/ECONNREFUSED/);

      // The endpoint is back: the repair job completes the third copy, locked like the others.
      const meta = { sha256: result.sha256, size: result.size, retainUntil };
      const completed = await store.completeCopies(result.key, meta);
      expect(completed.repaired.map((r) => r.target)).toEqual(['s3-3']);
      expect(await targets[2]!.verify(result.key, meta)).toMatchObject({ ok: true, lockMode: 'COMPLIANCE' });
    });

    it('repairs a copy lost from a bucket and one hidden by a delete marker, with the same retain-until', async () => {
      const bytes = randomBytes(20_000);
      const { key, sha256, size } = await store.put(bytes, { retainUntil });
      const meta = { sha256, size, retainUntil };
      // A bucket that lost the object: a fresh bucket takes the place of replica s3-2.
      const fresh = s3Target('s3-2');
      const replaced = new ReplicatedStore({ targets: [targets[0]!, fresh, targets[2]!] });
      await fresh.init();
      expect((await fresh.verify(key, meta)).problems).toEqual(['copy missing']);
      // removeObject without a version id only adds a delete marker; the locked version stays.
      await raw.removeObject(targets[2]!.bucket, key);
      expect((await targets[2]!.verify(key, meta)).exists).toBe(false);

      const done = await replaced.completeCopies(key, meta);
      expect(done.repaired.map((r) => r.target).sort()).toEqual(['s3-2', 's3-3']);
      for (const t of [targets[0]!, fresh, targets[2]!]) {
        const v = await t.verify(key, meta);
        expect(v).toMatchObject({ ok: true, lockMode: 'COMPLIANCE' });
        expect(v.retainUntil?.toISOString()).toBe(retainUntil.toISOString());
      }
    });
  },
);
