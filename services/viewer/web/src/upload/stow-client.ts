/**
 * Uploads over STOW-RS (PS3.18 10.5): files in batches, one multipart/related request per batch, with
 * upload progress (XMLHttpRequest: fetch has no upload progress) and retries with backoff for failures
 * that may pass (network, 408, 429, 5xx). A 4xx other than those is final, except one 401 per batch,
 * which gets a fresh access token and is sent again.
 *
 * The ingest service is another origin: the request carries `Authorization: Bearer` (the cookie is not
 * sent cross-origin) and the ingest answers CORS for the viewer's origin, without credentials mode.
 * Response headers it does not expose (Retry-After) read as null here, so the backoff is ours then.
 */
import { parseStowResponse, retryable, retryDelayMs, type BatchOutcome } from './stow-outcome';

export const BATCH_MAX_FILES = 20;
export const BATCH_MAX_BYTES = 64 * 1024 * 1024;
const RETRIES = 3;

export function batches(files: File[]): File[][] {
  const out: File[][] = [];
  let current: File[] = [];
  let bytes = 0;
  for (const file of files) {
    if (current.length > 0 && (current.length >= BATCH_MAX_FILES || bytes + file.size > BATCH_MAX_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(file);
    bytes += file.size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

function body(files: File[], boundary: string): Blob {
  const parts: BlobPart[] = [];
  for (const file of files) parts.push(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`, file, '\r\n');
  parts.push(`--${boundary}--\r\n`);
  return new Blob(parts);
}

export interface SendOptions {
  url: string;
  /**
   * The bearer token for a cross-origin ingest, null when it is this origin (the cookie is sent).
   * `fresh` asks for a new one after a 401 (the access token expired during a long upload).
   */
  token: (fresh: boolean) => Promise<string | null>;
  signal: AbortSignal;
  onProgress: (sentBytes: number, totalBytes: number) => void;
  onRetry: (attempt: number, status: number) => void;
}

function sendOnce(files: File[], url: string, token: string | null, options: SendOptions): Promise<BatchOutcome & { retryAfter: string | null }> {
  return new Promise((resolve, reject) => {
    const boundary = `yy-${crypto.randomUUID()}`;
    const xhr = new XMLHttpRequest();
    const abort = (): void => xhr.abort();
    const done = (): void => options.signal.removeEventListener('abort', abort);
    xhr.open('POST', url);
    xhr.setRequestHeader('Content-Type', `multipart/related; type="application/dicom"; boundary=${boundary}`);
    xhr.setRequestHeader('Accept', 'application/dicom+json');
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.upload.onprogress = (e) => options.onProgress(e.loaded, e.total);
    xhr.onload = () => {
      done();
      resolve({ ...parseStowResponse(xhr.status, xhr.responseText), retryAfter: xhr.getResponseHeader('Retry-After') });
    };
    xhr.onerror = () => {
      done();
      resolve({ status: 0, stored: 0, failures: [], retryAfter: null });
    };
    xhr.onabort = () => {
      done();
      reject(new DOMException('Upload cancelled', 'AbortError'));
    };
    options.signal.addEventListener('abort', abort, { once: true });
    xhr.send(body(files, boundary));
  });
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = window.setTimeout(() => {
      signal.removeEventListener('abort', cancel);
      resolve();
    }, ms);
    function cancel(): void {
      window.clearTimeout(timer);
      reject(new DOMException('Upload cancelled', 'AbortError'));
    }
    signal.addEventListener('abort', cancel, { once: true });
  });
}

export async function sendBatch(files: File[], options: SendOptions): Promise<BatchOutcome & { attempts: number }> {
  let token = await options.token(false);
  let refreshed = false;
  let attempts = 0;
  for (;;) {
    const { retryAfter, ...result } = await sendOnce(files, options.url, token, options);
    if (result.status === 401 && !refreshed) {
      refreshed = true;
      token = await options.token(true);
      if (token !== null) continue;
    }
    attempts += 1;
    if (!retryable(result.status) || attempts > RETRIES) return { ...result, attempts };
    options.onRetry(attempts, result.status);
    await wait(retryDelayMs(attempts, retryAfter), options.signal);
  }
}
