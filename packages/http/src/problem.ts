import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { AppError, currentRequestId, describeError, type Logger } from '@yunying/core';
import { localizedDetail } from './problem-zh';

/**
 * RFC 9457 problem details. Every error response of every Yunying HTTP service goes through
 * `sendProblem`, so clients get one shape: type, title, status, detail, code, requestId.
 */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  requestId?: string;
  [extension: string]: unknown;
}

const titles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** `acceptLanguage`: the request's Accept-Language; Chinese where it prefers Chinese and a text exists (problem-zh.ts). */
export function problemFrom(error: AppError, acceptLanguage?: string): Problem {
  return {
    ...(error.details ?? {}),
    type: `https://yunying.example/problems/${error.code}`,
    title: titles[error.status] ?? 'Error',
    status: error.status,
    detail: localizedDetail(error.message, acceptLanguage),
    code: error.code,
    requestId: currentRequestId(),
  };
}

export function sendProblem(res: Response, error: AppError): void {
  if (error.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(Math.ceil(error.retryAfterSeconds)));
  if (error.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="yunying"');
  // The detail's language follows the request's; a response in another language than the English varies by it.
  const acceptLanguage = res.req.headers['accept-language'];
  if (acceptLanguage !== undefined) res.vary('Accept-Language');
  res.status(error.status).type('application/problem+json').send(JSON.stringify(problemFrom(error, acceptLanguage)));
}

/** Body-parser and other framework errors carry a numeric status and a `type`; keep their meaning, not their text. */
function fromFrameworkError(error: unknown): AppError | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const status = (error as { status?: unknown }).status;
  const type = (error as { type?: unknown }).type;
  if (typeof status !== 'number' || status < 400 || status >= 500) return undefined;
  if (type === 'entity.too.large') return new AppError('payload_too_large', 'Request body too large');
  if (type === 'entity.parse.failed') return new AppError('bad_request', 'Malformed request body');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') return new AppError('unsupported_media_type', 'Unsupported body encoding');
  return new AppError('bad_request', 'Bad request', { status });
}

/** The one error handler: AppError -> its problem; anything else -> 500 with only a correlation id. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, next) => {
    if (res.headersSent) {
      // A streamed response failed half-way: the socket is all we can end.
      logger.error({ err: describeError(error) }, 'error after response headers were sent');
      next(error);
      return;
    }
    const known = error instanceof AppError ? error : fromFrameworkError(error);
    if (known) {
      if (known.status >= 500) logger.error({ code: known.code, err: describeError(error) }, 'request failed');
      sendProblem(res, known);
      return;
    }
    logger.error({ err: error }, 'unhandled error');
    sendProblem(res, new AppError('internal', 'Internal error; quote the request id when reporting it'));
  };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new AppError('not_found', `No route for ${req.method} ${req.path}`));
};
