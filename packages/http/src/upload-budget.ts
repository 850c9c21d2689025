import type { ServerResponse } from 'node:http';
import { AppError } from '@yunying/core';

/**
 * A process-wide bound on the memory that uploads in flight may hold (#17 finding 10). Each upload is
 * charged, before its body is read, the most it can hold in memory at once (for STOW-RS: one part, so
 * min(Content-Length, largest instance)); when the charges would pass the capacity the upload is refused
 * with 503 + Retry-After instead of growing the heap. The charge is returned when the response ends or
 * the connection closes, whichever comes first.
 *
 * One upload larger than the whole capacity is still admitted when nothing else is in flight, or it
 * could never be stored.
 */
export class UploadBudget {
  private held = 0;
  private inFlight = 0;

  constructor(
    readonly capacityBytes: number,
    private readonly retryAfterSeconds = 5,
  ) {}

  /** Bytes charged to uploads in flight now. */
  get heldBytes(): number {
    return this.held;
  }

  /** Charges `bytes` to `res`'s upload, or throws 503 unavailable with Retry-After. */
  admit(bytes: number, res: ServerResponse): void {
    const charge = Math.max(0, Math.ceil(bytes));
    if (this.inFlight > 0 && this.held + charge > this.capacityBytes) {
      throw new AppError('unavailable', 'Too many uploads in progress; retry later', { retryAfterSeconds: this.retryAfterSeconds });
    }
    this.held += charge;
    this.inFlight += 1;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.held -= charge;
      this.inFlight -= 1;
    };
    res.once('finish', release);
    res.once('close', release);
  }
}
