import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { STOW_RETRY_LATER_REASON, StowTag, isStoredStatus, parseFailureNote, type StoredStatus } from '@yunying/dicom';
import { AuthRefusedError, RequestRefusedError, RequestTooLargeError, TransientError, asTransient } from './archive.errors';

/**
 * A STOW-RS client (PS3.18 10.5) for Yunying's ingest service: one POST /dicomweb/studies per batch, a
 * multipart/related body of application/dicom parts streamed from disk with a declared Content-Length
 * (so the archive can refuse an oversized request before reading it), authenticated by a device API key.
 *
 * The answer is mapped back to the files of the batch: each FailedSOPSequence item names its part
 * ("part N: ..." in the private text 0099,1012; the wire contract is @yunying/dicom stow-wire.ts), and ReferencedSOPSequence items follow the remaining
 * parts in order (stow.response.ts on the ingest side builds them so); SOP Instance UIDs are checked
 * where the caller knows them.
 */

export interface StowFile {
  path: string;
  size: number;
  /** When known, checked against the archive's answer for this part. */
  sopInstanceUid?: string;
}

export type { StoredStatus } from '@yunying/dicom';

export type FileOutcome =
  | { kind: 'stored'; status: StoredStatus; sopInstanceUid: string | null }
  | { kind: 'rejected'; reason: string; failureReason: number | null; message: string; sopInstanceUid?: string | null }
  /** The archive could not store this one right now (storage_unavailable): send it again later. */
  | { kind: 'retry'; message: string };

export interface StowClientOptions {
  ingestUrl: string;
  apiKey: string;
  /** No response (or no progress) for this long aborts the request as a transient failure. */
  timeoutMs: number;
  userAgent: string;
}

type Json = Record<string, { vr?: string; Value?: unknown[] }>;

const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

export class StowClient {
  private readonly agent: http.Agent;
  private readonly url: URL;

  constructor(private readonly options: StowClientOptions) {
    this.url = new URL(`${options.ingestUrl.replace(/\/+$/, '')}/dicomweb/studies`);
    this.agent = this.url.protocol === 'https:' ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  }

  close(): void {
    this.agent.destroy();
  }

