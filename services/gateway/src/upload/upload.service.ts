import type { Summary } from './upload.events';
import type { UploadOptions } from './upload.options';
import { planUpload } from './upload.plan';
import { sendPlanned } from './upload.send';
import { UploadTally } from './upload.tally';

export { makeBatches } from './upload.send';
export type { UploadOptions } from './upload.options';

/**
 * `yunying upload`, in two phases a reader can follow file by file:
 * - plan (upload.plan.ts): scan -> skip what the journal of earlier runs or the archive (QIDO) already has;
 * - send (upload.send.ts): the rest in batches over STOW-RS, several at a time, with retries; each confirmed
 *   batch journalled before it is counted.
 * The counts live in one UploadTally (upload.tally.ts), which makes the summary and its exit code.
 */
export async function runUpload(options: UploadOptions): Promise<Summary> {
  const tally = new UploadTally(options.reporter);
  const { journal, toSend } = await planUpload(options, tally);
  try {
    await sendPlanned(options, toSend, journal, tally);
  } finally {
    journal.compact();
  }
  const summary = tally.summary();
  options.reporter.emit({ event: 'summary', ...summary });
  return summary;
}
