import { ApiError, request } from '../app/api';
import { t } from '../app/i18n';
import { obj, str } from '../app/json';
import { afterRenewalFailure, nextRenewalDelay, renewOnFocus, RETRY_AFTER_FAILURE_MS } from './claim-timing';

export interface ClaimRenewal {
  /** Stops renewing (report signed, or the reader leaves); idempotent. */
  stop: () => void;
  /** Settles with the first claim: true once it is held, false when refused or stopped before. */
  claimed: Promise<boolean>;
}

/**
 * Keeps the reader's claim on a study while the viewer is open: claims at once (opening a study claims
 * it, also when the page was reloaded), then renews on the schedule of claim-timing.ts and when the
 * window regains focus. A refusal (409: someone else holds it, or it is reported) stops the renewals and
 * is reported through `onLost`; transient failures are retried. Aborting `signal` (the viewer's teardown)
 * stops it too and cancels a renewal in flight, so it cannot land after the teardown's release.
 */
export function keepClaim(studyUid: string, signal: AbortSignal, onLost: (message: string) => void): ClaimRenewal {
  const path = `/api/queue/${encodeURIComponent(studyUid)}/claim`;
  let timer: number | null = null;
  let stopped = false;
  let inFlight = false;
  let lastRenewedAt: number | null = null;
  let expiresAt: number | null = null;
  let settle: (held: boolean) => void = () => undefined;
  const claimed = new Promise<boolean>((resolve) => {
    settle = resolve;
  });

  const schedule = (delay: number): void => {
    if (timer !== null) window.clearTimeout(timer);
    timer = stopped ? null : window.setTimeout(renew, delay);
  };

  function renew(): void {
    if (stopped || inFlight) return;
    inFlight = true;
    request('POST', path, { json: {}, headers: { accept: 'application/json' }, signal })
      .then((res) => res.json() as Promise<unknown>)
      .then((body) => {
        const now = Date.now();
        const until = Date.parse(str(obj(body).claimExpiresAt) ?? '');
        lastRenewedAt = now;
        settle(true);
        expiresAt = Number.isNaN(until) ? null : until;
        schedule(nextRenewalDelay(now, expiresAt));
      })
      .catch((error: unknown) => {
        if (signal.aborted) return;
        const status = error instanceof ApiError ? error.status : 0;
        if (afterRenewalFailure(status) === 'retry') {
          schedule(RETRY_AFTER_FAILURE_MS);
          return;
        }
        stop();
        onLost(error instanceof ApiError ? error.message : t('The study could not be claimed.', '无法领取该检查。'));
      })
      .finally(() => {
        inFlight = false;
      });
  }

  const onFocus = (): void => {
    if (!stopped && renewOnFocus(Date.now(), lastRenewedAt, expiresAt)) renew();
  };
  window.addEventListener('focus', onFocus);

  function stop(): void {
    stopped = true;
    settle(false);
    if (timer !== null) window.clearTimeout(timer);
    timer = null;
    window.removeEventListener('focus', onFocus);
  }

  signal.addEventListener('abort', stop, { once: true });
  renew();
  return { stop, claimed };
}
