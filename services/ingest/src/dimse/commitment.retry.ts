import type { Pool } from '@yunying/catalog';
import { describeError, type Logger } from '@yunying/core';
import { sendCommitmentReportOnNewAssociation } from '@yunying/dimse';
import { auditCommitmentReport } from './commitment.audit';
import { claimDueReports, forgetReport, rescheduleReport, type PendingReport } from './commitment.repository';
import { findCommitmentRoute } from './move-destinations';

export interface CommitmentRetrySettings {
  /** How often due reports are looked for. Default 30 s. */
  intervalMs?: number;
  /** The first retry comes this long after the failed delivery; each next one twice as late. Default 60 s. */
  firstRetryMs?: number;
  /** Longest wait between two attempts. Default 1 h. */
  maxBackoffMs?: number;
  /** An undelivered report is kept this long, then given up (audited). Default 7 days. */
  keepForMs?: number;
}

export interface CommitmentRetrierOptions extends CommitmentRetrySettings {
  pool: Pool;
  logger: Logger;
  /** Our AE title as the calling AE of the new association. */
  aeTitle: string;
  timeoutMs: number;
  maxPduLength: number;
  auditUids: number;
}

export const COMMITMENT_RETRY_DEFAULTS = { intervalMs: 30_000, firstRetryMs: 60_000, maxBackoffMs: 3_600_000, keepForMs: 7 * 24 * 3_600_000 } as const;
const BATCH = 20;

/**
 * Delivers the Storage Commitment reports an SCU has not received yet (PS3.4 J.3.3: the SCP may send the
 * N-EVENT-REPORT on an association it opens; the SCU must accept it). The verdict sent is the one decided
 * when the request came, so the SCU learns what the archive answered then. A report goes to the SCU's
 * current registration (an address registered after the failure is used); without one, or when the SCU
 * is unreachable or answers with a failure, the next attempt comes later with doubling waits; after
 * `keepForMs` it is given up. Every delivery and the giving up are audited. Safe with several archive
 * processes: a report is claimed by one at a time.
 */
export class CommitmentRetrier {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private readonly settings: Required<CommitmentRetrySettings>;

  constructor(private readonly options: CommitmentRetrierOptions) {
    this.settings = {
      intervalMs: options.intervalMs ?? COMMITMENT_RETRY_DEFAULTS.intervalMs,
      firstRetryMs: options.firstRetryMs ?? COMMITMENT_RETRY_DEFAULTS.firstRetryMs,
      maxBackoffMs: options.maxBackoffMs ?? COMMITMENT_RETRY_DEFAULTS.maxBackoffMs,
      keepForMs: options.keepForMs ?? COMMITMENT_RETRY_DEFAULTS.keepForMs,
    };
  }

  get firstRetryMs(): number {
    return this.settings.firstRetryMs;
  }

  get keepForMs(): number {
    return this.settings.keepForMs;
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.tick().catch((error: unknown) => this.options.logger.error({ err: describeError(error) }, 'storage commitment retry failed')), this.settings.intervalMs);
    this.timer.unref();
  }

  /** Stops the schedule and waits for an attempt in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** One pass over the due reports; resolves with how many were delivered. Never two passes at once. */
  tick(): Promise<number> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<number> {
    const { pool } = this.options;
    // The lease covers one attempt per report of the batch, each bounded by three timeouts (connect, RSP, release).
    const due = await claimDueReports(pool, BATCH, BATCH * 3 * this.options.timeoutMs);
    let delivered = 0;
    for (const report of due) if (await this.attempt(report)) delivered += 1;
    return delivered;
  }

  private async attempt(report: PendingReport): Promise<boolean> {
    const { pool, logger } = this.options;
    const attempt = report.attempts + 1;
    const audit = (delivery: Parameters<typeof auditCommitmentReport>[1]['delivery'], outcome: 'delivered' | 'gave-up', reportedTo?: string): Promise<void> =>
      auditCommitmentReport(pool, {
        clinicId: report.clinicId,
        callingAe: report.callingAe,
        sourceIp: null,
        transactionUid: report.transactionUid,
        result: report.result,
        studyUids: report.studyUids,
        delivery,
        ...(reportedTo !== undefined ? { reportedTo } : {}),
        retry: { attempt, outcome },
        auditUids: this.options.auditUids,
      });
    let failure: string;
    const route = await findCommitmentRoute(pool, report.clinicId, report.callingAe);
    if (route === undefined) {
      failure = `no registered address for ${report.callingAe}`;
    } else {
      try {
        const status = await sendCommitmentReportOnNewAssociation(
          { destination: route.destination, callingAe: this.options.aeTitle, timeoutMs: this.options.timeoutMs, maxPduLength: this.options.maxPduLength },
          report.transactionUid,
          report.result,
        );
        if (status === 0) {
          await audit({ via: 'new_association', status }, 'delivered', route.destination.aeTitle);
          await forgetReport(pool, report.id);
          logger.info({ transactionUid: report.transactionUid, attempt }, 'storage commitment report delivered on retry');
          return true;
        }
        failure = `new association to ${route.destination.aeTitle}: N-EVENT-REPORT-RSP status 0x${status.toString(16).padStart(4, '0')}`;
      } catch (error) {
        failure = `new association to ${route.destination.aeTitle}: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
    const backoff = Math.min(this.settings.maxBackoffMs, this.settings.firstRetryMs * 2 ** Math.min(30, attempt));
    if (Date.now() + backoff > report.expiresAt.getTime()) {
      await audit({ via: 'none', reason: `given up after ${attempt} attempts: ${failure}` }, 'gave-up');
      await forgetReport(pool, report.id);
      logger.warn({ transactionUid: report.transactionUid, attempt }, 'storage commitment report given up');
      return false;
    }
    await rescheduleReport(pool, report.id, backoff, failure);
    logger.debug({ transactionUid: report.transactionUid, attempt, retryInMs: backoff }, 'storage commitment report still undelivered');
    return false;
  }
}
