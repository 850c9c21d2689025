import { AppError } from '@yunying/core';
import { COLUMN_ATTRIBUTES, COLUMN_BY_TAG, levelsUpTo, type ColumnAttribute, type QidoLevel } from './qido.attributes';
import { resolveAttributeId } from './tags';

/**
 * QIDO-RS query parameters (PS3.18 8.3.4) turned into SQL conditions over catalog columns, with the
 * matching of PS3.4 C.2.2.2: single value, list (`a,b` or `a\b`), wildcard (`*`, `?`), range for
 * dates and times (`A-B`, `-B`, `A-`), universal (empty value: return key only) and, with
 * fuzzymatching=true, a prefix match on any Person Name component. Values arrive percent-decoded
 * (express). Every value reaches SQL as a bind parameter.
 */

/** The most results one request returns, and what a request without `limit` gets; a truncated answer
 * carries a Warning header (PS3.18 8.3.4.4). */
export const MAX_LIMIT = 1000;

export interface QidoRequest {
  level: QidoLevel;
  /** Conditions on catalog columns, each a boolean SQL expression using `$n` parameters. */
  where: string[];
  params: unknown[];
  /** Tags to return besides the defaults; 'all' = every attribute the archive holds at these levels. */
  include: Set<string> | 'all';
  /** Keywords (or tags) of the matching keys, for the audit record: never their values. */
  matchKeys: string[];
  limit: number;
  offset: number;
  /** The client gave no limit or one above the cap: a truncated answer gets a Warning. */
  capped: boolean;
}

const RESERVED = new Set(['limit', 'offset', 'fuzzymatching', 'includefield']);

function bad(message: string): never {
  throw new AppError('bad_request', message);
}

function single(name: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) bad(`Query parameter ${name} is given more than once`);
  bad(`Query parameter ${name} is malformed`);
}

function intParam(name: string, value: unknown, min: number): number {
  const text = single(name, value);
  if (!/^\d{1,9}$/.test(text) || Number(text) < min) bad(`${name} must be an integer >= ${min}`);
  return Number(text);
}

/** SQL LIKE pattern of a DICOM wildcard value (backslash is PostgreSQL's default LIKE escape). */
export function likePattern(value: string): string {
  return value.replace(/[\\%_]/g, '\\$&').replace(/\*/g, '%').replace(/\?/g, '_');
}

const hasWildcard = (v: string): boolean => /[*?]/.test(v);
const UID = /^[0-9]+(\.[0-9]+)*$/;
const DATE = /^\d{8}$/;
const TIME = /^\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?$/;

class Builder {
  constructor(readonly params: unknown[]) {}

  bind(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }
}

function splitList(value: string, onComma: boolean): string[] {
  return value.split(onComma ? /[,\\]/ : /\\/).map((v) => v.trim());
}

function dateRange(attr: ColumnAttribute, item: string, b: Builder): string {
  const m = /^(\d{8})?-(\d{8})?$/.exec(item);
  if (m) {
    const [, from, to] = m;
    if (from === undefined && to === undefined) bad(`${attr.keyword}: a range needs at least one end`);
    if (from !== undefined && to !== undefined && from > to) bad(`${attr.keyword}: the range ends before it starts`);
    const parts: string[] = [];
    if (from !== undefined) parts.push(`${attr.sql} >= ${b.bind(from)}`);
    if (to !== undefined) parts.push(`${attr.sql} <= ${b.bind(to)}`);
    return parts.join(' AND ');
  }
  if (!DATE.test(item)) bad(`${attr.keyword}: expected YYYYMMDD or a range YYYYMMDD-YYYYMMDD`);
  return `${attr.sql} = ${b.bind(item)}`;
}

/** Times are text (HHMMSS.FFFFFF, possibly shorter): a partial time matches everything it starts. */
function timeBounds(item: string): { low: string; high: string } {
  return { low: item, high: `${item}${'9'.repeat(Math.max(0, 6 - item.length))}.999999` };
}

