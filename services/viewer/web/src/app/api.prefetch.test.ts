import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { prefetch, request } from './api';

/**
 * A fetch that answers each call with a body still arriving (its first bytes name the call), and records what was
 * asked and which bodies were cancelled.
 */
function fakeFetch(): { calls: string[]; cancelled: string[] } {
  const log: { calls: string[]; cancelled: string[] } = { calls: [], cancelled: [] };
  globalThis.fetch = ((input: string) => {
    const path = input;
    const n = log.calls.push(path);
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => controller.enqueue(new TextEncoder().encode(`{"n":${n}}`)),
      cancel: () => void log.cancelled.push(path),
    });
    return Promise.resolve(new Response(body, { status: 200, headers: { 'content-type': 'application/json' } }));
  }) as typeof fetch;
  return log;
}

async function firstBytes(res: Response): Promise<string> {
  const reader = res.body?.getReader();
  const chunk = await reader?.read();
  await reader?.cancel();
  return new TextDecoder().decode(chunk?.value);
}

describe('prefetched answers', () => {
  const realFetch = globalThis.fetch;
  afterEach(() => {
    globalThis.fetch = realFetch;
    jest.useRealTimers();
  });

  it('are taken once by the request they were made for', async () => {
    const log = fakeFetch();
    prefetch([{ path: '/api/a', accept: 'application/json' }]);
    const first = await request('GET', '/api/a', { headers: { accept: 'application/json' } });
    expect(await firstBytes(first)).toBe('{"n":1}');
    const second = await request('GET', '/api/a', { headers: { accept: 'application/json' } });
    expect(await firstBytes(second)).toBe('{"n":2}');
    expect(log.calls).toEqual(['/api/a', '/api/a']);
  });

  it('are let go, body cancelled, when nobody takes them within ten seconds', async () => {
    jest.useFakeTimers();
    const log = fakeFetch();
    prefetch([{ path: '/api/b', accept: 'application/json' }]);
    await jest.advanceTimersByTimeAsync(9_000);
    expect(log.cancelled).toEqual([]);
    await jest.advanceTimersByTimeAsync(1_500);
    expect(log.cancelled).toEqual(['/api/b']);
    // Asked for later, it is fetched anew.
    const res = await request('GET', '/api/b', { headers: { accept: 'application/json' } });
    expect(await firstBytes(res)).toBe('{"n":2}');
  });
});
