import { createHash } from 'node:crypto';
import * as Minio from 'minio';
import { makeStudy } from '@yunying/dicom/testing';
import { openStoredBytes, s3SystemEnv, s3TestSettings, systemStorageKeyFile, uniqueBucketName } from '@yunying/storage/testing';
import { describeUnless } from '../support/skip';
import { firstValue, startSystem, stow, stowItems, type RunningSystem } from '../support/system';

const settings = s3TestSettings();

/**
 * #3 done-when on real S3 with Object Lock (Ceph RGW, started by `npm test` via infra/ceph/up.sh): each
 * copy in its own bucket under COMPLIANCE retention >= 15 years; deleting a locked version is refused.
 */
describeUnless(settings === null ? 'no S3 endpoint (S3_ENDPOINT unset; Ceph RGW not running)' : null, 'STOW-RS ingest into three S3 Object Lock buckets (system, Ceph RGW)', () => {
  let system: RunningSystem;
  let buckets: string[];
  let client: Minio.Client;

  beforeAll(async () => {
    const s = settings!;
    buckets = ['a', 'b', 'c'].map((r) => uniqueBucketName(`yy-sys-${r}`));
    system = await startSystem({
      env: {
        ...s3SystemEnv(s, buckets),
      },
    });
    const url = new URL(s.endpoint);
    client = new Minio.Client({
      endPoint: url.hostname,
      port: Number(url.port),
      useSSL: url.protocol === 'https:',
      accessKey: s.accessKey,
      secretKey: s.secretKey,
      region: s.region,
      pathStyle: true,
    });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('stores each instance as three COMPLIANCE-locked versions, one per bucket, that cannot be deleted', async () => {
    const study = makeStudy(2, { frames: 2 });
    const before = new Date();
    const result = await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', study.files);
    expect(result.status).toBe(200);
    expect(stowItems(result, '00081199').map((i) => firstValue(i, '00991010'))).toEqual(['STORED', 'STORED']);

    const minimum = new Date(before);
    minimum.setUTCFullYear(minimum.getUTCFullYear() + 15);
    for (const file of study.files) {
      const digest = createHash('sha256').update(file).digest('hex');
      const copies = await system.pool.query('SELECT target, object_key, version_id, lock_mode, state FROM copies WHERE sha256 = $1 ORDER BY target', [digest]);
      expect(copies.rows.map((c) => [c.target, c.lock_mode, c.state])).toEqual([
        ['s3-1', 'COMPLIANCE', 'ok'],
        ['s3-2', 'COMPLIANCE', 'ok'],
        ['s3-3', 'COMPLIANCE', 'ok'],
      ]);
      for (const [i, copy] of copies.rows.entries()) {
        const bucket = buckets[i] ?? '';
        const retention = (await client.getObjectRetention(bucket, copy.object_key, { versionId: copy.version_id })) as { mode?: string; retainUntilDate?: string };
        expect(retention.mode).toBe('COMPLIANCE');
        expect(new Date(retention.retainUntilDate ?? 0).getTime()).toBeGreaterThanOrEqual(minimum.getTime() - 86_400_000);
        const stored = await client.getObject(bucket, copy.object_key, { versionId: copy.version_id });
        const chunks: Buffer[] = [];
        for await (const chunk of stored) chunks.push(chunk as Buffer);
        // Sealed at rest (#17): the bucket holds ciphertext; opened with the system's key file it is the instance.
        const bytes = Buffer.concat(chunks);
        expect(bytes.includes(file.subarray(132, 1132))).toBe(false);
        expect(createHash('sha256').update(await openStoredBytes(bytes, systemStorageKeyFile(system.dataDir))).digest('hex')).toBe(digest);
        // The object store itself refuses to delete the locked version, whatever the caller's credentials.
        await expect(client.removeObject(bucket, copy.object_key, { versionId: copy.version_id, governanceBypass: true })).rejects.toMatchObject({ code: 'AccessDenied' });
      }
    }
    // Sending again: nothing new in the buckets' catalog rows.
    const again = await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', study.files);
    expect(stowItems(again, '00081199').map((i) => firstValue(i, '00991010'))).toEqual(['ALREADY_STORED', 'ALREADY_STORED']);
    const count = await system.pool.query('SELECT count(*)::int AS n FROM copies');
    expect(count.rows[0].n).toBe(6);
  });
});
