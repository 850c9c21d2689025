import crypto from 'node:crypto';
import { createDigest, digest, isDigestAlgorithm, mac, sameDigest } from './digest';

describe('digest and MAC helpers (SHA-256, SM3)', () => {
  // GB/T 32905-2016 Appendix A, examples 1 and 2.
  it.each([
    ['abc', '66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0'],
    ['abcd'.repeat(16), 'debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732'],
  ])('SM3(%j) is the standard test vector', (input, expected) => {
    expect(digest('sm3', input).toString('hex')).toBe(expected);
  });

  it('streams to the same digest as one call', () => {
    const h = createDigest('sm3');
    h.update('ab');
    h.update('c');
    expect(h.digest().equals(digest('sm3', 'abc'))).toBe(true);
  });

  it('HMAC-SM3 is the RFC 2104 construction over SM3 (64-byte blocks)', () => {
    const key = Buffer.from('a key for the audit chain');
    const block = Buffer.concat([key, Buffer.alloc(64 - key.length)]);
    const xor = (pad: number): Buffer => Buffer.from(block.map((b) => b ^ pad));
    const inner = digest('sm3', Buffer.concat([xor(0x36), Buffer.from('record')]));
    const expected = digest('sm3', Buffer.concat([xor(0x5c), inner]));
    expect(mac('sm3', key, 'record').equals(expected)).toBe(true);
    expect(mac('sm3', key, 'record').equals(mac('sha256', key, 'record'))).toBe(false);
  });

  it('compares in constant time and refuses different lengths', () => {
    const a = digest('sha256', 'x');
    expect(sameDigest(a, Buffer.from(a))).toBe(true);
    expect(sameDigest(a, a.subarray(0, 31))).toBe(false);
    expect(sameDigest(a, crypto.randomBytes(32))).toBe(false);
  });

  it('knows its algorithms', () => {
    expect(isDigestAlgorithm('sm3')).toBe(true);
    expect(isDigestAlgorithm('md5')).toBe(false);
  });
});
