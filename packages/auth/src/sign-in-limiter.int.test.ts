import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { DEFAULT_SIGN_IN_LIMITS, SignInLimiter } from './sign-in-limiter';

/**
 * Per-account backoff (#17 finding 6) on real PostgreSQL, with a clock the test moves (no waiting, no timing
 * assertions): guesses from ever new addresses back off exponentially, a known address is never locked out.
 */
describe('SignInLimiter (PostgreSQL)', () => {
  let catalog: TestCatalog;
  let clock = new Date('2026-01-01T08:00:00Z');
  const at = (seconds: number): void => {
    clock = new Date(clock.getTime() + seconds * 1000);
  };
  let limiter: SignInLimiter;

  beforeAll(async () => {
    catalog = await createTestCatalog('signinlimiter');
    limiter = new SignInLimiter(catalog.pool, { ...DEFAULT_SIGN_IN_LIMITS, maxAccountFailures: 3, maxBackoffSeconds: 8 }, () => clock);
  });
  afterAll(async () => {
    await catalog.drop();
  });

  it('backs an account off exponentially whatever the address, capped, and only guesses extend it', async () => {
    await limiter.reset('erin', '198.51.100.7'); // erin's usual address
    for (let i = 1; i <= 3; i += 1) {
      expect(await limiter.refusal('erin', `203.0.113.${i}`)).toBeNull();
      await limiter.recordFailure('erin', `203.0.113.${i}`);
    }
    // Third failure reached the limit: a new address waits 2^0 = 1 s after the last failure.
    expect(await limiter.refusal('erin', '203.0.113.50')).toEqual({ limit: 'account-backoff', retryAfterSeconds: 1 });
    // Refused attempts are not failures: asking again does not extend it.
    expect(await limiter.refusal('erin', '203.0.113.51')).toEqual({ limit: 'account-backoff', retryAfterSeconds: 1 });
    at(1);
    expect(await limiter.refusal('erin', '203.0.113.4')).toBeNull();
    await limiter.recordFailure('erin', '203.0.113.4');
    expect((await limiter.refusal('erin', '203.0.113.52'))?.retryAfterSeconds).toBe(2);
    at(2);
    await limiter.recordFailure('erin', '203.0.113.5');
    expect((await limiter.refusal('erin', '203.0.113.53'))?.retryAfterSeconds).toBe(4);
    at(4);
    await limiter.recordFailure('erin', '203.0.113.6');
    expect((await limiter.refusal('erin', '203.0.113.54'))?.retryAfterSeconds).toBe(8);
    at(8);
    await limiter.recordFailure('erin', '203.0.113.7');
    expect((await limiter.refusal('erin', '203.0.113.55'))?.retryAfterSeconds).toBe(8); // capped

    // Her own address is not locked out by someone else's guesses; another account is not affected at all.
    expect(await limiter.refusal('erin', '198.51.100.7')).toBeNull();
    expect(await limiter.refusal('frank', '203.0.113.55')).toBeNull();

    // Once the failures leave the window, the backoff is gone.
    at(DEFAULT_SIGN_IN_LIMITS.windowSeconds + 1);
    expect(await limiter.refusal('erin', '203.0.113.56')).toBeNull();
  });

  it('still limits guesses from a known address per username and address', async () => {
    await limiter.reset('gina', '198.51.100.8');
    for (let i = 0; i < DEFAULT_SIGN_IN_LIMITS.maxFailures; i += 1) await limiter.recordFailure('gina', '198.51.100.8');
    expect((await limiter.refusal('gina', '198.51.100.8'))?.limit).toBe('user-address');
  });

  it('does not let one shared address lock out the accounts that use it', async () => {
    const shared = '192.0.2.10';
    await limiter.reset('hana', shared);
    for (let i = 0; i < DEFAULT_SIGN_IN_LIMITS.maxFailuresPerIp; i += 1) await limiter.recordFailure(`guess${i % 40}`, shared);
    expect((await limiter.refusal('someone-new', shared))?.limit).toBe('address');
    expect(await limiter.refusal('hana', shared)).toBeNull();
  });
});
