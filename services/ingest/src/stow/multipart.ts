import { AppError } from '@yunying/core';

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

/** Parses a Content-Type header value (RFC 9110 8.3), with quoted parameter values. */
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

type Phase = 'preamble' | 'after-delimiter' | 'headers' | 'body' | 'done';

/**
 * Yields each part of a multipart body read from `source`. Throws AppError 'bad_request' on a
 * malformed body and 'payload_too_large' when maxTotalBytes or maxParts is exceeded.
 */
export async function* readMultipart(source: AsyncIterable<Buffer | string>, boundary: string, limits: MultipartLimits): AsyncGenerator<MultipartPart> {
  // RFC 2046 caps boundaries at 70 characters for generators; receivers are liberal (Orthanc 1.10 sends 73).
  if (boundary.length > MAX_BOUNDARY_LENGTH || !/^[ -~]+$/.test(boundary) || boundary.endsWith(' ')) throw new AppError('bad_request', 'Invalid multipart boundary');
  const dashBoundary = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  let pending: Buffer = Buffer.alloc(0);
  let phase: Phase = 'preamble';
  let total = 0;
  let parts = 0;
  let headers: Record<string, string> = {};
  let chunks: Buffer[] = [];
  let size = 0;
  let overflow = false;

  const takeBody = (upTo: number): void => {
    if (upTo <= 0) return;
    size += upTo;
    if (size > limits.maxPartBytes) {
      overflow = true;
      chunks = [];
    } else if (!overflow) chunks.push(pending.subarray(0, upTo));
    pending = pending.subarray(upTo);
  };

  for await (const raw of source) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    total += chunk.length;
    if (total > limits.maxTotalBytes) throw new AppError('payload_too_large', `Request body exceeds ${limits.maxTotalBytes} bytes`);
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);

    for (;;) {
      if (phase === 'preamble') {
        // The first delimiter may be at the very start (no CRLF before it) or after a preamble.
        const at = pending.indexOf(dashBoundary);
        if (at < 0) {
          if (pending.length > 64 * 1024) throw new AppError('bad_request', 'No multipart boundary found in the body');
          break;
        }
        if (at > 0 && !(at >= 2 && pending[at - 2] === 0x0d && pending[at - 1] === 0x0a)) {
          pending = pending.subarray(at + 1);
          continue;
        }
        pending = pending.subarray(at + dashBoundary.length);
        phase = 'after-delimiter';
      }
      if (phase === 'after-delimiter') {
        if (pending.length < 2) break;
        if (pending[0] === 0x2d && pending[1] === 0x2d) {
          phase = 'done';
          break;
        }
        // Transport padding (spaces/tabs) may follow the delimiter before its CRLF.
        const eol = pending.indexOf(CRLF);
        if (eol < 0) {
          if (pending.length > 256) throw new AppError('bad_request', 'Malformed multipart delimiter line');
          break;
        }
        if (!/^[ \t]*$/.test(pending.subarray(0, eol).toString('latin1'))) throw new AppError('bad_request', 'Malformed multipart delimiter line');
        pending = pending.subarray(eol + 2);
        phase = 'headers';
        parts += 1;
        if (parts > limits.maxParts) throw new AppError('payload_too_large', `More than ${limits.maxParts} parts in one request`);
      }
      if (phase === 'headers') {
        // A part may have no headers at all: then the body starts right after one CRLF.
        if (pending.length >= 2 && pending[0] === 0x0d && pending[1] === 0x0a) {
          headers = {};
          pending = pending.subarray(2);
        } else {
          const end = pending.indexOf(HEADER_END);
          if (end < 0) {
            if (pending.length > limits.maxHeaderBytes) throw new AppError('bad_request', 'Multipart part headers too large');
            break;
          }
          headers = parseHeaders(pending.subarray(0, end).toString('latin1'));
          pending = pending.subarray(end + 4);
        }
        chunks = [];
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
        const body = overflow ? null : Buffer.concat(chunks);
        pending = pending.subarray(delimiter.length);
        phase = 'after-delimiter';
        yield { headers, body, size };
        chunks = [];
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
