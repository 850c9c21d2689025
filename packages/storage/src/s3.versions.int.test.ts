import fs from 'node:fs/promises';
import path from 'node:path';
import * as Minio from 'minio';
import { AppError } from '@yunying/core';
import { describeUnless } from '../../../test/support/skip';
import { sha256Hex } from './keys';
import { ReplicatedStore, type CopyVersions } from './replicated.store';
import { computeRetainUntil } from './retention';
import { S3ReplicaTarget } from './s3.target';
import { s3TestSettings, tempFsTargets, uniqueBucketName, type S3TestSettings } from './testing';
import { streamToBytes } from './util';

/**
 * #17 finding 7 (object store written with the application's own key): a garbage version at a copy's key
 * was what read() returned and a delete marker made the copy "not found". Reads now ask for the version the
 * catalog recorded; verify reports what was written after it; checkProtection reports a lowered bucket
 * lock configuration. Against the real Ceph RGW with Object Lock; the fs part runs everywhere.
 */

const settings = s3TestSettings();

function rawClient(s: S3TestSettings): Minio.Client {
  const url = new URL(s.endpoint);
  return new Minio.Client({ endPoint: url.hostname, port: Number(url.port), useSSL: url.protocol === 'https:', accessKey: s.accessKey, secretKey: s.secretKey, region: s.region, pathStyle: true });
}

function payload(label: string): Uint8Array {
  return new Uint8Array(Buffer.from(`${label} `.repeat(400)));
}

