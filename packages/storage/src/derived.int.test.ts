import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as Minio from 'minio';
import { describeUnless } from '../../../test/support/skip';
import { createDerivedStore, seriesThumbnailKey, type DerivedStore } from './derived.store';
import { s3TestSettings, uniqueBucketName } from './testing';

const settings = s3TestSettings();

/** The same contract on both backends: a writer prepares and puts, a reader that never prepared gets. */
function contract(makeWriter: () => Promise<DerivedStore>, makeReader: () => DerivedStore): void {
  it('a reader that never prepared sees nothing before the writer, then exactly what it wrote', async () => {
    const reader = makeReader();
    const key = seriesThumbnailKey('1.2.826.0.1.3680043.8.498.1');
    expect(await reader.get(key)).toBeNull();
    const writer = await makeWriter();
    expect(await reader.get(key)).toBeNull();
    const bytes = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
    await writer.put(key, bytes, 'image/jpeg');
    expect(await reader.get(key)).toEqual(bytes);
    // Derived objects are replaceable (no lock): a better rendering overwrites the old one.
    await writer.put(key, Buffer.from([9, 9]), 'image/jpeg');
    expect(await reader.get(key)).toEqual(Buffer.from([9, 9]));
  });

  it('removes an object for good; removing what is not there is no error', async () => {
    const writer = await makeWriter();
    const key = seriesThumbnailKey('1.2.826.0.1.3680043.8.498.3');
    await writer.put(key, Buffer.from([0xff, 0xd8, 7]), 'image/jpeg');
    await writer.put(key, Buffer.from([0xff, 0xd8, 8]), 'image/jpeg');
    expect(await makeReader().get(key)).toEqual(Buffer.from([0xff, 0xd8, 8]));
    await writer.remove(key);
    expect(await makeReader().get(key)).toBeNull();
    await writer.remove(key);
    await writer.remove(seriesThumbnailKey('1.2.826.0.1.3680043.8.498.404'));
    await expect(writer.remove('../escape.jpg')).rejects.toThrow(/plain relative key/);
  });

  it('refuses keys that could leave the store', async () => {
    const writer = await makeWriter();
    await expect(writer.put('../escape.jpg', Buffer.from([1]), 'image/jpeg')).rejects.toThrow(/plain relative key/);
    await expect(writer.get('/etc/passwd')).rejects.toThrow(/plain relative key/);
  });
}

describe('derived objects on a directory (fs backend)', () => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'yy-derived-')), 'derived');
  afterAll(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }));
  contract(
    async () => {
      const store = createDerivedStore({ backend: 'fs', dir });
      await store.prepare();
      return store;
    },
    () => createDerivedStore({ backend: 'fs', dir }),
  );

  it('keeps thumbnails from other users: files 0640 in 0750 directories (#17 finding 8)', async () => {
    const store = createDerivedStore({ backend: 'fs', dir });
    await store.prepare();
    const key = seriesThumbnailKey('1.2.826.0.1.3680043.8.498.2');
    await store.put(key, Buffer.from([0xff, 0xd8]), 'image/jpeg');
    const file = path.join(dir, key);
    expect(fs.statSync(file).mode & 0o777).toBe(0o640);
    for (let d = path.dirname(file); d.startsWith(dir); d = path.dirname(d)) expect({ d, mode: fs.statSync(d).mode & 0o777 }).toEqual({ d, mode: 0o750 });
  });
});

describeUnless(
  settings === null ? 'no S3 endpoint: S3_ENDPOINT/S3_ACCESS_KEY/S3_SECRET_KEY unset (start one with infra/ceph/up.sh)' : null,
  'derived objects in an S3 bucket without Object Lock (Ceph RGW)',
  () => {
    const bucket = uniqueBucketName('yy-derived');
    const s3 = () => ({ backend: 's3' as const, endpoint: settings?.endpoint ?? '', bucket, accessKey: settings?.accessKey ?? '', secretKey: settings?.secretKey ?? '', region: settings?.region ?? 'us-east-1' });
    contract(
      async () => {
        const store = createDerivedStore(s3());
        await store.prepare();
        await store.prepare();
        return store;
      },
      () => createDerivedStore(s3()),
    );

    it('removes every version when an operator turned versioning on (no image left behind a delete marker)', async () => {
      const versioned = { ...s3(), bucket: uniqueBucketName('yy-derived-v') };
      const store = createDerivedStore(versioned);
      await store.prepare();
      const client = new Minio.Client({ endPoint: new URL(versioned.endpoint).hostname, port: Number(new URL(versioned.endpoint).port), useSSL: false, accessKey: versioned.accessKey, secretKey: versioned.secretKey, region: versioned.region, pathStyle: true });
      await client.setBucketVersioning(versioned.bucket, { Status: 'Enabled' });
      const key = seriesThumbnailKey('1.2.826.0.1.3680043.8.498.5');
      await store.put(key, Buffer.from([0xff, 0xd8, 1]), 'image/jpeg');
      await store.put(key, Buffer.from([0xff, 0xd8, 2]), 'image/jpeg');
      const versionsOf = async (): Promise<number> => {
        let n = 0;
        for await (const item of client.listObjects(versioned.bucket, key, true, { IncludeVersion: true }) as AsyncIterable<{ name?: string }>) if (item.name === key) n++;
        return n;
      };
      expect(await versionsOf()).toBe(2);
      await store.remove(key);
      expect(await store.get(key)).toBeNull();
      expect(await versionsOf()).toBe(0);
      await client.removeBucket(versioned.bucket);
    });
  },
);
