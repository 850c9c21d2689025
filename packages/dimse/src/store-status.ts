import { isAppError } from '@yunying/core';
import { FailureReason } from '@yunying/dicom';

/**
 * C-STORE response statuses (PS3.4 B.2.3, PS3.7 C.4.2.1.4). The parser's rejections already carry a
 * PS3.7 status as `failureReason` (see @yunying/dicom rejection.ts), so DIMSE and STOW answer alike.
 */
export const StoreStatus = {
  Success: 0x0000,
  ProcessingFailure: FailureReason.ProcessingFailure,
  SopClassNotSupported: FailureReason.SopClassNotSupported,
  OutOfResources: FailureReason.OutOfResources,
  DatasetDoesNotMatchSopClass: FailureReason.DatasetDoesNotMatchSopClass,
  CannotUnderstand: FailureReason.CannotUnderstand,
} as const;

export interface StoreAnswer {
  status: number;
  /** (0000,0902) Error Comment: LO, at most 64 characters, never patient data. Not sent with Success. */
  errorComment?: string;
}

/** LO is 64 characters; messages here are built from reasons and UIDs, never from patient attributes. */
export function errorComment(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\\\u0000-\u001f]/g, ' ').trim();
  return clean.length <= 64 ? clean : `${clean.slice(0, 61)}...`;
}

/**
 * An exception where an answer was expected: a non-retryable AppError means this instance cannot be
 * handled (0xC000); anything else is treated as transient (0xA700, which every SCU treats as "retry
 * later"). Either way the SCU gets an answer.
 */
export function answerForException(error: unknown): StoreAnswer {
  if (isAppError(error) && !error.retryable) return { status: StoreStatus.CannotUnderstand, errorComment: 'The archive could not process this instance' };
  return { status: StoreStatus.OutOfResources, errorComment: 'The archive is temporarily unable to store; retry later' };
}

/** `0xA700`: the form used in metric labels and logs. */
export function statusLabel(status: number): string {
  return `0x${status.toString(16).toUpperCase().padStart(4, '0')}`;
}
