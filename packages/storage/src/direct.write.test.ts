import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '@yunying/core';
import { createTargetsFromConfig } from './config';
import { DIRECT_SLOT_BYTES, DirectWriter } from './direct.write';
import { FsReplicaTarget } from './fs.target';
import { objectKey, sha256Hex } from './keys';

const FUTURE = new Date('2045-01-01T00:00:00.000Z');

/** Bytes of `file` held in the page cache, as util-linux's fincore(1) counts them (not this code). */
function cachedBytes(file: string): number {
  return Number(execFileSync('fincore', ['--bytes', '--noheadings', '--raw', '--output', 'RES', file], { encoding: 'utf8' }).trim());
}

/** Whether the filesystem of `dir` takes O_DIRECT, asked with a plain open(2), not with the code under test. */
async function takesDirect(dir: string): Promise<boolean> {
  const probe = path.join(dir, 'probe');
  try {
    const handle = await fs.open(probe, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_DIRECT);
    await handle.close();
    return true;
  } catch {
    return false;
  } finally {
    await fs.rm(probe, { force: true });
  }
}

/** `bytes` cut into pieces of the given lengths (the last one takes the rest), as a sealed object's segments are. */
function cut(bytes: Uint8Array, lengths: number[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let at = 0;
  for (const n of lengths) {
    pieces.push(bytes.subarray(at, Math.min(bytes.length, at + n)));
    at += n;
  }
  pieces.push(bytes.subarray(Math.min(at, bytes.length)));
  return pieces;
}

describe('O_DIRECT object files (#14)', () => {
  let dir: string;
  let direct: boolean;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'yunying-direct-'));
    direct = await takesDirect(dir);
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('writes every byte and exactly the length, for sizes on and off the block and slot edges, without filling the page cache', async () => {
    const writer = new DirectWriter();
    const sizes = [256 * 1024, 256 * 1024 + 1, DIRECT_SLOT_BYTES - 1, DIRECT_SLOT_BYTES, DIRECT_SLOT_BYTES + 4097, 3 * DIRECT_SLOT_BYTES + 123];
    for (const size of sizes) {
      const bytes = randomBytes(size);
      const file = path.join(dir, `f${size}`);
      // Pieces of odd lengths, so slots begin inside pieces and pieces span slots.
      const written = await writer.writeNewFile(file, cut(bytes, [77, 300_001, 5, DIRECT_SLOT_BYTES + 3]), 0o440);
      expect(written).toBe(direct);
      if (!direct) {
        await expect(fs.stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
        continue;
      }
      const st = await fs.stat(file);
      expect(st.size).toBe(size);
      expect(st.mode & 0o777).toBe(0o440);
      // Not copied through the page cache: no page of it is resident before it is read.
      expect(cachedBytes(file)).toBe(0);
      expect(sha256Hex(await fs.readFile(file))).toBe(sha256Hex(bytes));
    }
  });

  it('never replaces a file that is there (O_EXCL), and a refusal leaves nothing behind', async () => {
    const writer = new DirectWriter();
    const file = path.join(dir, 'there');
    await fs.writeFile(file, 'kept');
    await expect(writer.writeNewFile(file, [randomBytes(300_000)], 0o440)).rejects.toMatchObject({ code: 'EEXIST' });
    expect(await fs.readFile(file, 'utf8')).toBe('kept');
    // Lengths that are not whole blocks (every block device's are multiples of 512): the kernel refuses
    // the write (EINVAL) and the file is removed.
    const refused = new DirectWriter({ alignment: 1000 });
    expect(await refused.writeNewFile(path.join(dir, 'refused'), [randomBytes(300_000)], 0o440)).toBe(false);
    expect(await fs.readdir(dir)).toEqual(['there']);
  });

  it('bounds the staging memory: more writes at once than slots wait their turn and all complete', async () => {
    const writer = new DirectWriter({ slots: 2 });
    const objects = Array.from({ length: 12 }, () => randomBytes(DIRECT_SLOT_BYTES + 1000));
    const results = await Promise.all(objects.map((bytes, i) => writer.writeNewFile(path.join(dir, `o${i}`), [bytes], 0o440)));
    expect(results.every((r) => r === direct)).toBe(true);
    if (!direct) return;
    for (const [i, bytes] of objects.entries()) expect(sha256Hex(await fs.readFile(path.join(dir, `o${i}`)))).toBe(sha256Hex(bytes));
  });

  it('three copies of one object written at once share what is staged; copies written one after another are staged each time', async () => {
    const bytes = randomBytes(3 * DIRECT_SLOT_BYTES + 4097);
    const pieces = cut(bytes, [65_000, 70_000, DIRECT_SLOT_BYTES]);
    const atOnce = new DirectWriter();
    expect(await Promise.all([0, 1, 2].map((i) => atOnce.writeNewFile(path.join(dir, `a${i}`), pieces, 0o440)))).toEqual([direct, direct, direct]);
    const oneByOne = new DirectWriter();
    for (const i of [0, 1, 2]) expect(await oneByOne.writeNewFile(path.join(dir, `b${i}`), pieces, 0o440)).toBe(direct);
    // A plaintext copy's pieces are a new one-element array per replica around the same content buffer.
    const plain = new DirectWriter();
    expect(await Promise.all([0, 1, 2].map((i) => plain.writeNewFile(path.join(dir, `c${i}`), [bytes], 0o440)))).toEqual([direct, direct, direct]);
    if (!direct) return;
    // Sharing is opportunistic (a copy that comes after the others let go of a part stages it again), so at
    // once is "less than three times", and one after another is exactly three times.
    expect(atOnce.stagedBytes).toBeGreaterThanOrEqual(bytes.length);
    expect(atOnce.stagedBytes).toBeLessThan(3 * bytes.length);
    expect(oneByOne.stagedBytes).toBe(3 * bytes.length);
    expect(plain.stagedBytes).toBeLessThan(3 * bytes.length);
    for (const name of ['a0', 'a1', 'a2', 'b0', 'b1', 'b2', 'c0', 'c1', 'c2']) {
      const file = path.join(dir, name);
      expect(cachedBytes(file)).toBe(0);
      expect(sha256Hex(await fs.readFile(file))).toBe(sha256Hex(bytes));
    }
  });

  it('shares staged parts under slot pressure without waiting on itself: three copies each of five objects on two slots', async () => {
    const writer = new DirectWriter({ slots: 2 });
    const objects = Array.from({ length: 5 }, () => randomBytes(2 * DIRECT_SLOT_BYTES + 100));
    const writes = objects.flatMap((bytes, o) => [0, 1, 2].map((copy) => writer.writeNewFile(path.join(dir, `o${o}-${copy}`), [bytes], 0o440)));
    const results = await Promise.all(writes);
    expect(results.every((r) => r === direct)).toBe(true);
    if (!direct) return;
    for (const [o, bytes] of objects.entries()) {
      for (const copy of [0, 1, 2]) expect(sha256Hex(await fs.readFile(path.join(dir, `o${o}-${copy}`)))).toBe(sha256Hex(bytes));
    }
    // Fewer staged bytes than three copies' worth: some parts were shared (how many depends on the scheduling).
    expect(writer.stagedBytes).toBeLessThan(3 * objects.length * objects[0]!.length);
    expect(writer.stagedBytes).toBeGreaterThanOrEqual(objects.length * objects[0]!.length);
  });

  it('a replica writes large objects directly and small ones and sidecars through the page cache', async () => {
    const target = new FsReplicaTarget({ name: 'fs-1', root: path.join(dir, 'disk1') });
    await target.init();
    const put = async (bytes: Uint8Array): Promise<string> => {
      const sha256 = sha256Hex(bytes);
      const key = objectKey(sha256);
      await target.put(key, bytes, { sha256, size: bytes.length, retainUntil: FUTURE, legalHold: false });
      return path.join(target.root, ...key.split('/'));
    };
    const large = randomBytes(1_512_345);
    const largeFile = await put(large);
    const smallFile = await put(randomBytes(100_000));
    if (direct) expect(cachedBytes(largeFile)).toBe(0);
    else expect(cachedBytes(largeFile)).toBeGreaterThan(0);
    expect(cachedBytes(smallFile)).toBeGreaterThan(0);
    expect(cachedBytes(`${largeFile}.lock.json`)).toBeGreaterThan(0);
    expect(sha256Hex(Buffer.from(await target.read(objectKey(sha256Hex(large)))))).toBe(sha256Hex(large));
  });

  it('a replica whose writes are refused says so once and goes on through the page cache, losing nothing', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', service: 'storage-test', format: 'json', destination: { write: (line: string) => lines.push(line) } });
    const target = new FsReplicaTarget({ name: 'fs-1', root: path.join(dir, 'disk1'), directIo: new DirectWriter({ alignment: 1000 }), logger });
    await target.init();
    for (let i = 0; i < 3; i++) {
      const bytes = randomBytes(400_000);
      const sha256 = sha256Hex(bytes);
      const key = objectKey(sha256);
      await target.put(key, bytes, { sha256, size: bytes.length, retainUntil: FUTURE, legalHold: false });
      expect(sha256Hex(Buffer.from(await target.read(key)))).toBe(sha256);
      const file = path.join(target.root, ...key.split('/'));
      // Through the page cache: resident once written.
      expect(cachedBytes(file)).toBeGreaterThan(0);
      // No temporary file left beside it.
      expect((await fs.readdir(path.dirname(file))).filter((n) => n.includes('.tmp-'))).toEqual([]);
    }
    const warnings = lines.filter((l) => l.includes('refuses O_DIRECT'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('"replica":"fs-1"');
  });

  it('STORAGE_FS_DIRECT_IO=false (directIo false in the settings) writes large objects through the page cache', async () => {
    const [target] = createTargetsFromConfig({ kind: 'fs', roots: ['a', 'b', 'c'].map((r) => path.join(dir, r)), directIo: false });
    if (!target) throw new Error('no target');
    await target.init();
    const bytes = randomBytes(1_000_000);
    const sha256 = sha256Hex(bytes);
    const key = objectKey(sha256);
    await target.put(key, bytes, { sha256, size: bytes.length, retainUntil: FUTURE, legalHold: false });
    expect(cachedBytes(path.join(dir, 'a', ...key.split('/')))).toBeGreaterThan(0);
  });
});