  /**
   * Sends one batch. Returns one outcome per file, in order; throws TransientError, AuthRefusedError,
   * RequestTooLargeError or RequestRefusedError for the request as a whole.
   */
  async send(files: readonly StowFile[], onBytes?: (bytes: number) => void): Promise<FileOutcome[]> {
    if (files.length === 0) return [];
    const boundary = `yunying-${randomBytes(12).toString('hex')}`;
    const partHeader = Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`);
    const crlf = Buffer.from('\r\n');
    const closing = Buffer.from(`--${boundary}--\r\n`);
    const length = files.reduce((sum, f) => sum + partHeader.length + f.size + crlf.length, closing.length);

    async function* body(): AsyncGenerator<Buffer> {
      for (const file of files) {
        yield partHeader;
        let read = 0;
        for await (const chunk of fs.createReadStream(file.path, { highWaterMark: 256 * 1024 })) {
          const buffer = chunk as Buffer;
          read += buffer.length;
          // The declared Content-Length is a promise to the server: a file that grew is cut, one that shrank fails.
          if (read > file.size) {
            yield buffer.subarray(0, buffer.length - (read - file.size));
            break;
          }
          onBytes?.(buffer.length);
          yield buffer;
        }
        if (read < file.size) throw new TransientError(`${file.path} changed while it was being sent`);
        yield crlf;
      }
      yield closing;
    }

    const { status, headers, text } = await this.post(Readable.from(body()), {
      'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
      'content-length': String(length),
      accept: 'application/dicom+json',
      authorization: `ApiKey ${this.options.apiKey}`,
      'user-agent': this.options.userAgent,
    });
    return interpret(status, headers, text, files);
  }

  private post(body: Readable, headers: http.OutgoingHttpHeaders): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
    const transport = this.url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (error: unknown): void => {
        if (settled) return;
        settled = true;
        body.destroy();
        req.destroy();
        const transient = asTransient(error);
        reject(transient instanceof Error ? transient : new Error(String(transient)));
      };
      const req = transport.request(this.url, { method: 'POST', headers, agent: this.agent, timeout: this.options.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_RESPONSE_BYTES) chunks.push(chunk);
        });
        res.on('error', fail);
        res.on('end', () => {
          if (settled) return;
          settled = true;
          // The server may answer (401, 413, 503) before it has read the whole body: stop sending.
          body.destroy();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
        });
      });
      req.on('timeout', () => fail(new TransientError(`no answer from the archive within ${this.options.timeoutMs} ms`)));
      req.on('error', fail);
      body.on('error', fail);
      body.pipe(req);
    });
  }
}

/** Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function items(body: Json, tag: string): Json[] {
  const value = body[tag]?.Value;
  return Array.isArray(value) ? value.filter((v): v is Json => typeof v === 'object' && v !== null) : [];
}

function first(item: Json, tag: string): unknown {
  return item[tag]?.Value?.[0];
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function shortMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === 'object' && parsed !== null) {
      const record = parsed as Record<string, unknown>;
      const error = record.error;
      if (typeof error === 'object' && error !== null && typeof (error as Record<string, unknown>).message === 'string') return String((error as Record<string, unknown>).message);
      if (typeof record.message === 'string') return record.message;
    }
  } catch {
    // not JSON
  }
  return text.slice(0, 200);
}

/** The archive's answer as one outcome per file (exported for unit tests). */
export function interpret(status: number, headers: http.IncomingHttpHeaders, text: string, files: readonly StowFile[]): FileOutcome[] {
  if (status === 401 || status === 403) throw new AuthRefusedError(`the archive refused the API key (${status}): ${shortMessage(text)}`);
  if (status === 413) throw new RequestTooLargeError(`request too large: ${shortMessage(text)}`);
  if (status === 503 || status === 429 || status === 408 || status >= 500) {
    throw new TransientError(`archive answered ${status}: ${shortMessage(text)}`, retryAfterMs(headers['retry-after']));
  }
  if (status !== 200 && status !== 202 && status !== 409) throw new RequestRefusedError(`archive refused the request (${status}): ${shortMessage(text)}`, status);

  let body: Json;
  try {
    body = JSON.parse(text) as Json;
  } catch {
    throw new TransientError(`archive answered ${status} with a body that is not DICOM JSON`);
  }
  const outcomes: Array<FileOutcome | undefined> = files.map(() => undefined);
  for (const item of items(body, '00081198')) {
    const text = str(first(item, StowTag.failureNote)) ?? '';
    const note = parseFailureNote(text);
    const index = note ? note.part - 1 : -1;
    if (index < 0 || index >= files.length || outcomes[index] !== undefined) throw new TransientError('archive answer does not name the failed part');
    const reason = str(first(item, StowTag.failureReason)) ?? 'rejected';
    const failureReason = first(item, '00081197');
    const message = note?.message ?? text;
    // Only a storage outage is worth sending again (see the ingest pipeline's `unavailable`).
    outcomes[index] =
      reason === STOW_RETRY_LATER_REASON
        ? { kind: 'retry', message }
        : { kind: 'rejected', reason, failureReason: typeof failureReason === 'number' ? failureReason : null, message, sopInstanceUid: str(first(item, '00081155')) };
  }
  const referenced = items(body, '00081199');
  let next = 0;
  for (let i = 0; i < files.length; i += 1) {
    if (outcomes[i] !== undefined) continue;
    const item = referenced[next];
    next += 1;
    if (item === undefined) throw new TransientError('archive answer has fewer items than parts');
    const sopInstanceUid = str(first(item, '00081155'));
    const expected = files[i]?.sopInstanceUid;
    if (expected !== undefined && sopInstanceUid !== null && sopInstanceUid !== expected) throw new TransientError('archive answer items do not match the parts sent');
    const state = str(first(item, StowTag.storedStatus));
    outcomes[i] = { kind: 'stored', status: isStoredStatus(state) ? state : 'STORED', sopInstanceUid };
  }
  return outcomes.map((o) => o ?? { kind: 'retry', message: 'no answer for this part' });
}
