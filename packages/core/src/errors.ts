/**
 * The one error currency of Yunying. Every package throws AppError (or a subclass) for failures a caller
 * should see; the HTTP error handler in @yunying/http maps it to application/problem+json (RFC 9457),
 * DIMSE code maps `dimseStatus`, and job workers use `retryable` to decide between retry and fail-now.
 *
 * `message` must be safe to show to the caller: never patient data, paths, SQL or stack traces.
 */
export type AppErrorCode =
  | 'bad_request'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'not_acceptable'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'unprocessable'
  | 'too_many_requests'
  | 'retention_locked'
  | 'unavailable'
  | 'config_invalid'
  | 'internal';

const defaultStatus: Record<AppErrorCode, number> = {
  bad_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  not_acceptable: 406,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  too_many_requests: 429,
  retention_locked: 409,
  unavailable: 503,
  config_invalid: 500,
  internal: 500,
};

export interface AppErrorOptions {
  status?: number;
  /** Whether trying the same thing again later may succeed (drives job retries and Retry-After). */
  retryable?: boolean;
  /** Seconds a client should wait before retrying (503/429). */
  retryAfterSeconds?: number;
  /** Extra members for the problem+json body; must be safe to show. */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: AppErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly retryAfterSeconds: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: AppErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = options.status ?? defaultStatus[code];
    this.retryable = options.retryable ?? (code === 'unavailable' || code === 'too_many_requests');
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.details = options.details;
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/** A failure that retrying cannot fix (corrupt input, model mismatch): fail the job at once. */
export class PermanentError extends AppError {
  constructor(message: string, options: Omit<AppErrorOptions, 'retryable'> = {}) {
    super('unprocessable', message, { ...options, retryable: false });
    this.name = 'PermanentError';
  }
}

/** The message of an unknown thrown value, for internal logs only (never for a response). */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
