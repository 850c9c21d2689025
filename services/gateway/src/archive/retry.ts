import { GaveUpError, TransientError, asTransient } from './archive.errors';

/**
 * Exponential backoff with full jitter (delay uniformly in [0, min(max, base * 2^attempt)]), except that a
 * server's Retry-After is honoured as a floor. Only TransientErrors (and network errors, which become
 * them) are retried; anything else propagates at once.
 */
export interface RetryPolicy {
  baseMs: number;
  maxMs: number;
  /** Give up (GaveUpError) when the next wait would end past this much time since the first failure. */
  giveUpAfterMs: number;
}

export interface RetryNotice {
  attempt: number;
  delayMs: number;
  error: TransientError;
}

export function backoffDelay(policy: Pick<RetryPolicy, 'baseMs' | 'maxMs'>, attempt: number, retryAfterMs: number | undefined, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  const jittered = Math.round(ceiling * random());
  return retryAfterMs === undefined ? Math.max(jittered, Math.min(policy.baseMs, ceiling)) : Math.max(jittered, retryAfterMs);
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export async function withRetry<T>(work: () => Promise<T>, policy: RetryPolicy, onRetry?: (notice: RetryNotice) => void, signal?: AbortSignal): Promise<T> {
  let firstFailure: number | undefined;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await work();
    } catch (raw) {
      const error = asTransient(raw);
      if (!(error instanceof TransientError)) throw error;
      firstFailure ??= Date.now();
      const delayMs = backoffDelay(policy, attempt, error.retryAfterMs);
      if (Date.now() - firstFailure + delayMs > policy.giveUpAfterMs || signal?.aborted) {
        throw new GaveUpError(`gave up after ${attempt + 1} attempts: ${error.message}`, error);
      }
      onRetry?.({ attempt: attempt + 1, delayMs, error });
      await sleep(delayMs, signal);
    }
  }
}
