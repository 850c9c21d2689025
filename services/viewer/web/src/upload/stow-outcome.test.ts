import { describe, expect, test } from '@jest/globals';
import { fileResults, parseStowResponse, retryable, retryDelayMs } from './stow-outcome';

// How the upload page reads a STOW-RS answer back onto its files (services/viewer/web/src/upload):
// pure functions, no browser. The body below has the shape services/ingest/src/stow/stow.response.ts writes.
function failed(part: number, message: string): Record<string, { vr: string; Value?: unknown[] }> {
  return {
    '00081150': { vr: 'UI' },
    '00081155': { vr: 'UI' },
    '00081197': { vr: 'US', Value: [49442] },
    '00990010': { vr: 'LO', Value: ['YUNYING 1.0'] },
    '00991011': { vr: 'LO', Value: ['not_dicom'] },
    '00991012': { vr: 'LT', Value: [`part ${part}: ${message}`] },
  };
}
const stored = { '00081150': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.6.1'] }, '00081155': { vr: 'UI', Value: ['1.2.3.4'] } };

describe('STOW-RS answer -> per-file results', () => {
  test('202: the failed parts are rejected with their own reasons, the rest stored', () => {
    const body = JSON.stringify({ '00081198': { vr: 'SQ', Value: [failed(2, 'Not a DICOM file'), failed(4, 'Truncated element')] }, '00081199': { vr: 'SQ', Value: [stored, stored] } });
    const outcome = parseStowResponse(202, body);
    expect(outcome.stored).toBe(2);
    expect(fileResults(4, outcome)).toEqual([
      { state: 'stored', reason: null },
      { state: 'rejected', reason: 'Not a DICOM file' },
      { state: 'stored', reason: null },
      { state: 'rejected', reason: 'Truncated element' },
    ]);
  });

  test('a failure without a part number (another archive) is not hidden', () => {
    const item = { '00081197': { vr: 'US', Value: [272] } };
    const outcome = parseStowResponse(202, JSON.stringify({ '00081198': { vr: 'SQ', Value: [item] }, '00081199': { vr: 'SQ', Value: [stored] } }));
    const results = fileResults(2, outcome);
    expect(results.every((r) => r.state === 'stored' && r.reason?.includes('failure reason 272'))).toBe(true);
    expect(fileResults(1, parseStowResponse(409, JSON.stringify({ '00081198': { vr: 'SQ', Value: [item] } })))).toEqual([{ state: 'rejected', reason: 'failure reason 272' }]);
  });

  test('network errors and other statuses fail the whole batch with a readable reason', () => {
    expect(fileResults(2, parseStowResponse(0, ''))).toEqual([
      { state: 'failed', reason: 'network error' },
      { state: 'failed', reason: 'network error' },
    ]);
    expect(fileResults(1, parseStowResponse(503, 'not json'))[0]?.reason).toContain('503');
    expect(fileResults(1, parseStowResponse(401, '{}'))[0]?.reason).toContain('sign in again');
  });

  test('retries: network, 408, 429, 5xx; backoff from Retry-After when readable, else doubling', () => {
    expect([0, 408, 429, 500, 503].every(retryable)).toBe(true);
    expect([400, 401, 409, 413, 415].some(retryable)).toBe(false);
    expect([1, 2, 3].map((n) => retryDelayMs(n, null))).toEqual([1000, 2000, 4000]);
    expect(retryDelayMs(1, '5')).toBe(5000);
    expect(retryDelayMs(1, '3600')).toBe(60_000);
    expect(retryDelayMs(2, 'Wed, 21 Oct 2026 07:28:00 GMT')).toBe(2000);
  });
});
