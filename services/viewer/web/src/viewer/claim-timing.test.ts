import { describe, expect, test } from '@jest/globals';
import {
  afterRenewalFailure,
  FOCUS_MIN_GAP_MS,
  nextRenewalDelay,
  RENEW_EVERY_MS,
  RENEW_MARGIN_MS,
  RENEW_MIN_MS,
  renewOnFocus,
} from './claim-timing';

// The viewer's claim renewal schedule (claim-renewal.ts uses it): pure timing, no browser. jest globals
// are imported because the web app's tsconfig carries no ambient test types.
const MIN = 60_000;
const NOW = Date.parse('2026-01-01T10:00:00Z');

describe('claim renewal timing', () => {
  test('a fresh 30-minute claim is renewed after 10 minutes, well before it ends', () => {
    expect(nextRenewalDelay(NOW, NOW + 30 * MIN)).toBe(RENEW_EVERY_MS);
    expect(RENEW_EVERY_MS + RENEW_MARGIN_MS).toBeLessThan(30 * MIN);
  });

  test('a claim ending sooner is renewed a margin before its end, never faster than the floor', () => {
    expect(nextRenewalDelay(NOW, NOW + 8 * MIN)).toBe(8 * MIN - RENEW_MARGIN_MS);
    expect(nextRenewalDelay(NOW, NOW + 2 * MIN)).toBe(RENEW_MIN_MS);
    // A server clock far behind ours (expiry already "past") must not make a renewal loop.
    expect(nextRenewalDelay(NOW, NOW - 60 * MIN)).toBe(RENEW_MIN_MS);
  });

  test('without a usable expiry the regular interval applies', () => {
    expect(nextRenewalDelay(NOW, null)).toBe(RENEW_EVERY_MS);
    expect(nextRenewalDelay(NOW, Number.NaN)).toBe(RENEW_EVERY_MS);
  });

  test('focus renews after a while away, not on quick tab switches', () => {
    const expires = NOW + 30 * MIN;
    expect(renewOnFocus(NOW + 10_000, NOW, expires)).toBe(false);
    expect(renewOnFocus(NOW + FOCUS_MIN_GAP_MS, NOW, expires)).toBe(true);
    // Back from a sleep near (or past) the end of the claim: at once.
    expect(renewOnFocus(NOW + 26 * MIN, NOW + 25 * MIN + 30_000, expires)).toBe(true);
    expect(renewOnFocus(NOW, null, null)).toBe(true);
  });

  test('transient failures are retried; refusals stop the renewals', () => {
    for (const status of [0, 408, 429, 500, 503]) expect(afterRenewalFailure(status)).toBe('retry');
    for (const status of [401, 403, 404, 409]) expect(afterRenewalFailure(status)).toBe('stop');
  });
});
