import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as Minio from 'minio';
import { describeUnless } from '../../../test/support/skip';
import { createObjectEnvelope } from './config';
import { createDerivedStore } from './derived.store';
import { newStorageKeyLine, parseStorageKeyFile } from './envelope/envelope.keys';
import { isSealed, ObjectEnvelope } from './envelope/object.envelope';
import { FsReplicaTarget } from './fs.target';
import { sha256Hex } from './keys';
import { ReplicatedStore } from './replicated.store';
import { computeRetainUntil } from './retention';
import { S3ReplicaTarget } from './s3.target';
import { s3TestSettings, uniqueBucketName, type S3TestSettings } from './testing';
import { streamToBytes } from './util';

/**
 * #17 finding 8 (PHI on disk, not encrypted): envelope encryption at rest on real replica targets, three
 * fs directories and three Ceph RGW Object Lock buckets. The bytes on disk / in the bucket are not the
 * content; reads, ranges and streams return it; verify (the scrubber's check) opens and hashes; a changed
 * byte is found and never served; a wrong or missing key is a clear error; rotation and a mixed archive
 * (plain copies from before) read; SM4 round-trips; thumbnails are sealed too.
 */
const retainUntil = computeRetainUntil({ receivedAt: new Date(), policyYears: 15, minimumYears: 15 });
const MARKER = Buffer.from('PATIENT^MARKER^IN^PLAINTEXT');

/** A fake instance whose plaintext is easy to spot in stored bytes: 200 KiB, the marker every 1 KiB. */
function content(seed: string): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < 200; i++) parts.push(Buffer.concat([MARKER, Buffer.from(`${seed}-${i}-`.padEnd(1024 - MARKER.length, '.'))]));
  return Buffer.concat(parts);
}

function keyring(): ReturnType<typeof parseStorageKeyFile> {
  return parseStorageKeyFile(newStorageKeyLine());
}

