/**
 * How a call to the archive can fail, by what the caller should do about it (Bull's distinction between
 * "retry" and "retrying cannot help"). Per-instance refusals are not errors: they are outcomes.
 */

/** Network errors, timeouts, 5xx, 503 with Retry-After, 408, 429: try the same request again later. */
export class TransientError extends Error {
  constructor(
    message: string,
    /** The server's Retry-After, when it gave one. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'TransientError';
  }
}

/** 401/403: the API key was refused. Retrying with the same key cannot help. */
export class AuthRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthRefusedError';
  }
}

/** 413: the request as a whole was too large; the caller splits the batch. */
export class RequestTooLargeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RequestTooLargeError';
  }
}

/** Any other 4xx for the request as a whole (400, 406, 415): every file in it is refused with this message. */
export class RequestRefusedError extends Error {
  constructor(
    message: string,
    readonly httpStatus: number,
  ) {
    super(message);
    this.name = 'RequestRefusedError';
  }
}

/** The retry budget ran out; `cause` is the last transient error. */
export class GaveUpError extends Error {
  constructor(
    message: string,
    readonly last: unknown,
  ) {
    super(message);
    this.name = 'GaveUpError';
  }
}

const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'UND_ERR_SOCKET']);

/** A network-level failure (no HTTP answer) as a TransientError; anything else unchanged. */
export function asTransient(error: unknown): unknown {
  if (error instanceof TransientError) return error;
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  if (TRANSIENT_CODES.has(code)) return new TransientError(`archive unreachable (${code})`);
  return error;
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
