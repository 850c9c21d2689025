/**
 * Accept header parsing for WADO-RS content negotiation (PS3.18 8.7). A media range keeps its
 * parameters (`type`, `transfer-syntax`) because DICOMweb negotiates on them. Not the `negotiator`
 * package (#19 asked for maintained parsers): its mediaTypes() returns the chosen types without their
 * parameters, so `multipart/related; type="application/dicom"; transfer-syntax=...` could not be told
 * from `multipart/related; type="image/jpeg"`.
 */
export interface MediaRange {
  /** Lower case, e.g. `multipart/related`, `image/jpeg`, `*\/*`. */
  mediaType: string;
  params: Record<string, string>;
  q: number;
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === separator && !quoted) {
      out.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  out.push(current);
  return out;
}

/** The media ranges of an Accept header, best first (stable for equal q). Absent header: `*\/*`. */
export function parseAccept(header: string | undefined): MediaRange[] {
  if (header === undefined || header.trim() === '') return [{ mediaType: '*/*', params: {}, q: 1 }];
  const ranges: MediaRange[] = [];
  for (const item of splitOutsideQuotes(header, ',')) {
    const [typePart, ...paramParts] = splitOutsideQuotes(item, ';');
    const mediaType = (typePart ?? '').trim().toLowerCase();
    if (mediaType === '') continue;
    const params: Record<string, string> = {};
    let q = 1;
    for (const part of paramParts) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      const name = part.slice(0, eq).trim().toLowerCase();
      const value = part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
      if (name === 'q') q = Number.isFinite(Number(value)) ? Number(value) : 0;
      else params[name] = name === 'type' ? value.toLowerCase() : value;
    }
    if (q > 0) ranges.push({ mediaType, params, q });
  }
  return ranges
    .map((range, index) => ({ range, index }))
    .sort((a, b) => b.range.q - a.range.q || a.index - b.index)
    .map((x) => x.range);
}

/** Whether `range` (e.g. `image/*`) covers the concrete `mediaType`. */
export function covers(range: string, mediaType: string): boolean {
  if (range === '*/*' || range === mediaType) return true;
  return range.endsWith('/*') && mediaType.startsWith(range.slice(0, -1));
}