function timeRange(attr: ColumnAttribute, raw: string, b: Builder): string {
  const item = raw.replace(/:/g, '');
  const m = /^([0-9.]+)?-([0-9.]+)?$/.exec(item);
  const check = (t: string): string => (TIME.test(t) ? t : bad(`${attr.keyword}: expected HHMMSS[.FFFFFF] or a range`));
  if (m) {
    const [, from, to] = m;
    if (from === undefined && to === undefined) bad(`${attr.keyword}: a range needs at least one end`);
    const parts: string[] = [];
    if (from !== undefined) parts.push(`${attr.sql} >= ${b.bind(timeBounds(check(from)).low)}`);
    if (to !== undefined) parts.push(`${attr.sql} <= ${b.bind(timeBounds(check(to)).high)}`);
    return parts.join(' AND ');
  }
  const { low, high } = timeBounds(check(item));
  return `${attr.sql} BETWEEN ${b.bind(low)} AND ${b.bind(high)}`;
}

function textCondition(attr: ColumnAttribute, items: string[], b: Builder, caseInsensitive: boolean, fuzzy: boolean): string {
  const column = caseInsensitive ? `lower(${attr.sql})` : attr.sql;
  const norm = (v: string): string => (caseInsensitive ? v.toLowerCase() : v);
  const exact = items.filter((v) => !hasWildcard(v) && !fuzzy).map(norm);
  const ors: string[] = [];
  if (exact.length === 1) ors.push(`${column} = ${b.bind(exact[0])}`);
  else if (exact.length > 1) ors.push(`${column} = ANY(${b.bind(exact)}::text[])`);
  for (const item of items) {
    if (hasWildcard(item)) {
      ors.push(`${column} LIKE ${b.bind(norm(likePattern(item)))}`);
    } else if (fuzzy) {
      // Fuzzy PN matching (our choice, PS3.18 8.3.4.1 leaves it to the server): case-insensitive
      // prefix of any name component: family, given, middle (^) or any word or group (space, =).
      const p = likePattern(norm(item));
      ors.push(`${column} LIKE ${b.bind(`${p}%`)}`);
      for (const separator of ['^', ' ', '=']) ors.push(`${column} LIKE ${b.bind(`%${separator}${p}%`)}`);
    }
  }
  return ors.length === 1 ? (ors[0] ?? 'FALSE') : `(${ors.join(' OR ')})`;
}

function condition(attr: ColumnAttribute, value: string, b: Builder, fuzzy: boolean): string | null {
  // An empty value or a lone * is universal matching: every entity matches; the key is only returned.
  if (value === '' || value === '*') return null;
  switch (attr.kind) {
    case 'uid': {
      const items = splitList(value, true);
      for (const item of items) if (item.length > 64 || !UID.test(item)) bad(`${attr.keyword}: not a UID or a list of UIDs`);
      return items.length === 1 ? `${attr.sql} = ${b.bind(items[0])}` : `${attr.sql} = ANY(${b.bind(items)}::text[])`;
    }
    case 'int': {
      const items = splitList(value, true);
      for (const item of items) if (!/^-?\d{1,9}$/.test(item)) bad(`${attr.keyword}: expected an integer or a list of integers`);
      return `${attr.sql} = ANY(${b.bind(items.map(Number))}::int[])`;
    }
    case 'date': {
      const ors = splitList(value, true).map((item) => dateRange(attr, item, b));
      return ors.length === 1 ? `(${ors[0] ?? 'FALSE'})` : `(${ors.map((o) => `(${o})`).join(' OR ')})`;
    }
    case 'time': {
      const ors = splitList(value, true).map((item) => timeRange(attr, item, b));
      return ors.length === 1 ? `(${ors[0] ?? 'FALSE'})` : `(${ors.map((o) => `(${o})`).join(' OR ')})`;
    }
    case 'modalities': {
      const items = splitList(value, true);
      for (const item of items) if (!/^[A-Z0-9_ ]{1,16}$/.test(item)) bad(`${attr.keyword}: expected modality codes (wildcards are not supported here)`);
      // The GIN index on studies.modalities serves the overlap operator.
      return `${attr.sql} && ${b.bind(items)}::text[]`;
    }
    case 'pn':
      return textCondition(attr, splitList(value, true), b, true, fuzzy);
    case 'string':
      return textCondition(attr, splitList(value, true), b, false, false);
    case 'description':
      // Descriptions may contain commas, so only backslash separates list values here.
      return textCondition(attr, splitList(value, false), b, false, false);
  }
}

