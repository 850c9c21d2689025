import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/**
 * Per-request (or per-job) context carried through async calls, so every log line written while
 * handling a request carries its request id without threading a logger through every function.
 */
export interface RequestContext {
  requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function runWithContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/**
 * Runs `fn` (and what it schedules) outside any request's context: for work done on behalf of several requests
 * at once (a group commit), which must not carry the id of whichever request happened to start it.
 */
export function runOutsideContext<T>(fn: () => T): T {
  return storage.exit(fn);
}

export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}

export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/** Request ids are opaque, random and never derived from patient data. */
export function newRequestId(): string {
  return randomUUID();
}

/** Accepts a caller-supplied request id only when it is short and plain, so it cannot inject log content. */
export function sanitizeRequestId(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  return /^[A-Za-z0-9._:-]{1,128}$/.test(value) ? value : undefined;
}
