import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AppError } from '@yunying/core';
import { objectKey, sha256Hex } from './keys';
import { ReplicatedStore } from './replicated.store';
import { FsReplicaTarget } from './fs.target';
import type { CopyMeta } from './target';
import { waitFor } from '../../../test/support/wait';
import { takeFsTargetOffline, tempFsTargets, type TempFsTargets } from './testing';

const FUTURE = new Date('2045-01-01T00:00:00.000Z');

function fileOf(target: FsReplicaTarget, key: string): string {
  return path.join(target.root, ...key.split('/'));
}

async function expectAppError(promise: Promise<unknown>, code: string): Promise<AppError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(code);
  return error as AppError;
}

describe('ReplicatedStore over three fs targets', () => {
  let temp: TempFsTargets;
  let store: ReplicatedStore;

  beforeEach(async () => {
    temp = await tempFsTargets();
    store = new ReplicatedStore({ targets: temp.targets });
  });
  afterEach(async () => {
    await temp.cleanup();
  });

  it('records the origin with every copy, keeps the first one, lists objects only, and a repaired copy carries the origin (#18)', async () => {
    const origin = { clinicId: '0b8f5b5e-3f1a-4c39-9d7e-2a6f1b0c9d11', clinicCode: 'demo-clinic', receivedAt: new Date('2026-01-02T03:04:05.678Z') };
    const bytes = randomBytes(5000);
    const { key } = await store.put(bytes, { retainUntil: FUTURE, origin });
    const plain = await store.put(randomBytes(3000), { retainUntil: FUTURE });
    // A later put of the same bytes with another origin changes nothing: the first sender stays recorded.
    await store.put(bytes, { retainUntil: FUTURE, origin: { ...origin, clinicCode: 'other-clinic', receivedAt: new Date() } });
    for (const target of temp.targets) {
      expect((await target.stat(key))?.origin).toEqual(origin);
      expect((await target.stat(plain.key))?.origin).toBeNull();
      const listed = [];
      for await (const object of target.list()) listed.push(object);
      // Sidecars and the marker are not objects.
      expect(listed).toEqual([{ key, size: 5000 }, { key: plain.key, size: 3000 }].sort((a, b) => a.key.localeCompare(b.key)));
    }
    const [first, second] = temp.targets;
    if (!first || !second) throw new Error('targets');
    await fs.chmod(fileOf(second, key), 0o640);
    await fs.unlink(fileOf(second, key));
    await fs.unlink(`${fileOf(second, key)}.lock.json`);
    await store.repairCopy(key, first.name, second.name, { sha256: sha256Hex(bytes), size: bytes.length, retainUntil: FUTURE });
    expect((await second.stat(key))?.origin).toEqual(origin);
  });

  it('writes three read-only copies with matching SHA-256 and retain-until', async () => {
    const bytes = randomBytes(100_000);
    const result = await store.put(bytes, { retainUntil: FUTURE });
    expect(result.sha256).toBe(sha256Hex(bytes));
    expect(result.key).toBe(objectKey(result.sha256));
    expect(result.failed).toEqual([]);
    expect(result.copies.map((c) => c.target).sort()).toEqual(['fs-1', 'fs-2', 'fs-3']);
    for (const target of temp.targets) {
      const file = fileOf(target, result.key);
      const st = await fs.stat(file);
      expect(st.mode & 0o777).toBe(0o440);
      expect((await fs.stat(path.dirname(file))).mode & 0o777).toBe(0o750);
      expect(sha256Hex(await fs.readFile(file))).toBe(result.sha256);
      const copy = await target.stat(result.key);
      expect(copy?.retainUntil?.toISOString()).toBe(FUTURE.toISOString());
      expect(copy?.lockMode).toBe('FS_READONLY');
      const sidecar = await fs.stat(`${file}.lock.json`);
      expect(sidecar.mode & 0o777).toBe(0o440);
      const verified = await target.verify(result.key, { sha256: result.sha256, size: bytes.length, retainUntil: FUTURE });
      expect(verified).toMatchObject({ ok: true, exists: true, sizeOk: true, sha256Ok: true, lockOk: true, problems: [] });
    }
  });

  it('makes the first fan-out level at init and leaves only the object and its sidecar in the leaf directory', async () => {
    const [target] = temp.targets;
    expect((await fs.readdir(path.join(target!.root, 'sha256'))).length).toBe(256);
    const bytes = randomBytes(5000);
    const { key } = await store.put(bytes, { retainUntil: FUTURE });
    const hex = sha256Hex(bytes);
    expect((await fs.readdir(path.dirname(fileOf(target!, key)))).sort()).toEqual([hex, `${hex}.lock.json`]);
  });

  it('replaces a sidecar cut short by a crash (no data file beside it) on the next put', async () => {
    const bytes = randomBytes(3000);
    const key = objectKey(sha256Hex(bytes));
    for (const target of temp.targets) {
      const file = fileOf(target, key);
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.writeFile(`${file}.lock.json`, '{"v":1,"sha', { mode: 0o440 });
    }
    const result = await store.put(bytes, { retainUntil: FUTURE });
    expect(result.failed).toEqual([]);
    for (const target of temp.targets) {
      expect(await target.verify(key, { sha256: result.sha256, size: bytes.length, retainUntil: FUTURE })).toMatchObject({ ok: true });
    }
  });

  it('gives a data file whose sidecar was lost a new sidecar, keeps it when it is good and replaces it when it is corrupt', async () => {
    const bytes = randomBytes(4000);
    const { key } = await store.put(bytes, { retainUntil: FUTURE });
    const [good, corrupt] = temp.targets;
    const goodFile = fileOf(good!, key);
    const corruptFile = fileOf(corrupt!, key);
    for (const file of [goodFile, corruptFile]) await fs.rm(`${file}.lock.json`);
    await fs.chmod(corruptFile, 0o640);
    await fs.writeFile(corruptFile, randomBytes(4000));
    const goodInode = (await fs.stat(goodFile)).ino;
    const corruptInode = (await fs.stat(corruptFile)).ino;

    const later = new Date('2050-01-01T00:00:00.000Z');
    const result = await store.put(bytes, { retainUntil: later });
    expect(result.failed).toEqual([]);
    for (const target of [good!, corrupt!]) {
      expect(await target.verify(key, { sha256: result.sha256, size: bytes.length, retainUntil: later })).toMatchObject({ ok: true });
    }
    // The good copy is the same file (never replaced), the corrupt one a new file.
    expect((await fs.stat(goodFile)).ino).toBe(goodInode);
    expect((await fs.stat(corruptFile)).ino).not.toBe(corruptInode);
    expect((await fs.readdir(path.dirname(goodFile))).sort()).toEqual([result.sha256, `${result.sha256}.lock.json`]);
  });

  it('writes again into a leaf directory that disappeared after an earlier put (a replaced disk)', async () => {
    const first = randomBytes(2000);
    const { key } = await store.put(first, { retainUntil: FUTURE });
    const [target] = temp.targets;
    const leaf = path.dirname(fileOf(target!, key));
    await fs.chmod(path.join(leaf, sha256Hex(first)), 0o640);
    await fs.rm(leaf, { recursive: true, force: true });
    const result = await store.put(first, { retainUntil: FUTURE });
    expect(result.failed).toEqual([]);
    expect(await target!.verify(key, { sha256: result.sha256, size: first.length, retainUntil: FUTURE })).toMatchObject({ ok: true });
  });

  it('refuses deletes before retain-until on every target, whatever `now` is passed', async () => {
    const { key } = await store.put(randomBytes(1000), { retainUntil: FUTURE });
    for (const target of temp.targets) {
      await expectAppError(target.remove(key, new Date()), 'retention_locked');
      // A `now` after retain-until is not believed: it is clipped to the system clock.
      await expectAppError(target.remove(key, new Date('2100-01-01T00:00:00Z')), 'retention_locked');
      expect(await target.stat(key)).not.toBeNull();
    }
  });

  it('deletes after retain-until, but never under legal hold', async () => {
    const past = new Date('2001-01-01T00:00:00Z'); // only tests write a past date
    const held = await store.put(Buffer.from('held'), { retainUntil: past, legalHold: true });
    const free = await store.put(Buffer.from('free'), { retainUntil: past });
    const target = temp.targets[0]!;
    await expectAppError(target.remove(held.key, new Date()), 'retention_locked');
    expect(await target.stat(held.key)).not.toBeNull();
    await target.setLegalHold(held.key, false);
    await target.remove(held.key, new Date());
    expect(await target.stat(held.key)).toBeNull();

    await target.setLegalHold(free.key, true);
    await expectAppError(target.remove(free.key, new Date()), 'retention_locked');
    expect((await target.stat(free.key))?.legalHold).toBe(true);
  });

  it('is idempotent and never shortens retention or lifts a legal hold on a re-put', async () => {
    const bytes = randomBytes(5000);
    const first = await store.put(bytes, { retainUntil: FUTURE, legalHold: true });
    const mtime = (await fs.stat(fileOf(temp.targets[1]!, first.key))).mtimeMs;
    const again = await store.put(bytes, { retainUntil: new Date('2040-01-01T00:00:00Z') });
    expect(again.key).toBe(first.key);
    expect(again.copies).toHaveLength(3);
    for (const copy of again.copies) {
      expect(copy.retainUntil.toISOString()).toBe(FUTURE.toISOString());
      expect(copy.legalHold).toBe(true);
    }
    expect((await fs.stat(fileOf(temp.targets[1]!, first.key))).mtimeMs).toBe(mtime);
    const longer = await store.put(bytes, { retainUntil: new Date('2050-01-01T00:00:00Z') });
    expect(longer.copies.every((c) => c.retainUntil.toISOString() === '2050-01-01T00:00:00.000Z')).toBe(true);
  });

  it('starts with the write quorum prepared while one target is unreachable, and prepares it once it is back (#18)', async () => {
    // The third disk's mount point is a file: preparing it fails as an unmounted or unreachable target does.
    const mountPoint = path.join(temp.dir, 'unmounted');
    await fs.writeFile(mountPoint, 'not a directory');
    const late = new FsReplicaTarget({ name: 'fs-late', root: path.join(mountPoint, 'disk') });
    const targets = [temp.targets[0] as FsReplicaTarget, temp.targets[1] as FsReplicaTarget, late];
    await expectAppError(new ReplicatedStore({ targets }).init(20), 'unavailable');

    const degraded = new ReplicatedStore({ targets, writeQuorum: 2 });
    await degraded.init(20);
    try {
      expect(degraded.unpreparedTargets()).toEqual(['fs-late']);
      const during = await degraded.put(randomBytes(300), { retainUntil: FUTURE });
      expect(during.copies.map((c) => c.target).sort()).toEqual(['fs-1', 'fs-2']);
      expect(during.failed.map((f) => f.target)).toEqual(['fs-late']);

      await fs.rm(mountPoint);
      await fs.mkdir(mountPoint);
      await waitFor('the late target prepared in the background', () => Promise.resolve(degraded.unpreparedTargets().length === 0), 10_000);
      const after = await degraded.put(randomBytes(300), { retainUntil: FUTURE });
      expect(after.copies.map((c) => c.target).sort()).toEqual(['fs-1', 'fs-2', 'fs-late']);
    } finally {
      degraded.stopPreparing();
    }
  });

  it('refuses to start when a target is misconfigured, whatever the quorum', async () => {
    // A second target configured on the first one's root would make three copies two.
    const twin = new FsReplicaTarget({ name: 'fs-twin', root: (temp.targets[0] as FsReplicaTarget).root });
    const targets = [temp.targets[1] as FsReplicaTarget, temp.targets[2] as FsReplicaTarget, twin];
    await expectAppError(new ReplicatedStore({ targets, writeQuorum: 2 }).init(20), 'config_invalid');
  });

  it('with quorum 3 and one target down, refuses with a retryable unavailable naming the failed target', async () => {
    const restore = await takeFsTargetOffline(temp.targets[2]!);
    const bytes = randomBytes(2000);
    const error = await expectAppError(store.put(bytes, { retainUntil: FUTURE }), 'unavailable');
    expect(error.retryable).toBe(true);
    expect(error.retryAfterSeconds).toBeGreaterThan(0);
    expect(error.message).toMatch(/quorum not met: 2 of 3/);
    expect(error.details).toMatchObject({ durable: ['fs-1', 'fs-2'], failed: [{ target: 'fs-3' }] });
    await restore();
    // The retry re-uses the two copies that landed and completes the third.
    const retry = await store.put(bytes, { retainUntil: FUTURE });
    expect(retry.copies).toHaveLength(3);
  });

  it('with quorum 2 and one target down, accepts; the third copy is completed when the target returns', async () => {
    const store2 = new ReplicatedStore({ targets: temp.targets, writeQuorum: 2 });
    const restore = await takeFsTargetOffline(temp.targets[1]!);
    expect((await store2.probe()).down.map((d) => d.target)).toEqual(['fs-2']);
    const bytes = randomBytes(3000);
    const result = await store2.put(bytes, { retainUntil: FUTURE });
    expect(result.copies.map((c) => c.target)).toEqual(['fs-1', 'fs-3']);
    expect(result.failed.map((f) => f.target)).toEqual(['fs-2']);
    expect(result.failed[0]?.reason).toMatch(/not available/);
    const meta = { sha256: result.sha256, size: result.size, retainUntil: FUTURE };
    const whileDown = await store2.completeCopies(result.key, meta);
    expect(whileDown.failed.map((f) => f.target)).toEqual(['fs-2']);
    await restore();
    expect((await store2.probe()).down).toEqual([]);
    const completed = await store2.completeCopies(result.key, meta);
    expect(completed.repaired.map((r) => r.target)).toEqual(['fs-2']);
    expect(completed.failed).toEqual([]);
    expect((await temp.targets[1]!.verify(result.key, meta)).ok).toBe(true);
  });

  it('repairs a deleted copy and a corrupted copy from a verified good one, with the same retain-until', async () => {
    const bytes = randomBytes(50_000);
    const { key, sha256, size } = await store.put(bytes, { retainUntil: FUTURE });
    const meta = { sha256, size, retainUntil: FUTURE };
    const [t1, t2, t3] = temp.targets as [FsReplicaTarget, FsReplicaTarget, FsReplicaTarget];
    // Damage done outside the store (rm by an operator, bit rot).
    await fs.unlink(fileOf(t2, key));
    const corrupt = Buffer.from(bytes);
    corrupt[1234] = (corrupt[1234] ?? 0) ^ 0xff;
    await fs.chmod(fileOf(t3, key), 0o644);
    await fs.writeFile(fileOf(t3, key), corrupt);
    expect((await t2.verify(key, meta)).problems).toEqual(['copy missing']);
    expect((await t3.verify(key, meta)).sha256Ok).toBe(false);

    // A corrupt source is refused.
    await expectAppError(store.repairCopy(key, t3.name, t2.name, meta), 'conflict');

    const receipt = await store.repairCopy(key, t1.name, t2.name, meta);
    expect(receipt.retainUntil.toISOString()).toBe(FUTURE.toISOString());
    const done = await store.completeCopies(key, meta);
    expect(done.repaired.map((r) => r.target)).toEqual(['fs-3']);
    for (const target of temp.targets) {
      expect(await target.verify(key, meta)).toMatchObject({ ok: true, retainUntil: FUTURE });
      expect((await fs.stat(fileOf(target, key))).mode & 0o777).toBe(0o440);
    }
  });

  it('reads whole objects and exact byte ranges, skipping a damaged copy', async () => {
    const bytes = randomBytes(200_000);
    const { key } = await store.put(bytes, { retainUntil: FUTURE });
    const t1 = temp.targets[0]!;
    await fs.chmod(fileOf(t1, key), 0o644);
    // Truncated copy on the first target: a whole read skips it by hash, a ranged read by size.
    await fs.writeFile(fileOf(t1, key), bytes.subarray(0, 150_000));
    expect(Buffer.compare(await store.read(key), bytes)).toBe(0);
    const range = await store.readRange(key, 123_456, 7_000, { expectedSize: bytes.length });
    expect(Buffer.compare(range, bytes.subarray(123_456, 130_456))).toBe(0);
    const tail = await temp.targets[1]!.readRange(key, bytes.length - 10, 100);
    expect(Buffer.compare(tail, bytes.subarray(bytes.length - 10))).toBe(0);
    const { stream } = await store.readStream(key, { offset: 10, length: 20 }, { expectedSize: bytes.length });
    const chunks: Buffer[] = [];
    for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
    expect(Buffer.concat(chunks).equals(bytes.subarray(10, 30))).toBe(true);
    await expectAppError(store.read(objectKey(sha256Hex(Buffer.from('never stored')))), 'not_found');
  });

  it('refuses configurations that would not give three independent copies', async () => {
    expect(() => new ReplicatedStore({ targets: temp.targets.slice(0, 2) })).toThrow(AppError);
    expect(() => new ReplicatedStore({ targets: temp.targets, writeQuorum: 4 })).toThrow(AppError);
    expect(() => new ReplicatedStore({ targets: temp.targets, writeQuorum: 0 })).toThrow(AppError);
    const twin = new FsReplicaTarget({ name: 'fs-9', root: temp.targets[0]!.root });
    await expectAppError(twin.init(), 'config_invalid');
    const strict = new FsReplicaTarget({ name: 'fs-x', root: path.join(temp.dir, 'not-mounted'), createRoot: false });
    await expectAppError(strict.init(), 'unavailable');
  });
});