function includeList(value: unknown): string[] {
  const values = Array.isArray(value) ? value : [value];
  const out: string[] = [];
  for (const v of values) {
    if (typeof v !== 'string') bad('includefield is malformed');
    out.push(...v.split(',').map((x) => x.trim()).filter((x) => x !== ''));
  }
  return out;
}

export interface QidoScope {
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
}

/** Parses the query string of a QIDO-RS request at `level`. Throws 400 for anything it does not support. */
export function parseQidoQuery(level: QidoLevel, query: Record<string, unknown>, scope: QidoScope): QidoRequest {
  const params: unknown[] = [];
  const b = new Builder(params);
  const where: string[] = [];
  const matchKeys: string[] = [];
  const allowed = new Set(levelsUpTo(level));

  const fuzzyRaw = query.fuzzymatching;
  let fuzzy = false;
  if (fuzzyRaw !== undefined) {
    const text = single('fuzzymatching', fuzzyRaw);
    if (text !== 'true' && text !== 'false') bad('fuzzymatching must be true or false');
    fuzzy = text === 'true';
  }
  const limitRaw = query.limit;
  const requested = limitRaw === undefined ? null : intParam('limit', limitRaw, 1);
  const offset = query.offset === undefined ? 0 : intParam('offset', query.offset, 0);

  let include: Set<string> | 'all' = new Set();
  if (query.includefield !== undefined) {
    for (const id of includeList(query.includefield)) {
      if (id === 'all') {
        include = 'all';
        continue;
      }
      const resolved = resolveAttributeId(id);
      if (resolved === null) bad(`includefield: unknown attribute ${id}`);
      if (include !== 'all') include.add(resolved.tag);
    }
  }

  const seen = new Set<string>();
  for (const [name, raw] of Object.entries(query)) {
    if (RESERVED.has(name)) continue;
    const id = resolveAttributeId(name);
    if (id === null) bad(`Unknown query parameter ${name}`);
    if (seen.has(id.tag)) bad(`Attribute ${name} is given more than once`);
    seen.add(id.tag);
    const value = single(name, raw);
    const attr = COLUMN_BY_TAG.get(id.tag);
    if (attr === undefined || !allowed.has(attr.level)) {
      // Return keys (empty value) of any attribute are fine; matching needs a catalog column.
      if (value === '') {
        if (include !== 'all') include.add(id.tag);
        continue;
      }
      bad(`Matching on ${id.keyword ?? id.tag} is not supported at the ${level} level`);
    }
    matchKeys.push(attr.keyword);
    if (include !== 'all') include.add(attr.tag);
    const sql = condition(attr, value, b, fuzzy);
    if (sql !== null) where.push(sql);
  }

  if (scope.studyInstanceUid !== undefined) where.push(`s.study_instance_uid = ${b.bind(scope.studyInstanceUid)}`);
  if (scope.seriesInstanceUid !== undefined) where.push(`se.series_instance_uid = ${b.bind(scope.seriesInstanceUid)}`);

  const capped = requested === null || requested > MAX_LIMIT;
  return {
    level,
    where,
    params,
    include,
    matchKeys,
    limit: requested === null ? MAX_LIMIT : Math.min(requested, MAX_LIMIT),
    offset,
    capped,
  };
}

/** Column attributes returned at `level` for 'all'. */
export function allColumns(level: QidoLevel): ColumnAttribute[] {
  const levels = new Set(levelsUpTo(level));
  return COLUMN_ATTRIBUTES.filter((a) => levels.has(a.level));
}
