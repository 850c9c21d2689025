import { WindowLimiter } from './rate-limit';

describe('WindowLimiter', () => {
  it('lets max requests through per key and window, then asks to wait until the window ends', () => {
    let now = 1_000_000;
    const limiter = new WindowLimiter(3, 60_000, () => now);
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([null, null, null]);
    now += 15_000;
    expect(limiter.take('a')).toBe(45);
    // Another caller is counted on its own.
    expect(limiter.take('b')).toBeNull();
    now += 45_000;
    expect(limiter.take('a')).toBeNull();
  });
});
