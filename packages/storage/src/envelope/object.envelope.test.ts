import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { DATA_ALGORITHMS } from './envelope.aead';
import { newStorageKeyLine, parseStorageKeyFile, StorageKeyError } from './envelope.keys';
import { isSealed, ObjectEnvelope } from './object.envelope';

/**
 * The envelope format on its own (#17 at rest): both ciphers round-trip whole objects, streams and byte
 * ranges across segment borders; a changed byte anywhere, a cut or a lengthened object, a header edit and
 * a wrong or missing key all fail with StorageKeyError and never yield bytes; rotation keeps old objects
 * open; unsealed objects pass through.
 */
const SEGMENT_LOG2 = 12; // 4 KiB segments: small objects cross several borders
const oneKey = parseStorageKeyFile(newStorageKeyLine());

function envelope(seal: (typeof DATA_ALGORITHMS)[number] | null, keys = oneKey): ObjectEnvelope {
  return new ObjectEnvelope({ seal, keys, segmentLog2: SEGMENT_LOG2 });
}

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) parts.push(chunk);
  return Buffer.concat(parts);
}

/** Stored bytes fed as a stream in odd-sized chunks, as a socket delivers them. */
function chunked(bytes: Uint8Array, size = 1000): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(Buffer.from(bytes.subarray(i, i + size)));
  return Readable.from(parts);
}

function rawReader(stored: Uint8Array): (offset: number, length: number) => Promise<Uint8Array> {
  return (offset, length) => Promise.resolve(stored.subarray(offset, Math.min(stored.length, offset + length)));
}

describe.each(DATA_ALGORITHMS)('object envelope, %s', (algorithm) => {
  const content = crypto.randomBytes(3 * 4096 + 123);
  const env = envelope(algorithm);

  it('seals to bytes that are not the content and opens them whole, as a stream and by range', async () => {
    const stored = await env.seal(content);
    expect(isSealed(stored)).toBe(true);
    expect(Buffer.from(stored).includes(content.subarray(100, 132))).toBe(false);
    const tag = algorithm === 'sm4' ? 32 : 16;
    expect(stored.length).toBe(22 + oneKey.activeKeyId.length + (algorithm === 'sm4' ? 1 + 16 + 48 + 32 : 1 + 12 + 32 + 16) + content.length + 4 * tag);
    expect(Buffer.from(await env.open(stored)).equals(content)).toBe(true);
    expect((await collect(await env.openStream(chunked(stored)))).equals(content)).toBe(true);
    const digest = await env.digest(chunked(stored, 777));
    expect(digest).toEqual({ sha256: crypto.createHash('sha256').update(content).digest('hex'), size: content.length });
    expect(env.contentSize(stored.subarray(0, 22), stored.length)).toBe(content.length);
    for (const [offset, length] of [[0, 10], [4090, 20], [4096, 4096], [5000, 9000], [12_000, 10_000], [content.length, 5], [0, content.length]] as const) {
      const range = await env.openRange(rawReader(stored), offset, length);
      expect(range === null ? null : Buffer.from(range).equals(content.subarray(offset, offset + length))).toBe(true);
    }
  });

  it('seals once per buffer (the three copies share one ciphertext) and anew for another buffer', async () => {
    const a = await env.seal(content);
    expect(await env.seal(content)).toBe(a);
    expect(Buffer.from(await env.seal(Buffer.from(content))).equals(Buffer.from(a))).toBe(false);
  });

  it('hands the same ciphertext as pieces (sealParts) and forgets it once released', async () => {
    const own = Buffer.from(content);
    const parts = await env.sealParts(own);
    expect(parts.length).toBeGreaterThan(2);
    expect(await env.sealParts(own)).toBe(parts);
    const joined = Buffer.from(await env.seal(own));
    expect(joined.equals(Buffer.concat(parts))).toBe(true);
    expect(Buffer.from(await env.open(joined)).equals(own)).toBe(true);
    env.release(own);
    // Sealed anew: a fresh data key, so other bytes that open to the same content.
    const again = Buffer.from(await env.seal(own));
    expect(again.equals(joined)).toBe(false);
    expect(Buffer.from(await env.open(again)).equals(own)).toBe(true);
  });

  it('round-trips an empty object', async () => {
    const stored = await env.seal(Buffer.alloc(0));
    expect(isSealed(stored)).toBe(true);
    expect((await env.open(stored)).length).toBe(0);
  });

  it('detects a changed byte in any segment, in the header, a cut and an extension, and yields nothing unauthenticated', async () => {
    const stored = Buffer.from(await env.seal(content));
    const headerLength = stored.length - content.length - 4 * (algorithm === 'sm4' ? 32 : 16);
    for (const at of [headerLength + 5, headerLength + 4096 + 40, stored.length - 1, 16, headerLength - 3]) {
      const bad = Buffer.from(stored);
      bad[at] = (bad[at] ?? 0) ^ 0x01;
      await expect(env.open(bad)).rejects.toBeInstanceOf(StorageKeyError);
    }
    await expect(env.open(stored.subarray(0, stored.length - 10))).rejects.toMatchObject({ problem: 'malformed' });
    await expect(env.open(Buffer.concat([stored, Buffer.from('x')]))).rejects.toMatchObject({ problem: 'malformed' });
    // In a stream, the segments before the damaged one come out, the damaged one never does.
    const bad = Buffer.from(stored);
    const at = headerLength + 2 * (4096 + (algorithm === 'sm4' ? 32 : 16)) + 7;
    bad.writeUInt8(bad.readUInt8(at) ^ 0xff, at);
    const got: Buffer[] = [];
    const stream = await env.openStream(chunked(bad));
    await expect((async () => {
      for await (const chunk of stream as AsyncIterable<Buffer>) got.push(chunk);
    })()).rejects.toMatchObject({ problem: 'not_authentic' });
    expect(Buffer.concat(got).equals(content.subarray(0, 2 * 4096))).toBe(true);
    await expect(env.openRange(rawReader(bad), 2 * 4096 + 1, 2)).rejects.toMatchObject({ problem: 'not_authentic' });
  });

  it('refuses a wrong key and a missing key with a clear error, and opens after rotation with the retired key kept', async () => {
    const stored = await env.seal(content);
    const otherMaterial = parseStorageKeyFile(`${oneKey.activeKeyId}:${crypto.randomBytes(32).toString('base64')}\n`);
    await expect(envelope(algorithm, otherMaterial).open(stored)).rejects.toMatchObject({ problem: 'not_authentic', code: 'unprocessable' });
    const unknown = parseStorageKeyFile(newStorageKeyLine());
    await expect(envelope(algorithm, unknown).open(stored)).rejects.toMatchObject({ problem: 'key_unavailable', code: 'config_invalid' });
    await expect(envelope(algorithm, unknown).openStream(chunked(stored))).rejects.toMatchObject({ problem: 'key_unavailable' });
    await expect(new ObjectEnvelope({ seal: null, keys: null }).open(stored)).rejects.toThrow(/no key file is configured/);

    // Rotation: a new last line seals; the retired line still opens what it sealed.
    const text = `${newStorageKeyLine()}`;
    const rotatedFrom = parseStorageKeyFile(text);
    const before = envelope(algorithm, rotatedFrom);
    const sealedBefore = await before.seal(content);
    const rotated = parseStorageKeyFile(`${text}${newStorageKeyLine(new Date(Date.now() + 86_400_000))}`);
    const after = envelope(algorithm, rotated);
    expect(after.activeKeyId).not.toBe(before.activeKeyId);
    const sealedAfter = await after.seal(content);
    expect(Buffer.from(sealedAfter).includes(Buffer.from(rotated.activeKeyId))).toBe(true);
    expect(Buffer.from(await after.open(sealedBefore)).equals(content)).toBe(true);
    expect(Buffer.from(await after.open(sealedAfter)).equals(content)).toBe(true);
    await expect(before.open(sealedAfter)).rejects.toMatchObject({ problem: 'key_unavailable' });
  });
});