describe('encryption at rest on fs replica targets', () => {
  let dir: string;
  const keyFileText = newStorageKeyLine();
  const keys = parseStorageKeyFile(keyFileText);
  const sealing = new ObjectEnvelope({ seal: 'aes-256-gcm', keys });
  let targets: FsReplicaTarget[];
  let store: ReplicatedStore;

  const fsTargets = (envelope: ObjectEnvelope): FsReplicaTarget[] =>
    [1, 2, 3].map((i) => new FsReplicaTarget({ name: `fs-${i}`, root: path.join(dir, `disk${i}`), envelope }));

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'yunying-enc-'));
    targets = fsTargets(sealing);
    for (const t of targets) await t.init();
    store = new ReplicatedStore({ targets });
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  it('stores ciphertext on all three disks and reads the content whole, by range and as a stream', async () => {
    const bytes = content('fs');
    const put = await store.put(bytes, { retainUntil });
    expect(put.sha256).toBe(sha256Hex(bytes));
    expect(put.copies.map((c) => [c.sha256, c.size])).toEqual([0, 1, 2].map(() => [put.sha256, bytes.length]));
    const onDisk = await Promise.all(targets.map((t) => fs.readFile(path.join(t.root, ...put.key.split('/')))));
    for (const stored of onDisk) {
      expect(isSealed(stored)).toBe(true);
      expect(stored.includes(MARKER)).toBe(false);
    }
    // Encrypted once: the three copies are the same ciphertext (one data key).
    expect(onDisk[1]?.equals(onDisk[0] ?? Buffer.alloc(0))).toBe(true);
    // Written as the cipher's pieces (writev, #14), none lost or repeated: as long as a sealed object of
    // the content (the put released its seal, so this one has another data key) and it opens to the content.
    expect(onDisk[2]?.length).toBe((await sealing.seal(bytes)).length);
    expect(Buffer.from(await sealing.open(onDisk[2] ?? Buffer.alloc(0))).equals(bytes)).toBe(true);
    expect(Buffer.from(await store.read(put.key, { expectedSize: bytes.length })).equals(bytes)).toBe(true);
    expect(Buffer.from(await store.readRange(put.key, 70_000, 5_000, { expectedSize: bytes.length })).equals(bytes.subarray(70_000, 75_000))).toBe(true);
    const { stream } = await store.readStream(put.key, undefined, { expectedSize: bytes.length });
    expect(Buffer.from(await streamToBytes(stream)).equals(bytes)).toBe(true);
    const ranged = await store.readStream(put.key, { offset: 131_000, length: 2_000 }, { expectedSize: bytes.length });
    expect(Buffer.from(await streamToBytes(ranged.stream)).equals(bytes.subarray(131_000, 133_000))).toBe(true);
    expect((await targets[0]?.stat(put.key))?.size).toBe(bytes.length);
    const results = await store.verifyAll(put.key, { sha256: put.sha256, size: bytes.length, retainUntil });
    expect(results.map((r) => [r.ok, r.problems])).toEqual([0, 1, 2].map(() => [true, []]));

    // A re-put of the same content keeps the copies as they are (idempotent, nothing rewritten).
    const before = await Promise.all(targets.map((t) => fs.stat(path.join(t.root, ...put.key.split('/')))));
    await store.put(Buffer.from(bytes), { retainUntil });
    const after = await Promise.all(targets.map((t) => fs.stat(path.join(t.root, ...put.key.split('/')))));
    expect(after.map((s) => s.ino)).toEqual(before.map((s) => s.ino));
  });

  it('finds a changed byte: verify reports it, reads skip that copy, repair rewrites it from a good one', async () => {
    const bytes = content('tamper');
    const put = await store.put(bytes, { retainUntil });
    const file = path.join(targets[0]?.root ?? '', ...put.key.split('/'));
    await fs.chmod(file, 0o640);
    const handle = await fs.open(file, 'r+');
    await handle.write(Buffer.from([0x42]), 0, 1, 90_000);
    await handle.close();
    await fs.chmod(file, 0o440);

    await expect(targets[0]?.read(put.key)).rejects.toMatchObject({ problem: 'not_authentic' });
    const results = await store.verifyAll(put.key, { sha256: put.sha256, size: bytes.length, retainUntil });
    expect(results.map((r) => r.ok)).toEqual([false, true, true]);
    expect(results[0]?.problems).toEqual(['sealed copy does not authenticate (tampered or corrupt)']);
    // The store serves the content from the next copy, never the damaged bytes.
    expect(Buffer.from(await store.read(put.key)).equals(bytes)).toBe(true);
    const repaired = await store.completeCopies(put.key, { sha256: put.sha256, size: bytes.length, retainUntil });
    expect(repaired.repaired.map((r) => r.target)).toEqual(['fs-1']);
    expect(Buffer.from(await targets[0]?.read(put.key) ?? Buffer.alloc(0)).equals(bytes)).toBe(true);
  });

  it('a missing key is a clear configuration error, never bytes; a wrong key fails to open', async () => {
    const bytes = content('keys');
    const put = await store.put(bytes, { retainUntil });
    const other = new ReplicatedStore({ targets: fsTargets(new ObjectEnvelope({ seal: 'aes-256-gcm', keys: keyring() })) });
    await expect(other.read(put.key)).rejects.toMatchObject({ code: 'config_invalid', message: expect.stringMatching(/not in the key file/) as unknown });
    await expect(other.readStream(put.key)).rejects.toMatchObject({ code: 'config_invalid' });
    const none = new ReplicatedStore({ targets: fsTargets(ObjectEnvelope.plain()) });
    await expect(none.read(put.key)).rejects.toThrow(/no key file is configured/);
    // Verification without the key cannot vouch for the copies, and does not call them corrupt either.
    const unverified = await other.verifyAll(put.key, { sha256: put.sha256, size: bytes.length, retainUntil });
    expect(unverified.every((r) => !r.ok && r.problems.some((p) => /not verified/.test(p)))).toBe(true);
    // The same key id with other key material: the wrapped data key does not open.
    const impostor = parseStorageKeyFile(`${keys.activeKeyId}:${Buffer.alloc(32, 7).toString('base64')}\n`);
    await expect(fsTargets(new ObjectEnvelope({ seal: 'aes-256-gcm', keys: impostor }))[1]?.read(put.key)).rejects.toMatchObject({ problem: 'not_authentic' });
  });

  it('mixed archive and rotation: plain copies from before and copies under a retired key all read; SM4 round-trips', async () => {
    const plainBytes = content('before-encryption');
    const plainStore = new ReplicatedStore({ targets: fsTargets(ObjectEnvelope.plain()) });
    const plainPut = await plainStore.put(plainBytes, { retainUntil });
    expect((await fs.readFile(path.join(targets[0]?.root ?? '', ...plainPut.key.split('/')))).includes(MARKER)).toBe(true);

    const oldBytes = content('old-key');
    const oldPut = await store.put(oldBytes, { retainUntil });
    // Rotation: a new last line in the key file seals new objects; the old line stays to open old ones.
    const rotatedKeys = parseStorageKeyFile(`${keyFileText}${newStorageKeyLine(new Date(Date.now() + 86_400_000))}`);
    expect(rotatedKeys.activeKeyId).not.toBe(keys.activeKeyId);
    const rotated = new ObjectEnvelope({ seal: 'sm4', keys: rotatedKeys });
    const rotatedStore = new ReplicatedStore({ targets: fsTargets(rotated) });
    const newBytes = content('new-key-sm4');
    const newPut = await rotatedStore.put(newBytes, { retainUntil });
    const stored = await fs.readFile(path.join(targets[2]?.root ?? '', ...newPut.key.split('/')));
    expect(stored[9]).toBe(2); // the SM4 cipher in the header
    expect(stored.includes(Buffer.from(rotatedKeys.activeKeyId))).toBe(true);
    expect(stored.includes(MARKER)).toBe(false);

    for (const [put, bytes] of [[plainPut, plainBytes], [oldPut, oldBytes], [newPut, newBytes]] as const) {
      expect(Buffer.from(await rotatedStore.read(put.key)).equals(bytes)).toBe(true);
      expect(Buffer.from(await rotatedStore.readRange(put.key, 1000, 3000)).equals(bytes.subarray(1000, 4000))).toBe(true);
      const results = await rotatedStore.verifyAll(put.key, { sha256: put.sha256, size: bytes.length, retainUntil });
      expect(results.every((r) => r.ok)).toBe(true);
    }
    // The old copies were not rewritten by the rotation (they could not be: Object Lock on S3).
    expect((await fs.readFile(path.join(targets[0]?.root ?? '', ...oldPut.key.split('/'))))[9]).toBe(1);
  });

  it('seals thumbnails in the derived store and serves the JPEG; plain ones from before still read', async () => {
    const derivedDir = path.join(dir, 'derived');
    const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), MARKER, Buffer.alloc(500, 1)]);
    const sealed = createDerivedStore({ backend: 'fs', dir: derivedDir }, sealing);
    await sealed.prepare();
    await sealed.put('thumbnails/1.2.3.jpg', jpeg, 'image/jpeg');
    const onDisk = await fs.readFile(path.join(derivedDir, 'thumbnails', '1.2.3.jpg'));
    expect(onDisk.includes(MARKER)).toBe(false);
    expect((await sealed.get('thumbnails/1.2.3.jpg'))?.equals(jpeg)).toBe(true);
    await createDerivedStore({ backend: 'fs', dir: derivedDir }).put('thumbnails/old.jpg', jpeg, 'image/jpeg');
    expect((await sealed.get('thumbnails/old.jpg'))?.equals(jpeg)).toBe(true);
  });

  it('seals audit records (checkpoints, segments) too: ciphertext on disk, read opened, a re-put is no conflict, a plain one from before reads', async () => {
    const key = 'audit/test-chain/segments/00000000000000000001-00000000000000000002.ndjson';
    const record = Buffer.concat([Buffer.from('{"header":1}\n'), MARKER, Buffer.from('\n')]);
    const until = new Date(Date.now() + 200 * 86_400_000);
    const receipts = await Promise.all(targets.map((t) => t.putRecord(key, record, until)));
    expect(receipts.map((r) => r.created)).toEqual([true, true, true]);
    for (const t of targets) {
      const stored = await fs.readFile(path.join(t.root, ...key.split('/')));
      expect(isSealed(stored)).toBe(true);
      expect(stored.includes(MARKER)).toBe(false);
      expect(Buffer.from(await t.readRecord(key, null)).equals(record)).toBe(true);
    }
    // The keeper's retry after a crash seals anew: the same content is still the same record, other content is not.
    expect((await targets[0]!.putRecord(key, Buffer.from(record), until)).created).toBe(false);
    await expect(targets[0]!.putRecord(key, Buffer.from('other content'), until)).rejects.toMatchObject({ code: 'conflict' });
    // Written by a plain target (before this change, or with encryption off), read by a sealing one.
    const plainKey = 'audit/test-chain/checkpoints/0000000001.json';
    await new FsReplicaTarget({ name: 'fs-1', root: targets[0]!.root, envelope: ObjectEnvelope.plain() }).putRecord(plainKey, record, until);
    expect((await fs.readFile(path.join(targets[0]!.root, ...plainKey.split('/')))).includes(MARKER)).toBe(true);
    expect(Buffer.from(await targets[0]!.readRecord(plainKey, null)).equals(record)).toBe(true);
    expect((await targets[0]!.putRecord(plainKey, record, until)).created).toBe(false);
  });

  it('createObjectEnvelope: generates a 0600 key file in development, refuses a missing one otherwise, reads it with encryption off', async () => {
    const keyFile = path.join(dir, 'secrets', 'storage.keys');
    const made = createObjectEnvelope({ algorithm: 'aes-256-gcm', keyFile, generateMissing: true });
    expect(made.activeKeyId).toMatch(/^kek\d{8}-[0-9a-f]{6}$/);
    expect((await fs.stat(keyFile)).mode & 0o777).toBe(0o600);
    expect(createObjectEnvelope({ algorithm: 'aes-256-gcm', keyFile, generateMissing: true }).activeKeyId).toBe(made.activeKeyId);
    expect(() => createObjectEnvelope({ algorithm: 'sm4', keyFile: path.join(dir, 'nope.keys'), generateMissing: false })).toThrow(/does not exist \(STORAGE_KEY_FILE\)/);
    const off = createObjectEnvelope({ algorithm: 'off', keyFile, generateMissing: true });
    expect(off.sealing).toBeNull();
    expect(Buffer.from(await off.open(await made.seal(MARKER))).equals(MARKER)).toBe(true);
  });
});

