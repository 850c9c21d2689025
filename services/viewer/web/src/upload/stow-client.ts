/**
 * Uploads over STOW-RS (PS3.18 10.5): files in batches, one multipart/related request per batch, with
 * upload progress (XMLHttpRequest: fetch has no upload progress) and retries with backoff for failures
 * that may pass (network, 408, 429, 5xx). A 4xx other than those is final.
 */

export interface BatchOutcome {
  status: number;
  stored: number;
  failed: { reason: string }[];
}

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

function retryable(status: number): boolean {
  return status === 0 || status === 408 || status === 429 || status >= 500;
}

/** Number of items in a DICOM JSON sequence of the STOW response, and FailureReason (0008,1197) of failures. */
function outcome(status: number, text: string): BatchOutcome {
  try {
    const json = JSON.parse(text) as Record<string, { Value?: Record<string, { Value?: unknown[] }>[] }>;
    const stored = json['00081199']?.Value?.length ?? 0;
    const failed = (json['00081198']?.Value ?? []).map((item) => {
      const code = item['00081197']?.Value?.[0];
      return { reason: `failure reason ${typeof code === 'number' || typeof code === 'string' ? code : 'unknown'}` };
    });
    return { status, stored, failed };
  } catch {
    return { status, stored: 0, failed: [] };
  }
}

export interface SendOptions {
  url: string;
  token: string | null;
  signal: AbortSignal;
  onProgress: (sentBytes: number, totalBytes: number) => void;
}

function sendOnce(files: File[], options: SendOptions): Promise<BatchOutcome> {
  return new Promise((resolve, reject) => {
    const boundary = `yy-${crypto.randomUUID()}`;
    const xhr = new XMLHttpRequest();
    xhr.open('POST', options.url);
    xhr.setRequestHeader('Content-Type', `multipart/related; type="application/dicom"; boundary=${boundary}`);
    xhr.setRequestHeader('Accept', 'application/dicom+json');
    if (options.token) xhr.setRequestHeader('Authorization', `Bearer ${options.token}`);
    else xhr.withCredentials = true;
    xhr.upload.onprogress = (e) => options.onProgress(e.loaded, e.total);
    xhr.onload = () => resolve(outcome(xhr.status, xhr.responseText));
    xhr.onerror = () => resolve({ status: 0, stored: 0, failed: [] });
    xhr.onabort = () => reject(new DOMException('Upload cancelled', 'AbortError'));
    options.signal.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(body(files, boundary));
  });
}

export async function sendBatch(files: File[], options: SendOptions, onRetry: (attempt: number, status: number) => void): Promise<BatchOutcome> {
  for (let attempt = 0; ; attempt++) {
    const result = await sendOnce(files, options);
    if (!retryable(result.status) || attempt >= RETRIES) return result;
    onRetry(attempt + 1, result.status);
    await new Promise<void>((resolve) => setTimeout(resolve, 1000 * 2 ** attempt));
    if (options.signal.aborted) throw new DOMException('Upload cancelled', 'AbortError');
  }
}
