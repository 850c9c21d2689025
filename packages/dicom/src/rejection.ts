import { AppError } from '@yunying/core';
import type { AppErrorCode } from '@yunying/core';

/**
 * Why an instance was refused. Each reason maps to one PS3.7 C-STORE status / PS3.18 STOW-RS
 * FailureReason (0008,1197) so the DIMSE and DICOMweb front ends answer alike:
 *
 * | reason                  | failureReason | meaning (PS3.7 Annex C / PS3.18 Table 10.5.3-3)      |
 * |-------------------------|---------------|------------------------------------------------------|
 * | not_part10              | 0xC000        | cannot understand: no preamble + "DICM" (STOW needs Part 10) |
 * | invalid_file_meta       | 0xC000        | group 0002 unreadable or missing (0002,0010)         |
 * | unknown_transfer_syntax | 0xC122        | transfer syntax not supported                        |
 * | truncated               | 0xC000        | the file ends inside an element                      |
 * | invalid_length          | 0xC000        | a declared length runs past the end of the file      |
 * | malformed               | 0xC000        | any other structural error                           |
 * | nesting_too_deep        | 0xC000        | sequences nested deeper than the limit               |
 * | too_large               | 0xA700        | refused: out of resources (size limit)               |
 * | too_many_frames         | 0xA700        | refused: out of resources (frame limit)              |
 * | unsupported_sop_class   | 0x0122        | SOP class not supported (e.g. a DICOMDIR)            |
 * | missing_uid             | 0xA900        | dataset does not match SOP class (Type 1 UID absent) |
 * | invalid_uid             | 0xA900        | a UID longer than 64 or not digits and dots          |
 * | sop_class_mismatch      | 0xA900        | meta (0002,0002) differs from (0008,0016)            |
 * | pixel_data_inconsistent | 0xA900        | Rows/Columns/frames do not fit the pixel data        |
 */
export type RejectionReason =
  | 'not_part10'
  | 'invalid_file_meta'
  | 'unknown_transfer_syntax'
  | 'truncated'
  | 'invalid_length'
  | 'malformed'
  | 'nesting_too_deep'
  | 'too_large'
  | 'too_many_frames'
  | 'unsupported_sop_class'
  | 'missing_uid'
  | 'invalid_uid'
  | 'sop_class_mismatch'
  | 'pixel_data_inconsistent';

export const FailureReason = {
  ProcessingFailure: 0x0110,
  SopClassNotSupported: 0x0122,
  OutOfResources: 0xa700,
  DatasetDoesNotMatchSopClass: 0xa900,
  CannotUnderstand: 0xc000,
  TransferSyntaxNotSupported: 0xc122,
} as const;

export const rejectionFailureReason: Readonly<Record<RejectionReason, number>> = {
  not_part10: FailureReason.CannotUnderstand,
  invalid_file_meta: FailureReason.CannotUnderstand,
  unknown_transfer_syntax: FailureReason.TransferSyntaxNotSupported,
  truncated: FailureReason.CannotUnderstand,
  invalid_length: FailureReason.CannotUnderstand,
  malformed: FailureReason.CannotUnderstand,
  nesting_too_deep: FailureReason.CannotUnderstand,
  too_large: FailureReason.OutOfResources,
  too_many_frames: FailureReason.OutOfResources,
  unsupported_sop_class: FailureReason.SopClassNotSupported,
  missing_uid: FailureReason.DatasetDoesNotMatchSopClass,
  invalid_uid: FailureReason.DatasetDoesNotMatchSopClass,
  sop_class_mismatch: FailureReason.DatasetDoesNotMatchSopClass,
  pixel_data_inconsistent: FailureReason.DatasetDoesNotMatchSopClass,
};

function appCodeFor(reason: RejectionReason): AppErrorCode {
  switch (reason) {
    case 'not_part10':
      return 'bad_request';
    case 'too_large':
      return 'payload_too_large';
    case 'invalid_file_meta':
    case 'unknown_transfer_syntax':
    case 'truncated':
    case 'invalid_length':
    case 'malformed':
    case 'nesting_too_deep':
    case 'too_many_frames':
    case 'unsupported_sop_class':
    case 'missing_uid':
    case 'invalid_uid':
    case 'sop_class_mismatch':
    case 'pixel_data_inconsistent':
      return 'unprocessable';
  }
}

export interface RejectionContext {
  sopInstanceUid?: string;
  sopClassUid?: string;
  cause?: unknown;
}

/**
 * A DICOM instance this archive will not store. Permanent: retrying the same bytes cannot succeed.
 * `message` never contains patient data; only tags, UIDs' absence, lengths and offsets.
 */
export class DicomRejection extends AppError {
  readonly reason: RejectionReason;
  readonly failureReason: number;
  readonly sopInstanceUid: string | undefined;
  readonly sopClassUid: string | undefined;

  constructor(reason: RejectionReason, message: string, context: RejectionContext = {}) {
    const failureReason = rejectionFailureReason[reason];
    super(appCodeFor(reason), message, {
      retryable: false,
      cause: context.cause,
      details: { reason, failureReason },
    });
    this.name = 'DicomRejection';
    this.reason = reason;
    this.failureReason = failureReason;
    this.sopInstanceUid = context.sopInstanceUid;
    this.sopClassUid = context.sopClassUid;
  }
}

export function isDicomRejection(error: unknown): error is DicomRejection {
  return error instanceof DicomRejection;
}
