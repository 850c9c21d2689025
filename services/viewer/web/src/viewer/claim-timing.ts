/**
 * When the viewer renews the reader's claim (POST /api/queue/{uid}/claim again). A claim lasts
 * CLAIM_TTL (the server's claimTtlSeconds, 30 min by default); the viewer renews every RENEW_EVERY, sooner
 * when the server says the claim ends earlier than that plus a margin, and when the window regains focus
 * after a while (a laptop that slept: its timers did not run). Pure functions of the clock, so they are
 * tested without a browser (test/e2e/claim-timing.test.ts).
 */

export const RENEW_EVERY_MS = 10 * 60_000;
/** Renew at least this long before the claim ends: a slow or failed request still has time to retry. */
export const RENEW_MARGIN_MS = 5 * 60_000;
/** Never faster than this, whatever the server's expiry says (a skewed clock must not cause a loop). */
export const RENEW_MIN_MS = 30_000;
/** After a failed renewal (network, 5xx): try again this soon. */
export const RETRY_AFTER_FAILURE_MS = 30_000;
/**
 * A focus renews if the last renewal is at least this old. Browsers throttle timers of hidden tabs (and
 * a sleeping laptop runs none), so focus is when a late renewal is caught up; quick tab switches are not.
 */
export const FOCUS_MIN_GAP_MS = 60_000;

/** Milliseconds until the next renewal, after a renewal at `now` that said the claim ends at `expiresAt`. */
export function nextRenewalDelay(now: number, expiresAt: number | null): number {
  if (expiresAt === null || !Number.isFinite(expiresAt)) return RENEW_EVERY_MS;
  const beforeEnd = expiresAt - now - RENEW_MARGIN_MS;
  return Math.max(RENEW_MIN_MS, Math.min(RENEW_EVERY_MS, beforeEnd));
}

/** Whether the window regaining focus at `now` should renew at once. */
export function renewOnFocus(now: number, lastRenewedAt: number | null, expiresAt: number | null): boolean {
  if (lastRenewedAt === null) return true;
  if (expiresAt !== null && expiresAt - now <= RENEW_MARGIN_MS) return true;
  return now - lastRenewedAt >= FOCUS_MIN_GAP_MS;
}

/** What a failed renewal means: try again soon, or stop (the study is someone else's or reported). */
export function afterRenewalFailure(status: number): 'retry' | 'stop' {
  return status === 0 || status === 408 || status === 429 || status >= 500 ? 'retry' : 'stop';
}
