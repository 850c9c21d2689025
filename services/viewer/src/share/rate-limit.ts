import type { NextFunction, Request, Response } from 'express';
import { AppError } from '@yunying/core';

/**
 * A fixed-window request counter per source IP for the share pages, which anyone may call: it keeps a
 * scripted client from walking image renders (CPU) or the audit log. Kept in this process's memory: with
 * several viewer replicas the effective limit is per replica, which still bounds the rate. Wrong access
 * codes have their own limit in the database (share.repository.ts), which holds across replicas.
 */
export class WindowLimiter {
  private readonly counts = new Map<string, { windowStart: number; count: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds to wait when over the limit, else null (and the request is counted). */
  take(key: string): number | null {
    const now = this.now();
    const entry = this.counts.get(key);
    if (entry === undefined || now - entry.windowStart >= this.windowMs) {
      // Dropping every finished window on a new one keeps the map as small as the set of active callers.
      if (this.counts.size > 10_000) for (const [k, e] of this.counts) if (now - e.windowStart >= this.windowMs) this.counts.delete(k);
      this.counts.set(key, { windowStart: now, count: 1 });
      return null;
    }
    if (entry.count >= this.max) return Math.max(1, Math.ceil((entry.windowStart + this.windowMs - now) / 1000));
    entry.count += 1;
    return null;
  }

  middleware() {
    return (req: Request, _res: Response, next: NextFunction): void => {
      const wait = this.take(req.ip ?? 'unknown');
      if (wait === null) next();
      else next(new AppError('too_many_requests', 'Too many requests; try again later', { retryAfterSeconds: wait }));
    };
  }
}
