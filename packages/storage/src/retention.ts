import { AppError } from '@yunying/core';

/** Regulation: every image is kept at least this long, whatever a clinic's policy says. */
export const GLOBAL_MINIMUM_RETENTION_YEARS = 15;

/**
 * How far a StudyDate may lie after the date of receipt and still be believed. A study date a little
 * in the future is normal (modality clock or time zone ahead of ours) and lengthens retention, which is
 * the safe direction. A date years ahead is a broken modality clock or garbage; believing it would lock
 * storage for decades, so it falls back to the date of receipt.
 */
export const STUDY_DATE_MAX_FUTURE_DAYS = 366;

/** The earliest StudyDate believed; anything before is garbage (DICOM did not exist yet). */
const STUDY_DATE_MIN_YEAR = 1900;

export interface RetainUntilInput {
  /** DICOM DA (PS3.5 §6.2), `YYYYMMDD`; the pre-3.0 form `YYYY.MM.DD` is accepted too. Null/absent/invalid: ignored. */
  studyDate?: string | null;
  receivedAt: Date;
  /** Retention years of the clinic's policy. */
  policyYears: number;
  /** Configured minimum; raised to GLOBAL_MINIMUM_RETENTION_YEARS if lower. */
  minimumYears: number;
}

/**
 * Parses a DICOM DA value to UTC midnight of that day, or null when it is absent, malformed or not a
 * real calendar date (20230230). Ranges (`20200101-20201231`) are not a StudyDate and give null.
 */
export function parseDicomDate(value: string | null | undefined): Date | null {
  if (value === null || value === undefined) return null;
  const match = /^(\d{4})\.?(\d{2})\.?(\d{2})$/.exec(value.trim());
  if (!match) return null;
  const [, y, m, d] = match;
  const year = Number(y);
  const month = Number(m);
  const day = Number(d);
  if (year < STUDY_DATE_MIN_YEAR || month < 1 || month > 12 || day < 1) return null;
  const date = new Date(Date.UTC(year, month - 1, day));
  // Date.UTC rolls 20230230 over into March; a rolled date is not the date that was written.
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return null;
  return date;
}

/** `date` plus whole years in UTC. 29 February plus a number of years that lands in a common year gives
 * 1 March (never 28 February): a retention period must not come out shorter than asked. */
export function addYearsUtc(date: Date, years: number): Date {
  const result = new Date(date.getTime());
  result.setUTCFullYear(result.getUTCFullYear() + years);
  return result;
}

/**
 * retain-until = max(StudyDate, date received) + max(policy years, minimum years, 15), rounded up to
 * the whole second (S3 Object Lock dates have second precision; rounding down would shorten).
 *
 * - StudyDate missing, malformed, before 1900 or more than STUDY_DATE_MAX_FUTURE_DAYS after receipt:
 *   the date of receipt is used alone.
 * - A StudyDate counts from the start of that day (UTC); it wins only when it is later than receipt.
 */
export function computeRetainUntil(input: RetainUntilInput): Date {
  const { receivedAt, policyYears, minimumYears } = input;
  if (!Number.isFinite(receivedAt.getTime())) {
    throw new AppError('bad_request', 'retention: receivedAt is not a valid date');
  }
  for (const [label, years] of [
    ['policyYears', policyYears],
    ['minimumYears', minimumYears],
  ] as const) {
    if (!Number.isInteger(years) || years < 0 || years > 1000) {
      throw new AppError('bad_request', `retention: ${label} must be a whole number of years (0..1000)`);
    }
  }
  const years = Math.max(policyYears, minimumYears, GLOBAL_MINIMUM_RETENTION_YEARS);

  let start = receivedAt;
  const study = parseDicomDate(input.studyDate);
  if (study !== null) {
    const latestBelievable = receivedAt.getTime() + STUDY_DATE_MAX_FUTURE_DAYS * 86_400_000;
    if (study.getTime() > receivedAt.getTime() && study.getTime() <= latestBelievable) start = study;
  }
  const until = addYearsUtc(start, years);
  return new Date(Math.ceil(until.getTime() / 1000) * 1000);
}
