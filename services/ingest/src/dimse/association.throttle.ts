/**
 * Refused associations per source address (issue #17: 65 AE titles were probed in 3.7 s). Once an address
 * has `maxFailures` refusals within `windowMs`, its next associations are answered A-ASSOCIATE-RJ transient
 * (temporary congestion) before any AE title or credential is looked at, until its oldest refusal in the
 * window ages out. Kept in memory per process and bounded in addresses, so a flood of sources cannot grow it
 * without limit; a restart forgets it (the refusals themselves are in the audit log).
 */
export interface ThrottleSettings {
  /** 0 turns throttling off. */
  maxFailures: number;
  windowMs: number;
  now?: () => number;
}

const MAX_TRACKED_ADDRESSES = 10_000;

export class AssociationThrottle {
  private readonly failures = new Map<string, number[]>();
  private readonly now: () => number;

  constructor(private readonly settings: ThrottleSettings) {
    this.now = settings.now ?? (() => Date.now());
  }

  private recent(address: string): number[] {
    const since = this.now() - this.settings.windowMs;
    const kept = (this.failures.get(address) ?? []).filter((t) => t > since);
    if (kept.length === 0) this.failures.delete(address);
    else this.failures.set(address, kept);
    return kept;
  }

  isThrottled(address: string | null): boolean {
    if (this.settings.maxFailures <= 0 || address === null) return false;
    return this.recent(address).length >= this.settings.maxFailures;
  }

  /** Records a refusal; true when it is the one that starts throttling the address. */
  recordFailure(address: string | null): boolean {
    if (this.settings.maxFailures <= 0 || address === null) return false;
    const times = this.recent(address);
    times.push(this.now());
    this.failures.delete(address);
    this.failures.set(address, times);
    if (this.failures.size > MAX_TRACKED_ADDRESSES) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
    return times.length === this.settings.maxFailures;
  }
}
