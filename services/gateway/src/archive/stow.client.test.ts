import { AuthRefusedError, RequestTooLargeError, TransientError } from './archive.errors';
import { backoffDelay } from './retry';
import { interpret, retryAfterMs } from './stow.client';

const files = [
  { path: 'a', size: 1, sopInstanceUid: '1.1' },
  { path: 'b', size: 1, sopInstanceUid: '1.2' },
  { path: 'c', size: 1, sopInstanceUid: '1.3' },
];

const referenced = (uid: string, state: string) => ({ '00081155': { vr: 'UI', Value: [uid] }, '00991010': { vr: 'CS', Value: [state] } });
const failed = (part: number, reason: string, uid?: string) => ({
  ...(uid ? { '00081155': { vr: 'UI', Value: [uid] } } : {}),
  '00081197': { vr: 'US', Value: [0xc000] },
  '00991011': { vr: 'LO', Value: [reason] },
  '00991012': { vr: 'LT', Value: [`part ${part}: why ${reason}`] },
});

describe('STOW-RS answer -> one outcome per file', () => {
  it('maps failed parts by number and referenced items to the remaining parts in order', () => {
    const body = { '00081198': { vr: 'SQ', Value: [failed(2, 'truncated')] }, '00081199': { vr: 'SQ', Value: [referenced('1.1', 'STORED'), referenced('1.3', 'ALREADY_STORED')] } };
    expect(interpret(202, {}, JSON.stringify(body), files)).toEqual([
      { kind: 'stored', status: 'STORED', sopInstanceUid: '1.1' },
      { kind: 'rejected', reason: 'truncated', failureReason: 0xc000, message: 'why truncated', sopInstanceUid: null },
      { kind: 'stored', status: 'ALREADY_STORED', sopInstanceUid: '1.3' },
    ]);
  });

  it('treats a part the archive could not store yet as one to send again', () => {
    const body = { '00081198': { vr: 'SQ', Value: [failed(1, 'storage_unavailable', '1.1')] }, '00081199': { vr: 'SQ', Value: [referenced('1.2', 'NEW_VERSION'), referenced('1.3', 'STORED')] } };
    expect(interpret(202, {}, JSON.stringify(body), files).map((o) => o.kind)).toEqual(['retry', 'stored', 'stored']);
  });

  it('refuses to guess when the answer does not line up with what was sent', () => {
    const body = { '00081199': { vr: 'SQ', Value: [referenced('9.9', 'STORED'), referenced('1.2', 'STORED'), referenced('1.3', 'STORED')] } };
    expect(() => interpret(200, {}, JSON.stringify(body), files)).toThrow(TransientError);
    expect(() => interpret(200, {}, JSON.stringify({ '00081199': { vr: 'SQ', Value: [] } }), files)).toThrow(TransientError);
  });

  it('classifies whole-request failures', () => {
    expect(() => interpret(401, {}, '{"error":{"message":"bad key"}}', files)).toThrow(AuthRefusedError);
    expect(() => interpret(413, {}, '', files)).toThrow(RequestTooLargeError);
    try {
      interpret(503, { 'retry-after': '7' }, '{}', files);
      throw new Error('not thrown');
    } catch (error) {
      expect(error).toBeInstanceOf(TransientError);
      expect((error as TransientError).retryAfterMs).toBe(7000);
    }
    expect(() => interpret(502, {}, 'bad gateway', files)).toThrow(TransientError);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(retryAfterMs('30')).toBe(30_000);
    expect(retryAfterMs(new Date(Date.now() + 10_000).toUTCString())).toBeGreaterThan(8_000);
    expect(retryAfterMs('soon')).toBeUndefined();
  });

  it('backs off exponentially with jitter, and never sooner than Retry-After', () => {
    const policy = { baseMs: 500, maxMs: 30_000 };
    expect(backoffDelay(policy, 0, undefined, () => 1)).toBe(500);
    expect(backoffDelay(policy, 3, undefined, () => 1)).toBe(4000);
    expect(backoffDelay(policy, 20, undefined, () => 1)).toBe(30_000);
    expect(backoffDelay(policy, 3, undefined, () => 0)).toBe(500);
    expect(backoffDelay(policy, 0, 12_000, () => 0.5)).toBe(12_000);
  });
});