describeUnless(
  settings === null ? 'no S3 endpoint: S3_ENDPOINT/S3_ACCESS_KEY/S3_SECRET_KEY unset (start one with infra/ceph/up.sh)' : null,
  'S3 copies read by their recorded version; tampering and lock changes found (Ceph RGW)',
  () => {
    let s: S3TestSettings;
    let raw: Minio.Client;
    let targets: S3ReplicaTarget[];
    const run = uniqueBucketName('yy-versions');
    const retainUntil = computeRetainUntil({ receivedAt: new Date(), policyYears: 15, minimumYears: 15 });

    beforeAll(async () => {
      s = settings!;
      raw = rawClient(s);
      targets = [1, 2, 3].map(
        (n) => new S3ReplicaTarget({ name: `s3-${n}`, endpoint: s.endpoint, accessKey: s.accessKey, secretKey: s.secretKey, region: s.region, bucket: `${run}-${n}` }),
      );
      for (const t of targets) await t.init();
    });

    it('serves the recorded version although a later version and a delete marker were written at the key', async () => {
      const bytes = payload('archived');
      const writer = new ReplicatedStore({ targets });
      const put = await writer.put(bytes, { retainUntil });
      const versions: CopyVersions = new Map(put.copies.map((c) => [c.target, c.versionId]));
      const garbage = Buffer.from('x'.repeat(bytes.length));
      // With the same key the archive uses: a same-size garbage version on copy 1, a delete marker on 2.
      await raw.putObject(`${run}-1`, put.key, garbage, garbage.length);
      await raw.removeObject(`${run}-2`, put.key);

      // What the attack did to unpinned reads: the garbage is current, the other copy "not found".
      expect(Buffer.from(await targets[0]!.read(put.key))).toEqual(garbage);
      await expect(targets[1]!.read(put.key)).rejects.toMatchObject({ code: 'not_found' });

      const reader = new ReplicatedStore({ targets, copyVersions: (sha256) => Promise.resolve(sha256 === put.sha256 ? versions : new Map<string, string | null>()) });
      expect(sha256Hex(await reader.read(put.key, { expectedSize: bytes.length }))).toBe(put.sha256);
      // Ranges cannot be hashed: they must come from the recorded version of the first copy.
      const { stream, target } = await reader.readStream(put.key, { offset: 0, length: 8 }, { expectedSize: bytes.length });
      expect(target).toBe('s3-1');
      expect(Buffer.from(await streamToBytes(stream)).toString()).toBe('archived');
      expect(Buffer.from(await reader.readRange(put.key, 9, 8)).toString()).toBe('archived');
      // Copy 2 alone (copy 1 not recorded): its recorded version, under the delete marker.
      const onlyTwo: CopyVersions = new Map([['s3-2', versions.get('s3-2') ?? null]]);
      expect(sha256Hex(await reader.read(put.key, { versions: onlyTwo }))).toBe(put.sha256);
      // No recorded version anywhere: nothing is served rather than whatever is current.
      await expect(reader.read(put.key, { versions: new Map() })).rejects.toMatchObject({ code: 'not_found' });

      // verify: the recorded copies are good, and what was written after them is reported.
      const one = await targets[0]!.verify(put.key, { sha256: put.sha256, size: bytes.length, retainUntil, versionId: versions.get('s3-1') ?? null });
      expect(one).toMatchObject({ ok: true, tampering: ['1 version(s) written after the recorded one'] });
      const two = await targets[1]!.verify(put.key, { sha256: put.sha256, size: bytes.length, retainUntil, versionId: versions.get('s3-2') ?? null });
      expect(two).toMatchObject({ ok: true, tampering: ['1 delete marker(s)'] });
      const three = await targets[2]!.verify(put.key, { sha256: put.sha256, size: bytes.length, retainUntil, versionId: versions.get('s3-3') ?? null });
      expect(three).toMatchObject({ ok: true, tampering: [] });
      // Without a recorded version (older rows) the delete marker still shows, and the copy is missing.
      const unpinned = await targets[1]!.verify(put.key, { sha256: put.sha256, size: bytes.length, retainUntil });
      expect(unpinned).toMatchObject({ ok: false, exists: false, tampering: ['1 delete marker(s)'] });

      // Repair reads its source by the recorded version too: copy 1's garbage is never copied.
      const repaired = await reader.completeCopies(put.key, { sha256: put.sha256, size: bytes.length, retainUntil });
      expect(repaired.verified.sort()).toEqual(['s3-1', 's3-2', 's3-3']);
      expect(repaired.repaired).toEqual([]);
    });

    it('reports a bucket whose default retention was lowered or removed, and changes nothing itself', async () => {
      const t = targets[2]!;
      expect(await t.checkProtection()).toEqual([]);
      await (raw.setObjectLockConfig(t.bucket, { mode: Minio.RETENTION_MODES.GOVERNANCE, unit: Minio.RETENTION_VALIDITY_UNITS.DAYS, validity: 1 }) as unknown as Promise<void>);
      expect(await t.checkProtection()).toEqual(['bucket default retention mode GOVERNANCE, expected COMPLIANCE', 'bucket default retention 1 days, expected at least 5475']);
      // No rule at all: new versions get no retention (minio-js sends no Rule for empty options; typed as required).
      await (raw.setObjectLockConfig(t.bucket, {} as Omit<Minio.ObjectLockInfo, 'objectLockEnabled'>) as unknown as Promise<void>);
      expect(await t.checkProtection()).toEqual(['bucket default retention mode none, expected COMPLIANCE', 'bucket default retention 0 days, expected at least 5475']);
      // Still reported on a second look: the check never puts the configuration back.
      expect(await t.checkProtection()).toHaveLength(2);
      // init (a role allowed to prepare buckets) restores it.
      await t.init();
      expect(await t.checkProtection()).toEqual([]);
    });

    it('a role that does not prepare targets fails clearly on a missing bucket and creates none', async () => {
      const missing = new S3ReplicaTarget({ name: 's3-x', endpoint: s.endpoint, accessKey: s.accessKey, secretKey: s.secretKey, region: s.region, bucket: `${run}-missing` });
      const error = await missing.assertExists().then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe('config_invalid');
      expect((error as AppError).message).toMatch(/bucket .* is missing; this role does not create buckets/);
      expect(await raw.bucketExists(`${run}-missing`)).toBe(false);
      await targets[0]!.assertExists();
    });
  },
);

describe('fs targets: protection check (the root marker)', () => {
  it('is clean as init left it, and reports a root whose marker names another replica', async () => {
    const temp = await tempFsTargets(1);
    try {
      const [t] = temp.targets;
      expect(await t!.checkProtection()).toEqual([]);
      const marker = path.join(t!.root, '.yunying-replica.json');
      await fs.writeFile(marker, JSON.stringify({ name: 'fs-9' }));
      expect(await t!.checkProtection()).toEqual(['replica marker names another replica']);
    } finally {
      await temp.cleanup();
    }
  });
});
