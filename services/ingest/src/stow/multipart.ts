import { AppError } from '@yunying/core';
import { ChunkList, joinChunks } from './chunk-list';

/**
 * A streaming reader of multipart/related bodies (RFC 2387 over RFC 2046 5.1), as STOW-RS sends them
 * (PS3.18 10.5.1.1). Parts are yielded one at a time as soon as they are complete, so a request is never
 * held whole in memory: at most one part (bounded by `maxPartBytes`) plus one network chunk.
 * busboy and friends handle only multipart/form-data, hence this small reader.
 */

export interface MultipartPart {
  headers: Record<string, string>;
  /** The part body, or null when it exceeded maxPartBytes (its bytes were discarded). */
  body: Buffer | null;
  /** Bytes the part had (counted even when discarded). */
  size: number;
}

export interface MultipartLimits {
  maxPartBytes: number;
  maxTotalBytes: number;
  maxParts: number;
  maxHeaderBytes: number;
}

export interface ContentTypeInfo {
  mediaType: string;
  params: Record<string, string>;
}

/**
 * Parses a Content-Type header value (RFC 9110 8.3), with quoted parameter values. Not the `content-type`
 * package (#19 asked for maintained parsers): 1.0.5 throws on `type=application/dicom` unquoted (a '/'
 * is not a token character) and on a trailing ';', both of which STOW-RS clients send; the tests in
 * multipart.test.ts pin these forms.
 */
export function parseContentType(value: string | undefined): ContentTypeInfo | null {
  if (!value) return null;
  const [head, ...rest] = splitParams(value);
  const mediaType = head?.trim().toLowerCase();
  if (!mediaType || !/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(mediaType)) return null;
  const params: Record<string, string> = {};
  for (const raw of rest) {
    const eq = raw.indexOf('=');
    if (eq < 0) continue;
    const name = raw.slice(0, eq).trim().toLowerCase();
    let val = raw.slice(eq + 1).trim();
    if (val.startsWith('"') && val.endsWith('"') && val.length >= 2) val = val.slice(1, -1).replace(/\\(.)/g, '$1');
    params[name] = val;
  }
  return { mediaType, params };
}

function splitParams(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (ch === '"' && value[i - 1] !== '\\') quoted = !quoted;
    if (ch === ';' && !quoted) {
      out.push(current);
      current = '';
    } else current += ch;
  }
  out.push(current);
  return out;
}

const CRLF = Buffer.from('\r\n');
/** Longest boundary accepted: well above the 200 characters some clients send, still bounded. */
export const MAX_BOUNDARY_LENGTH = 1000;
const HEADER_END = Buffer.from('\r\n\r\n');
/** How much preamble is searched for the first delimiter before the body is refused. */
const MAX_PREAMBLE_BYTES = 64 * 1024;

type Phase = 'preamble' | 'after-delimiter' | 'headers' | 'body' | 'done';

/**
 * Yields each part of a multipart body read from `source`. Throws AppError 'bad_request' on a
 * malformed body and 'payload_too_large' when maxTotalBytes or maxParts is exceeded.
 *
 * Memory and copies (#14): network chunks are kept as they came (ChunkList) and a part's body is a list
 * of views of them, so a byte is copied once at most: when its part spans several chunks and is joined
 * for the consumer. The next chunk is read only when the consumer asks for the next part, so a slow
 * consumer stops reading the socket (back-pressure) and at most one part plus one chunk is held.
 */
export async function* readMultipart(source: AsyncIterable<Buffer | string>, boundary: string, limits: MultipartLimits): AsyncGenerator<MultipartPart> {
  // RFC 2046 caps boundaries at 70 characters for generators; receivers are liberal (Orthanc 1.10 sends 73).
  if (boundary.length > MAX_BOUNDARY_LENGTH || !/^[ -~]+$/.test(boundary) || boundary.endsWith(' ')) throw new AppError('bad_request', 'Invalid multipart boundary');
  const dashBoundary = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const pending = new ChunkList();
  let phase: Phase = 'preamble';
  let atBodyStart = true;
  let total = 0;
  let parts = 0;
  let headers: Record<string, string> = {};
  let body: Buffer[] = [];
  let size = 0;
  let overflow = false;

  const takeBody = (n: number): void => {
    if (n <= 0) return;
    size += n;
    if (size > limits.maxPartBytes) overflow = true;
    if (overflow) {
      body = [];
      pending.skip(n);
    } else body.push(...pending.take(n));
  };

  for await (const raw of source) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    total += chunk.length;
    if (total > limits.maxTotalBytes) throw new AppError('payload_too_large', `Request body exceeds ${limits.maxTotalBytes} bytes`);
    pending.push(chunk);

    for (;;) {
      if (phase === 'preamble') {
        // The first delimiter may be at the very start (no CRLF before it) or after a preamble.
        const at = pending.indexOf(dashBoundary);
        if (at < 0) {
          if (pending.length > MAX_PREAMBLE_BYTES) throw new AppError('bad_request', 'No multipart boundary found in the body');
          break;
        }
        const afterCrlf = at >= 2 && pending.byteAt(at - 2) === 0x0d && pending.byteAt(at - 1) === 0x0a;
        if (!(at === 0 && atBodyStart) && !afterCrlf) {
          pending.skip(at + 1);
          atBodyStart = false;
          continue;
        }
        pending.skip(at + dashBoundary.length);
        phase = 'after-delimiter';
      }
      if (phase === 'after-delimiter') {
        if (pending.length < 2) break;
        if (pending.byteAt(0) === 0x2d && pending.byteAt(1) === 0x2d) {
          phase = 'done';
          break;
        }
        // Transport padding (spaces/tabs) may follow the delimiter before its CRLF.
        const eol = pending.indexOf(CRLF);
        if (eol < 0) {
          if (pending.length > 256) throw new AppError('bad_request', 'Malformed multipart delimiter line');
          break;
        }
        if (!/^[ \t]*$/.test(pending.takeContiguous(eol).toString('latin1'))) throw new AppError('bad_request', 'Malformed multipart delimiter line');
        pending.skip(2);
        phase = 'headers';
        parts += 1;
        if (parts > limits.maxParts) throw new AppError('payload_too_large', `More than ${limits.maxParts} parts in one request`);
      }
      if (phase === 'headers') {
        // A part may have no headers at all: then the body starts right after one CRLF.
        if (pending.length >= 2 && pending.byteAt(0) === 0x0d && pending.byteAt(1) === 0x0a) {
          headers = {};
          pending.skip(2);
        } else {
          const end = pending.indexOf(HEADER_END);
          if (end < 0) {
            if (pending.length > limits.maxHeaderBytes) throw new AppError('bad_request', 'Multipart part headers too large');
            break;
          }
          headers = parseHeaders(pending.takeContiguous(end).toString('latin1'));
          pending.skip(4);
        }
        body = [];
        size = 0;
        overflow = false;
        phase = 'body';
      }
      if (phase === 'body') {
        const at = pending.indexOf(delimiter);
        if (at < 0) {
          // Keep a tail that could be the start of a delimiter split across chunks.
          takeBody(pending.length - (delimiter.length - 1));
          break;
        }
        takeBody(at);
        const part: MultipartPart = { headers, body: overflow ? null : joinChunks(body, size), size };
        body = [];
        pending.skip(delimiter.length);
        phase = 'after-delimiter';
        yield part;
      }
    }
    if (phase === 'done') break;
  }
  if (phase !== 'done') throw new AppError('bad_request', 'Multipart body ended before its closing boundary');
}

function parseHeaders(block: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new AppError('bad_request', 'Malformed multipart part header');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}
