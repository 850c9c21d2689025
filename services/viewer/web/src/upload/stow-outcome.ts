/**
 * Reading a STOW-RS answer (PS3.18 10.5.3, DICOM JSON) back onto the files of the batch. The standard's
 * FailedSOPSequence (0008,1198) names failures by SOP UIDs, which a file that is not DICOM does not have;
 * Yunying's ingest adds, in each failed item, a private reason (0099,1011) and "part N: message"
 * (0099,1012, private creator "YUNYING 1.0"), N being the 1-based part of the request. Files are matched
 * by that part number; without it (another archive), a failure is told for the batch as a whole. The
 * private tags are the wire contract in @yunying/dicom stow-wire.ts. No DOM types here: unit-tested
 * without a browser (test/e2e/stow-outcome.test.ts).
 */
import { StowTag, parseFailureNote } from '@yunying/dicom/stow-wire';

export type FileState = 'stored' | 'rejected' | 'failed';

export interface FileResult {
  state: FileState;
  /** For a person: why it was not stored. */
  reason: string | null;
}

export interface BatchOutcome {
  /** HTTP status, 0 for a network error. */
  status: number;
  stored: number;
  failures: { part: number | null; reason: string }[];
}

type Item = Record<string, { Value?: unknown[] } | undefined>;

function first(item: Item, tag: string): unknown {
  return item[tag]?.Value?.[0];
}

function items(json: Record<string, unknown>, tag: string): Item[] {
  const value = (json[tag] as { Value?: unknown } | undefined)?.Value;
  return Array.isArray(value) ? value.filter((v): v is Item => typeof v === 'object' && v !== null) : [];
}

/** The outcome of one STOW-RS request from its status and body text (empty or not JSON: no details). */
export function parseStowResponse(status: number, text: string): BatchOutcome {
  let json: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    json = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    json = {};
  }
  const failures = items(json, '00081198').map((item) => {
    const note = first(item, StowTag.failureNote);
    const parsed = parseFailureNote(note);
    const code = first(item, '00081197');
    const message = parsed?.message ?? (typeof note === 'string' ? note : null);
    return {
      part: parsed ? parsed.part : null,
      reason: message ?? `failure reason ${typeof code === 'number' || typeof code === 'string' ? String(code) : 'unknown'}`,
    };
  });
  return { status, stored: items(json, '00081199').length, failures };
}

function httpReason(status: number): string {
  if (status === 0) return 'network error';
  if (status === 401 || status === 403) return `not allowed (${status}): sign in again`;
  if (status === 413) return 'too large (413)';
  if (status === 503) return 'the archive cannot store right now (503)';
  return `status ${status}`;
}

/**
 * One result per file of the batch, in order. 200/202/409 carry per-part results: a part named in the
 * failures is rejected with its reason, the others are stored. Any other status (after retries) fails
 * the whole batch, except parts the body still names.
 */
export function fileResults(count: number, outcome: BatchOutcome): FileResult[] {
  const byPart = new Map<number, string>();
  for (const f of outcome.failures) if (f.part !== null) byPart.set(f.part, f.reason);
  const unmatched = outcome.failures.filter((f) => f.part === null || f.part < 1 || f.part > count);
  const perPart = outcome.status === 200 || outcome.status === 202 || outcome.status === 409;
  return Array.from({ length: count }, (_, i): FileResult => {
    const reason = byPart.get(i + 1);
    if (reason !== undefined) return { state: 'rejected', reason };
    if (!perPart) return { state: 'failed', reason: httpReason(outcome.status) };
    if (outcome.status === 409 || unmatched.length > 0) {
      // Failures the answer did not tie to a part: say so rather than claim this file was stored.
      const some = unmatched.map((f) => f.reason).join('; ');
      if (outcome.status === 409) return { state: 'rejected', reason: some || 'refused' };
      return { state: 'stored', reason: `others in its batch failed without a part number: ${some}` };
    }
    return { state: 'stored', reason: null };
  });
}

/** Whether sending the same batch again may succeed: network errors, 408, 429 and 5xx (PS3.18 10.5.3.1). */
export function retryable(status: number): boolean {
  return status === 0 || status === 408 || status === 429 || status >= 500;
}

/** Backoff before attempt `attempt` (1-based): Retry-After when the server gave one (capped), else 1 s, 2 s, 4 s… */
export function retryDelayMs(attempt: number, retryAfterHeader: string | null): number {
  const seconds = retryAfterHeader !== null && /^\d+$/.test(retryAfterHeader.trim()) ? Number(retryAfterHeader.trim()) : null;
  if (seconds !== null) return Math.min(seconds, 60) * 1000;
  return 1000 * 2 ** (attempt - 1);
}