const settings = s3TestSettings();

function rawClient(s: S3TestSettings): Minio.Client {
  const url = new URL(s.endpoint);
  return new Minio.Client({ endPoint: url.hostname, port: Number(url.port), useSSL: url.protocol === 'https:', accessKey: s.accessKey, secretKey: s.secretKey, region: s.region, pathStyle: true });
}

describeUnless(
  settings === null ? 'no S3 endpoint: S3_ENDPOINT/S3_ACCESS_KEY/S3_SECRET_KEY unset (start one with infra/ceph/up.sh)' : null,
  'encryption at rest on S3 Object Lock buckets (Ceph RGW)',
  () => {
    let s: S3TestSettings;
    let raw: Minio.Client;
    const keys = keyring();
    const run = uniqueBucketName('yy-enc');
    const buckets = ['a', 'b', 'c'].map((c) => `${run}-${c}`);
    const targetsWith = (envelope: ObjectEnvelope): S3ReplicaTarget[] =>
      buckets.map((bucket, i) => new S3ReplicaTarget({ name: `s3-${i + 1}`, endpoint: s.endpoint, accessKey: s.accessKey, secretKey: s.secretKey, region: s.region, bucket, envelope }));

    beforeAll(async () => {
      if (settings === null) return;
      s = settings;
      raw = rawClient(s);
      for (const t of targetsWith(ObjectEnvelope.plain())) await t.init();
    });

    it.each(['aes-256-gcm', 'sm4'] as const)('%s: the bucket holds ciphertext; reads, ranges, streams, verify and stat give the content', async (algorithm) => {
      const store = new ReplicatedStore({ targets: targetsWith(new ObjectEnvelope({ seal: algorithm, keys })) });
      const bytes = content(`s3-${algorithm}`);
      const put = await store.put(bytes, { retainUntil });
      for (const bucket of buckets) {
        const stored = Buffer.from(await streamToBytes(await raw.getObject(bucket, put.key)));
        expect(isSealed(stored)).toBe(true);
        expect(stored[9]).toBe(algorithm === 'sm4' ? 2 : 1);
        expect(stored.includes(MARKER)).toBe(false);
      }
      const versions = new Map(put.copies.map((c) => [c.target, c.versionId]));
      expect(Buffer.from(await store.read(put.key, { versions, expectedSize: bytes.length })).equals(bytes)).toBe(true);
      expect(Buffer.from(await store.readRange(put.key, 66_000, 4_000, { versions, expectedSize: bytes.length })).equals(bytes.subarray(66_000, 70_000))).toBe(true);
      const { stream } = await store.readStream(put.key, undefined, { versions, expectedSize: bytes.length });
      expect(Buffer.from(await streamToBytes(stream)).equals(bytes)).toBe(true);
      const results = await store.verifyAll(put.key, { sha256: put.sha256, size: bytes.length, retainUntil }, versions);
      expect(results.map((r) => [r.ok, r.problems])).toEqual([0, 1, 2].map(() => [true, []]));
      expect((await store.targets[0]?.stat(put.key))?.size).toBe(bytes.length);
      // Idempotent re-put: the locked version stays the copy (no second version).
      const again = await store.put(Buffer.from(bytes), { retainUntil });
      expect(again.copies.map((c) => c.versionId)).toEqual(put.copies.map((c) => c.versionId));
    });

    it('a tampered version is found by verify and never served; a missing key is a clear error', async () => {
      const envelope = new ObjectEnvelope({ seal: 'aes-256-gcm', keys });
      const store = new ReplicatedStore({ targets: targetsWith(envelope) });
      const bytes = content('s3-tamper');
      const put = await store.put(bytes, { retainUntil });
      const bucket = buckets[1] ?? '';
      const stored = Buffer.from(await streamToBytes(await raw.getObject(bucket, put.key)));
      stored.writeUInt8(stored.readUInt8(stored.length - 100) ^ 0x01, stored.length - 100);
      // Whoever holds the bucket's key can only add a version on top (the original is locked).
      await raw.putObject(bucket, put.key, stored, stored.length, { 'yunying-content-size': String(bytes.length) });
      const current = await store.verifyAll(put.key, { sha256: put.sha256, size: bytes.length, retainUntil });
      expect(current.map((r) => r.ok)).toEqual([true, false, true]);
      expect(current[1]?.problems).toContain('sealed copy does not authenticate (tampered or corrupt)');
      await expect(store.targets[1]?.read(put.key)).rejects.toMatchObject({ problem: 'not_authentic' });
      // Read by the recorded version, the copy is good, and the store never serves the damaged one.
      const versions = new Map(put.copies.map((c) => [c.target, c.versionId]));
      expect((await store.verifyAll(put.key, { sha256: put.sha256, size: bytes.length, retainUntil }, versions)).map((r) => r.ok)).toEqual([true, true, true]);
      expect(Buffer.from(await new ReplicatedStore({ targets: [1, 0, 2].map((i) => targetsWith(envelope)[i]).filter((t) => t !== undefined) }).read(put.key)).equals(bytes)).toBe(true);

      const stranger = new ReplicatedStore({ targets: targetsWith(new ObjectEnvelope({ seal: 'aes-256-gcm', keys: keyring() })) });
      await expect(stranger.read(put.key, { versions })).rejects.toMatchObject({ code: 'config_invalid', message: expect.stringMatching(/not in the key file/) as unknown });
    });

    it('plain copies written before encryption still read beside sealed ones (mixed bucket)', async () => {
      const plain = new ReplicatedStore({ targets: targetsWith(ObjectEnvelope.plain()) });
      const bytes = content('s3-plain');
      const put = await plain.put(bytes, { retainUntil });
      const sealed = new ReplicatedStore({ targets: targetsWith(new ObjectEnvelope({ seal: 'sm4', keys })) });
      expect(Buffer.from(await sealed.read(put.key)).equals(bytes)).toBe(true);
      expect(Buffer.from(await sealed.readRange(put.key, 10, 20)).equals(bytes.subarray(10, 30))).toBe(true);
      expect((await sealed.verifyAll(put.key, { sha256: put.sha256, size: bytes.length, retainUntil })).every((r) => r.ok)).toBe(true);
    });

    it('seals audit records in the buckets: ciphertext, read opened, a re-put keeps the one locked version', async () => {
      const targets = targetsWith(new ObjectEnvelope({ seal: 'aes-256-gcm', keys }));
      const key = 'audit/test-chain/segments/00000000000000000001-00000000000000000002.ndjson';
      const record = Buffer.concat([Buffer.from('{"header":1}\n'), MARKER, Buffer.from('\n')]);
      const until = new Date(Date.now() + 200 * 86_400_000);
      const receipts = await Promise.all(targets.map((t) => t.putRecord(key, record, until)));
      for (const [i, bucket] of buckets.entries()) {
        const stored = Buffer.from(await streamToBytes(await raw.getObject(bucket, key)));
        expect(isSealed(stored)).toBe(true);
        expect(stored.includes(MARKER)).toBe(false);
        expect(Buffer.from(await targets[i]!.readRecord(key, null)).equals(record)).toBe(true);
      }
      const again = await targets[1]!.putRecord(key, Buffer.from(record), until);
      expect(again).toMatchObject({ created: false, versionId: receipts[1]?.versionId });
      expect((await targets[1]!.listRecords(key)).filter((v) => !v.deleteMarker)).toHaveLength(1);
      await expect(targets[1]!.putRecord(key, Buffer.from('other content'), until)).rejects.toMatchObject({ code: 'conflict' });
    });

    it('seals thumbnails in the derived-objects bucket', async () => {
      const derived = createDerivedStore({ backend: 's3', endpoint: s.endpoint, bucket: `${run}-derived`, accessKey: s.accessKey, secretKey: s.secretKey, region: s.region }, new ObjectEnvelope({ seal: 'aes-256-gcm', keys }));
      await derived.prepare();
      const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8]), MARKER]);
      await derived.put('thumbnails/9.9.jpg', jpeg, 'image/jpeg');
      const stored = Buffer.from(await streamToBytes(await raw.getObject(`${run}-derived`, 'thumbnails/9.9.jpg')));
      expect(stored.includes(MARKER)).toBe(false);
      expect((await derived.get('thumbnails/9.9.jpg'))?.equals(jpeg)).toBe(true);
    });
  },
);
