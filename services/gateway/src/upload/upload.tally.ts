import { ExitCode } from '../exit-codes';
import type { RejectedFile, Reporter, Summary } from './upload.events';

/** Why a run stopped before sending everything: the key was refused, retries ran out, or SIGINT/SIGTERM. */
export type StopReason = 'auth' | 'gave_up' | 'interrupted';

/**
 * The counts of one upload run, written by its phases (plan, send) and read once at the end as the
 * summary. Every file reported as skipped or rejected goes through here, so the summary lists exactly what
 * the reporter was told.
 */
export class UploadTally {
  /** Newly stored (or stored as a new version) by this run. */
  sent = 0;
  /** Confirmed by an earlier run's journal, found by QIDO, or answered ALREADY_STORED. */
  alreadyThere = 0;
  /** DICOM files this run could not get into the archive. */
  notSent = 0;
  partsSent = 0;
  requests = 0;
  bytesSent = 0;
  readonly rejected: RejectedFile[] = [];
  readonly skipped: Array<{ path: string; note: string }> = [];
  private stop: StopReason | null = null;
  private stopError: string | undefined;

  constructor(
    private readonly reporter: Reporter,
    readonly startedMs = Date.now(),
  ) {}

  skip(file: { path: string; note: string }): void {
    this.skipped.push(file);
    this.reporter.emit({ event: 'skipped', ...file });
  }

  reject(file: RejectedFile): void {
    this.rejected.push(file);
    this.reporter.emit({ event: 'rejected', ...file });
  }

  /** No new batch starts once the run has a stop reason. */
  get stopped(): boolean {
    return this.stop !== null;
  }

  /** SIGINT/SIGTERM: keeps an earlier reason (and its message). */
  interrupt(): void {
    this.stop ??= 'interrupted';
  }

  /** A refused key stops the run whatever happened before: nothing more can get in with it. */
  authRefused(message: string): void {
    this.stop = 'auth';
    this.stopError = message;
  }

  /** A batch gave up (or failed unexpectedly): the first reason and message are the ones reported. */
  gaveUp(reason: 'gave_up' | 'interrupted', message: string): void {
    this.stop ??= reason;
    this.stopError ??= message;
  }

  /** The exit code: a refused key first, then anything not sent, then rejections (exit-codes.ts). */
  summary(nowMs = Date.now()): Summary {
    const exitCode = this.stop === 'auth' ? ExitCode.AuthRefused : this.notSent > 0 ? ExitCode.Unreachable : this.rejected.length > 0 ? ExitCode.Rejected : ExitCode.Ok;
    return {
      sent: this.sent,
      alreadyThere: this.alreadyThere,
      rejected: this.rejected,
      skipped: this.skipped,
      notSent: this.notSent,
      partsSent: this.partsSent,
      requests: this.requests,
      bytesSent: this.bytesSent,
      seconds: Math.round((nowMs - this.startedMs) / 100) / 10,
      exitCode,
      ...(this.stopError === undefined ? {} : { error: this.stop === 'interrupted' ? `interrupted: ${this.stopError}` : this.stopError }),
    };
  }
}
