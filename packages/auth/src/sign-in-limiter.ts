import { AppError } from '@yunying/core';
import type { Queryable } from './queryable';

export interface SignInLimits {
  /** Failed sign-ins allowed per username and source IP within the window (default 5). */
  maxFailures: number;
  /** Failed sign-ins allowed per source IP, any username, within the window (default 50): slows credential stuffing. */
  maxFailuresPerIp: number;
  /** Sliding window in seconds (default 900 = 15 minutes). */
  windowSeconds: number;
}

export const DEFAULT_SIGN_IN_LIMITS: SignInLimits = { maxFailures: 5, maxFailuresPerIp: 50, windowSeconds: 900 };

/**
 * Sign-in rate limiting over a sliding window of failures kept in Postgres (so the limit holds across
 * every replica). While limited, the password is not even checked, and the caller gets 429 with
 * Retry-After: the time until the oldest failure in the window expires. A success clears the failures of
 * that username+IP. Counting is not atomic with the check: a burst of parallel guesses can exceed the limit
 * by the burst's width, which does not change the order of magnitude of an online attack.
 */
export class SignInLimiter {
  constructor(
    private readonly db: Queryable,
    private readonly limits: SignInLimits,
    private readonly now: () => Date,
  ) {}

  async check(username: string, sourceIp: string): Promise<void> {
    const now = this.now();
    const since = new Date(now.getTime() - this.limits.windowSeconds * 1000);
    const { rows } = await this.db.query<{ user_failures: number; user_oldest: Date | null; ip_failures: number; ip_oldest: Date | null }>(
      `SELECT count(*) FILTER (WHERE username = $1)::int AS user_failures, min(attempted_at) FILTER (WHERE username = $1) AS user_oldest,
              count(*)::int AS ip_failures, min(attempted_at) AS ip_oldest
         FROM sign_in_failures WHERE source_ip = $2 AND attempted_at > $3`,
      [username, sourceIp, since],
    );
    const row = rows[0];
    if (!row) return;
    const limitedSince =
      row.user_failures >= this.limits.maxFailures ? row.user_oldest : row.ip_failures >= this.limits.maxFailuresPerIp ? row.ip_oldest : null;
    if (limitedSince === null) return;
    const retryAfter = Math.max(1, Math.ceil((limitedSince.getTime() + this.limits.windowSeconds * 1000 - now.getTime()) / 1000));
    throw new AppError('too_many_requests', 'Too many failed sign-in attempts; try again later', { retryAfterSeconds: retryAfter });
  }

  async recordFailure(username: string, sourceIp: string): Promise<void> {
    const now = this.now();
    await this.db.query('INSERT INTO sign_in_failures (username, source_ip, attempted_at) VALUES ($1, $2, $3)', [username, sourceIp, now]);
    // Keep the table small: failures older than the window no longer count for this pair.
    await this.db.query('DELETE FROM sign_in_failures WHERE source_ip = $1 AND attempted_at <= $2', [
      sourceIp,
      new Date(now.getTime() - this.limits.windowSeconds * 1000),
    ]);
  }

  async reset(username: string, sourceIp: string): Promise<void> {
    await this.db.query('DELETE FROM sign_in_failures WHERE username = $1 AND source_ip = $2', [username, sourceIp]);
  }
}
