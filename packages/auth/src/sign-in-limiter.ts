import { AppError } from '@yunying/core';
import type { Queryable } from './queryable';
import { countFailures, deleteFailuresUntil, deletePairFailures, insertFailure, recordKnownSource } from './repositories/sign-in-failures.repository';

export interface SignInLimits {
  /** Failed sign-ins allowed per username and source IP within the window (default 5). */
  maxFailures: number;
  /** Failed sign-ins allowed per source IP, any username, within the window (default 50): slows credential stuffing. */
  maxFailuresPerIp: number;
  /**
   * Failed sign-ins of one account, from any address, before it backs off (default 10): then each further
   * attempt waits 2^(failures - limit) seconds after the last failure, at most `maxBackoffSeconds`.
   */
  maxAccountFailures: number;
  /** The longest account backoff in seconds (default 900). */
  maxBackoffSeconds: number;
  /** How long an address stays known for an account after a successful sign-in, in days (default 30). */
  knownSourceDays: number;
  /** Sliding window in seconds (default 900 = 15 minutes). */
  windowSeconds: number;
}

export const DEFAULT_SIGN_IN_LIMITS: SignInLimits = {
  maxFailures: 5,
  maxFailuresPerIp: 50,
  maxAccountFailures: 10,
  maxBackoffSeconds: 900,
  knownSourceDays: 30,
  windowSeconds: 900,
};

/** Which limit refused a sign-in (recorded in the audit record). */
export type SignInLimit = 'user-address' | 'address' | 'account-backoff';

/**
 * Sign-in rate limiting over a sliding window of failures kept in Postgres (so the limit holds across
 * every replica). While limited, the password is not even checked, and the caller gets 429 with
 * Retry-After. Three limits:
 *
 * - per username + source address (`maxFailures`): always applies;
 * - per source address, any username (`maxFailuresPerIp`): slows credential stuffing;
 * - per account, any address (`maxAccountFailures`, then exponential backoff): guesses spread over many
 *   addresses (a botnet) are throttled too.
 *
 * The last two do not apply to an address from which the account signed in successfully within
 * `knownSourceDays`: an attacker can then slow only the addresses they guess from, never lock the real user
 * out from their usual network, nor everyone behind one shared address. Refused attempts are not counted as
 * failures (hammering does not extend the backoff; guessing does). Counting is not atomic with the check: a
 * burst of parallel guesses can exceed a limit by the burst's width.
 */
export class SignInLimiter {
  constructor(
    private readonly db: Queryable,
    private readonly limits: SignInLimits,
    private readonly now: () => Date,
  ) {}

  async check(username: string, sourceIp: string): Promise<void> {
    const refusal = await this.refusal(username, sourceIp);
    if (refusal === null) return;
    throw tooManyAttempts(refusal.retryAfterSeconds);
  }

  /** Which limit applies now and for how long, or null. */
  async refusal(username: string, sourceIp: string): Promise<{ limit: SignInLimit; retryAfterSeconds: number } | null> {
    const now = this.now();
    const windowMs = this.limits.windowSeconds * 1000;
    const since = new Date(now.getTime() - windowMs);
    const row = await countFailures(this.db, username, sourceIp, since, new Date(now.getTime() - this.limits.knownSourceDays * 86_400_000));
    if (!row) return null;
    const until = (at: Date | null, plusMs: number): number => Math.max(1, Math.ceil(((at?.getTime() ?? 0) + plusMs - now.getTime()) / 1000));
    if (row.pairFailures >= this.limits.maxFailures) return { limit: 'user-address', retryAfterSeconds: until(row.pairOldest, windowMs) };
    if (row.known) return null;
    if (row.ipFailures >= this.limits.maxFailuresPerIp) return { limit: 'address', retryAfterSeconds: until(row.ipOldest, windowMs) };
    const over = row.accountFailures - this.limits.maxAccountFailures;
    if (over >= 0 && row.accountLast !== null) {
      const backoffMs = Math.min(this.limits.maxBackoffSeconds, 2 ** Math.min(over, 30)) * 1000;
      if (row.accountLast.getTime() + backoffMs > now.getTime()) return { limit: 'account-backoff', retryAfterSeconds: until(row.accountLast, backoffMs) };
    }
    return null;
  }

  async recordFailure(username: string, sourceIp: string): Promise<void> {
    const now = this.now();
    await insertFailure(this.db, username, sourceIp, now);
    // Keep the table small: failures older than the window no longer count for anything.
    await deleteFailuresUntil(this.db, username, sourceIp, new Date(now.getTime() - this.limits.windowSeconds * 1000));
  }

  /** A successful sign-in: the pair's failures are cleared and the address becomes known for the account. */
  async reset(username: string, sourceIp: string): Promise<void> {
    await deletePairFailures(this.db, username, sourceIp);
    await recordKnownSource(this.db, username, sourceIp, this.now());
  }
}

/** The same answer whichever limit applies (which one is in the audit record, not told to the caller). */
export function tooManyAttempts(retryAfterSeconds: number): AppError {
  return new AppError('too_many_requests', 'Too many failed sign-in attempts; try again later', { retryAfterSeconds });
}
