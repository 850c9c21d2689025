import { randomBytes } from 'node:crypto';
import * as Minio from 'minio';
import { describeUnless } from '../../../test/support/skip';
import { objectKey, sha256Hex } from './keys';
import { S3ReplicaTarget, TIERING_RULE_ID } from './s3.target';
import { s3TestSettings, uniqueBucketName, type S3TestSettings } from './testing';

/**
 * #18 storage tiering against the real Ceph RGW: the copy bucket's lifecycle rule moves a copy to the COLD
 * storage class (infra/ceph/up.sh adds it to the default placement, on a pool of its own); after the
 * transition the version, its COMPLIANCE retain-until and its bytes are what they were, reads work, and
 * verify (what the scrubber calls) finds the copy good and reports its class.
 *
 * RGW counts lifecycle days as rgw_lc_debug_interval seconds when that is set (up.sh: 10 s, exported as
 * S3_LC_DEBUG_INTERVAL); on an RGW with real days the transition cannot be seen in a test, so it skips.
 */
const settings = s3TestSettings();
const debugInterval = Number(process.env.S3_LC_DEBUG_INTERVAL ?? '0');

function rawClient(s: S3TestSettings): Minio.Client {
  const url = new URL(s.endpoint);
  return new Minio.Client({ endPoint: url.hostname, port: Number(url.port), useSSL: url.protocol === 'https:', accessKey: s.accessKey, secretKey: s.secretKey, region: s.region, pathStyle: true });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describeUnless(
  settings === null
    ? 'no S3 endpoint: S3_ENDPOINT/S3_ACCESS_KEY/S3_SECRET_KEY unset (start one with infra/ceph/up.sh)'
    : !(debugInterval > 0)
      ? 'S3_LC_DEBUG_INTERVAL unset: this RGW counts lifecycle days as real days (infra/ceph/up.sh sets rgw_lc_debug_interval)'
      : null,
  'storage tiering: lifecycle transition to a cold storage class (Ceph RGW)',
  () => {
    jest.setTimeout(240_000);
    let s: S3TestSettings;
    let target: S3ReplicaTarget;
    const bucket = uniqueBucketName('yy-tiering');

    beforeAll(async () => {
      s = settings as S3TestSettings;
      target = new S3ReplicaTarget({ name: 's3-2', endpoint: s.endpoint, accessKey: s.accessKey, secretKey: s.secretKey, region: s.region, bucket, tiering: { afterDays: 1, storageClass: 'COLD' } });
      await target.init();
    });

    it('sets one lifecycle rule on the copies, and removes it when tiering is turned off', async () => {
      const raw = rawClient(s);
      const config = (await raw.getBucketLifecycle(bucket)) as unknown as { Rule: { ID: string; Filter: { Prefix: string }; Transition: { Days: string | number; StorageClass: string } } };
      expect(config.Rule.ID).toBe(TIERING_RULE_ID);
      expect(config.Rule.Filter.Prefix).toBe('sha256/');
      expect({ days: Number(config.Rule.Transition.Days), storageClass: config.Rule.Transition.StorageClass }).toEqual({ days: 1, storageClass: 'COLD' });

      const other = uniqueBucketName('yy-tiering-off');
      const on = new S3ReplicaTarget({ name: 's3-3', endpoint: s.endpoint, accessKey: s.accessKey, secretKey: s.secretKey, region: s.region, bucket: other, tiering: { afterDays: 30, storageClass: 'COLD' } });
      await on.init();
      const off = new S3ReplicaTarget({ name: 's3-3', endpoint: s.endpoint, accessKey: s.accessKey, secretKey: s.secretKey, region: s.region, bucket: other, tiering: null });
      await off.init();
      await expect(raw.getBucketLifecycle(other)).rejects.toMatchObject({ code: 'NoSuchLifecycleConfiguration' });
    });

    it('moves a copy to COLD with its version, retention and bytes unchanged; reads and verify still work', async () => {
      const bytes = new Uint8Array(randomBytes(64 * 1024));
      const sha256 = sha256Hex(bytes);
      const key = objectKey(sha256);
      // A clinic's retention past the bucket's default, as ingest asks for: set with the upload itself,
      // since RGW 16.2 does not transition a version whose lock was changed after it (docs/operations.md).
      const retainUntil = new Date(Date.now() + 16 * 366 * 86_400_000 + 1234);
      const receipt = await target.put(key, bytes, { sha256, size: bytes.length, retainUntil, legalHold: false });
      const before = await target.stat(key, receipt.versionId);
      expect(before).toMatchObject({ storageClass: 'STANDARD', lockMode: 'COMPLIANCE', versionId: receipt.versionId });
      expect(before?.retainUntil?.getTime()).toBeGreaterThanOrEqual(retainUntil.getTime());

      let after = before;
      for (let waited = 0; after?.storageClass !== 'COLD' && waited < 200_000; waited += 2_000) {
        await sleep(2_000);
        after = await target.stat(key, receipt.versionId);
      }
      expect(after?.storageClass).toBe('COLD');
      expect(after?.versionId).toBe(before?.versionId);
      expect(after?.lockMode).toBe('COMPLIANCE');
      expect(after?.retainUntil?.toISOString()).toBe(before?.retainUntil?.toISOString());
      expect(after?.legalHold).toBe(before?.legalHold);
      expect(after?.size).toBe(bytes.length);

      expect(sha256Hex(await target.read(key, receipt.versionId))).toBe(sha256);
      const verified = await target.verify(key, { sha256, size: bytes.length, retainUntil: receipt.retainUntil, versionId: receipt.versionId });
      expect(verified).toMatchObject({ ok: true, exists: true, sha256Ok: true, lockOk: true, storageClass: 'COLD', problems: [] });
      // Still under COMPLIANCE retention in the cold class: the store refuses to delete the version.
      await expect(rawClient(s).removeObject(bucket, key, { versionId: receipt.versionId ?? undefined })).rejects.toMatchObject({ code: 'AccessDenied' });
    });
  },
);
