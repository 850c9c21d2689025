import { PermanentError } from '@yunying/core';

/**
 * Why a frame could not be decoded. All are permanent: the same bytes will never decode, so a job
 * that meets one fails at once with the message (which names no patient data).
 *
 * | reason                 | meaning                                                                |
 * |------------------------|------------------------------------------------------------------------|
 * | no_pixel_data          | the instance has no Pixel Data, or the frame index does not exist      |
 * | unsupported_syntax     | a transfer syntax this package does not decode (MPEG, HTJ2K, 12-bit JPEG) |
 * | unsupported_format     | an attribute combination not decoded (32-bit, 1-bit, YBR_ICT native...) |
 * | inconsistent           | attributes contradict each other or the decoded codestream             |
 * | corrupt                | the compressed stream could not be decoded                             |
 */
export type PixelDecodeReason = 'no_pixel_data' | 'unsupported_syntax' | 'unsupported_format' | 'inconsistent' | 'corrupt';

export class PixelDecodeError extends PermanentError {
  readonly reason: PixelDecodeReason;

  constructor(reason: PixelDecodeReason, message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, details: { reason } });
    this.name = 'PixelDecodeError';
    this.reason = reason;
  }
}

export function isPixelDecodeError(error: unknown): error is PixelDecodeError {
  return error instanceof PixelDecodeError;
}
