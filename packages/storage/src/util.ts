import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { AppError, isAppError } from '@yunying/core';

/** SHA-256 and length of a stream, read to the end (full re-read; nothing is trusted from metadata). */
export async function hashStream(stream: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest('hex'), size };
}

export async function streamToBytes(stream: Readable): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** A reason for a failed copy that is safe to store and show: an AppError's message, or an errno/S3 code,
 * never a path or a server's free text. */
export function safeReason(error: unknown): string {
  if (isAppError(error)) return error.message;
  // Duck-typed: errors from node internals can come from another realm (jest), failing instanceof.
  if (typeof error === 'object' && error !== null) {
    const { code, name } = error as { code?: unknown; name?: unknown };
    if (typeof code === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(code)) return code;
    if (typeof name === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(name)) return name;
  }
  return 'unknown error';
}

export function unavailable(target: string, what: string, cause: unknown): AppError {
  return new AppError('unavailable', `replica ${target}: ${what} (${safeReason(cause)})`, {
    retryable: true,
    retryAfterSeconds: 30,
    cause,
  });
}

export function checkRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new AppError('bad_request', 'byte range: offset and length must be non-negative integers');
  }
}

/** The effective clock for retention decisions: a caller may pass an earlier `now` (tests, dry runs) but
 * never a later one, so no argument can move a delete before retain-until. */
export function retentionNow(now: Date): Date {
  const real = Date.now();
  return new Date(Math.min(now.getTime(), real));
}

export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
