import { t } from '../app/i18n';

/**
 * The first part of a multipart/related body (RFC 2387), as WADO-RS frames send it (PS3.18 8.7.3.5):
 * one frame per request here, so one part. A non-multipart body is the frame itself.
 */
export function firstPart(contentType: string | null, body: Uint8Array): Uint8Array {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  const boundary = match?.[1] ?? match?.[2];
  if (!contentType?.toLowerCase().startsWith('multipart/') || !boundary) return body;
  const delimiter = new TextEncoder().encode(`--${boundary}`);
  const start = indexOf(body, delimiter, 0);
  if (start < 0) throw new Error(t('Malformed multipart response: no boundary', '多部分响应格式错误：缺少分隔符'));
  const headersEnd = indexOf(body, new TextEncoder().encode('\r\n\r\n'), start + delimiter.length);
  if (headersEnd < 0) throw new Error(t('Malformed multipart response: no part headers', '多部分响应格式错误：缺少部分头'));
  const contentStart = headersEnd + 4;
  const end = indexOf(body, new TextEncoder().encode(`\r\n--${boundary}`), contentStart);
  if (end < 0) throw new Error(t('Malformed multipart response: no closing boundary', '多部分响应格式错误：缺少结束分隔符'));
  return body.subarray(contentStart, end);
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  const firstByte = needle[0];
  outer: for (let i = haystack.indexOf(firstByte ?? 0, from); i >= 0 && i <= haystack.length - needle.length; i = haystack.indexOf(firstByte ?? 0, i + 1)) {
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
