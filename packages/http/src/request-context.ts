import type { RequestHandler } from 'express';
import { newRequestId, runWithContext, sanitizeRequestId } from '@yunying/core';

declare module 'express-serve-static-core' {
  interface Request {
    requestId: string;
  }
}

/**
 * Gives every request an id (the caller's X-Request-Id when it is plain, else a new one), echoes it in
 * the response and runs the rest of the chain inside its async context so every log line carries it.
 */
export const requestContext: RequestHandler = (req, res, next) => {
  const requestId = sanitizeRequestId(req.headers['x-request-id']) ?? newRequestId();
  req.requestId = requestId;
  res.setHeader('X-Request-Id', requestId);
  runWithContext({ requestId }, () => next());
};