describe('fs target with its leaf directories made ahead (#14)', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'yy-leaves-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const meta = (bytes: Buffer): CopyMeta => ({ sha256: sha256Hex(bytes), size: bytes.length, retainUntil: FUTURE, legalHold: false });

  it('makes every leaf at the first init of a new root and records it beside the root’s name and creation time', async () => {
    const root = path.join(dir, 'new');
    await new FsReplicaTarget({ name: 'fs-2', root, leafDirs: 'ahead' }).init();
    expect(JSON.parse(await fs.readFile(path.join(root, '.yunying-replica.json'), 'utf8'))).toEqual({ name: 'fs-2', createdAt: expect.any(String), leafDirs: 'made' });
    expect((await fs.readdir(path.join(root, 'sha256', 'c3'))).length).toBe(256);
  });

  it('makes every leaf once, beside the objects already there, and records it; a leaf lost later is made again by the put that needs it', async () => {
    const root = path.join(dir, 'disk1');
    // An archive that began with leaves on demand: one object, so one leaf.
    const early = randomBytes(3000);
    const lazy = new FsReplicaTarget({ name: 'fs-1', root });
    await lazy.init();
    await lazy.put(objectKey(sha256Hex(early)), early, meta(early));
    const sha256Dir = path.join(root, 'sha256');
    expect((await fs.readdir(path.join(sha256Dir, sha256Hex(early).slice(0, 2)))).length).toBe(1);

    const ahead = new FsReplicaTarget({ name: 'fs-1', root, leafDirs: 'ahead' });
    await ahead.init();
    for (const first of ['00', '7f', 'ff', sha256Hex(early).slice(0, 2)]) expect((await fs.readdir(path.join(sha256Dir, first))).length).toBe(256);
    const marker = JSON.parse(await fs.readFile(path.join(root, '.yunying-replica.json'), 'utf8')) as { name: string; leafDirs: string };
    expect(marker).toMatchObject({ name: 'fs-1', createdAt: expect.any(String), leafDirs: 'made' });
    expect(await ahead.verify(objectKey(sha256Hex(early)), { sha256: sha256Hex(early), size: early.length, retainUntil: FUTURE })).toMatchObject({ ok: true });

    // A leaf removed behind the archive's back: the next init trusts the marker and makes nothing...
    const later = randomBytes(3000);
    const hex = sha256Hex(later);
    const leaf = path.join(sha256Dir, hex.slice(0, 2), hex.slice(2, 4));
    await fs.rm(leaf, { recursive: true, force: true });
    const restarted = new FsReplicaTarget({ name: 'fs-1', root, leafDirs: 'ahead' });
    await restarted.init();
    await expect(fs.stat(leaf)).rejects.toMatchObject({ code: 'ENOENT' });
    // ...and the put that needs it makes it again and stores its copy.
    await restarted.put(objectKey(hex), later, meta(later));
    expect(await restarted.verify(objectKey(hex), { sha256: hex, size: later.length, retainUntil: FUTURE })).toMatchObject({ ok: true });
    expect((await fs.readdir(leaf)).sort()).toEqual([hex, `${hex}.lock.json`]);
  });
});