describe('object envelope, unsealed objects and encryption off', () => {
  it('passes unsealed objects through whole, as a stream and by range (null: read the range as it is)', async () => {
    const plain = Buffer.from('DICM and some bytes of a plain copy written before encryption');
    const env = envelope('aes-256-gcm');
    expect(Buffer.from(await env.open(plain)).equals(plain)).toBe(true);
    expect((await collect(await env.openStream(chunked(plain, 7)))).equals(plain)).toBe(true);
    expect(await env.openRange(rawReader(plain), 3, 4)).toBeNull();
    expect(env.contentSize(plain.subarray(0, 22), plain.length)).toBe(plain.length);
  });

  it('with encryption off stores content as it is, but refuses content that starts like a sealed object', async () => {
    const off = envelope(null);
    const plain = Buffer.from('plain');
    expect(await off.seal(plain)).toBe(plain);
    const lookalike = Buffer.from(await envelope('aes-256-gcm').seal(plain));
    await expect(off.seal(lookalike)).rejects.toMatchObject({ code: 'unprocessable' });
    expect(() => new ObjectEnvelope({ seal: 'sm4', keys: null })).toThrow(/no key/);
  });

  it('key file: the last line seals, ids and sizes are checked, and errors never show key bytes', () => {
    const line = newStorageKeyLine();
    const material = line.split(':')[1]?.trim() ?? '';
    expect(() => parseStorageKeyFile(`bad id:${material}\n`)).toThrow(/line 1/);
    expect(() => parseStorageKeyFile(`k1:${Buffer.alloc(16).toString('base64')}\n`)).toThrow(/32 bytes/);
    expect(() => parseStorageKeyFile(`${line}${line}`)).toThrow(/appears twice/);
    expect(() => parseStorageKeyFile('# only a comment\n')).toThrow(/holds no key/);
    try {
      parseStorageKeyFile(`k1:${material}\nk2:${Buffer.alloc(8).toString('base64')}\n`);
    } catch (error) {
      expect(String(error)).not.toContain(material);
    }
  });
});
