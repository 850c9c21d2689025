import type { Pool } from '@yunying/catalog';
import { AppError } from '@yunying/core';
import { attributeOfKeyword, keywordOfTag, type DicomJsonObject } from '@yunying/dicom';
import type { QueryModel } from '@yunying/dimse';

/**
 * A C-FIND Identifier (PS3.4 C.4.1.1.3) turned into one SQL query over the catalog, with the matching
 * of PS3.4 C.2.2.2: single value, universal (empty value: return only), wildcard (`*`, `?`), range for
 * dates and times (`A-B`, `-B`, `A-`), list of UIDs (`a\b`). Every value reaches SQL as a bind parameter.
 * Person names match case-insensitively. Higher-level unique keys are matched when given, not required
 * (lenient hierarchical search). Sequence keys (C.2.2.2.6) are answered from the DICOM JSON the catalog
 * keeps of each instance (`instances.dicom_json`): see `sequenceKey`.
 */

export type QueryLevel = 'PATIENT' | 'STUDY' | 'SERIES' | 'IMAGE';

type Kind = 'uid' | 'pn' | 'string' | 'date' | 'time' | 'int' | 'modalities' | 'count' | 'sequence';

interface Attribute {
  keyword: string;
  kind: Kind;
  /** SQL expression over the aliases p (patients), s (studies), se (series), i (instances). */
  sql: string;
}

const level = (keyword: string, kind: Kind, sql: string): Attribute => ({ keyword, kind, sql });

/** At the PATIENT level the patient's own row answers; below it the study's copy of the patient attributes. */
const PATIENT_ATTRIBUTES: Attribute[] = [
  level('PatientName', 'pn', 'p.patient_name'),
  level('PatientID', 'string', 'p.patient_id'),
  level('PatientBirthDate', 'date', 'p.birth_date'),
  level('PatientSex', 'string', 'p.sex'),
  level('NumberOfPatientRelatedStudies', 'count', '(SELECT count(*) FROM studies ps WHERE ps.patient_ref = p.id AND ps.disposed_at IS NULL)::int'),
];

const STUDY_ATTRIBUTES: Attribute[] = [
  level('PatientName', 'pn', 's.patient_name'),
  level('PatientID', 'string', 's.patient_id'),
  level('PatientBirthDate', 'date', 's.patient_birth_date'),
  level('PatientSex', 'string', 's.patient_sex'),
  level('StudyInstanceUID', 'uid', 's.study_instance_uid'),
  level('StudyDate', 'date', 's.study_date'),
  level('StudyTime', 'time', 's.study_time'),
  level('AccessionNumber', 'string', 's.accession_number'),
  level('ReferringPhysicianName', 'pn', 's.referring_physician_name'),
  level('StudyID', 'string', 's.study_id'),
  level('StudyDescription', 'string', 's.study_description'),
  level('ModalitiesInStudy', 'modalities', 's.modalities'),
  level('NumberOfStudyRelatedSeries', 'count', 's.number_of_series'),
  level('NumberOfStudyRelatedInstances', 'count', 's.number_of_instances'),
];

const SERIES_ATTRIBUTES: Attribute[] = [
  level('SeriesInstanceUID', 'uid', 'se.series_instance_uid'),
  level('Modality', 'string', 'se.modality'),
  level('SeriesNumber', 'int', 'se.series_number'),
  level('SeriesDescription', 'string', 'se.series_description'),
  level('SeriesDate', 'date', 'se.series_date'),
  level('BodyPartExamined', 'string', 'se.body_part_examined'),
  level('NumberOfSeriesRelatedInstances', 'count', 'se.number_of_instances'),
];

const IMAGE_ATTRIBUTES: Attribute[] = [
  level('SOPInstanceUID', 'uid', 'i.sop_instance_uid'),
  level('SOPClassUID', 'uid', 'i.sop_class_uid'),
  level('InstanceNumber', 'int', 'i.instance_number'),
  level('Rows', 'int', 'i.rows'),
  level('Columns', 'int', 'i.columns'),
  level('NumberOfFrames', 'int', 'i.number_of_frames'),
];

/** The unique key of each level, always returned (PS3.4 C.4.1.1.3.2). */
const UNIQUE_KEY: Record<QueryLevel, string> = { PATIENT: 'PatientID', STUDY: 'StudyInstanceUID', SERIES: 'SeriesInstanceUID', IMAGE: 'SOPInstanceUID' };

const FROM: Record<QueryLevel, string> = {
  PATIENT: 'patients p',
  STUDY: 'studies s',
  SERIES: 'series se JOIN studies s ON s.id = se.study_ref',
  IMAGE: 'instances i JOIN series se ON se.id = i.series_ref JOIN studies s ON s.id = i.study_ref',
};

const ORDER: Record<QueryLevel, string> = { PATIENT: 'p.id', STUDY: 's.id', SERIES: 's.id, se.id', IMAGE: 'se.id, i.instance_number, i.id' };

/** Keys that are part of every Identifier and not matched. */
const CONTROL_KEYS = new Set(['QueryRetrieveLevel', 'SpecificCharacterSet', 'TimezoneOffsetFromUTC', 'RetrieveAETitle', 'InstanceAvailability']);

function attributesFor(model: QueryModel, queryLevel: QueryLevel): Attribute[] {
  switch (queryLevel) {
    case 'PATIENT':
      if (model !== 'patient_root') bad('The Study Root model has no PATIENT level');
      return PATIENT_ATTRIBUTES;
    case 'STUDY':
      return STUDY_ATTRIBUTES;
    case 'SERIES':
      return [...STUDY_ATTRIBUTES, ...SERIES_ATTRIBUTES];
    case 'IMAGE':
      return [...STUDY_ATTRIBUTES, ...SERIES_ATTRIBUTES, ...IMAGE_ATTRIBUTES];
  }
}

export interface FindQuery {
  level: QueryLevel;
  sql: string;
  params: unknown[];
  /**
   * Keywords returned, in order, with the SQL column alias each comes in as (`k0`, `k1`…). A sequence
   * comes as its matching items (DICOM JSON); `itemKeys` are the item attributes asked for (null: all).
   */
  returned: { keyword: string; kind: Kind; itemKeys?: string[] | null }[];
  /** Keywords of the matching keys (non-universal), for the audit record: never their values. */
  matchKeys: string[];
  /** A key was asked that is returned by no match (sequence, unknown attribute): pending 0xFF01. */
  optionalKeysUnsupported: boolean;
}

/** 0xA900 Identifier does not match SOP class: the SCU sent something this model cannot mean. */
function bad(message: string): never {
  throw new AppError('bad_request', message);
}

/** Naturalized values: a string, a number, a list (multi-valued), or PN objects ({ Alphabetic }). */
function valueText(keyword: string, value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return value.map((v) => valueText(keyword, v)).join('\\');
  if (typeof value === 'object') {
    const alphabetic = (value as { Alphabetic?: unknown }).Alphabetic;
    if (alphabetic === undefined) return '';
    if (typeof alphabetic === 'string') return alphabetic.trim();
  }
  bad(`${keyword}: a value this archive cannot match`);
}

function isSequence(value: unknown): boolean {
  return Array.isArray(value) && value.some((v) => typeof v === 'object' && v !== null && (v as { Alphabetic?: unknown }).Alphabetic === undefined);
}

const UID = /^[0-9]+(\.[0-9]+)*$/;
const DATE = /^\d{8}$/;
const TIME = /^\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?$/;

/** SQL LIKE pattern of a DICOM wildcard value (backslash is PostgreSQL's default LIKE escape). */
export function likePattern(value: string): string {
  return value.replace(/[\\%_]/g, '\\$&').replace(/\*/g, '%').replace(/\?/g, '_');
}

class Binder {
  readonly params: unknown[] = [];
  bind(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }
}

function dateCondition(attr: Attribute, value: string, b: Binder): string {
  const range = /^(\d{8})?-(\d{8})?$/.exec(value);
  if (range === null) {
    if (!DATE.test(value)) bad(`${attr.keyword}: expected YYYYMMDD or a range`);
    return `${attr.sql} = ${b.bind(value)}`;
  }
  const [, from, to] = range;
  if (from === undefined && to === undefined) bad(`${attr.keyword}: a range needs at least one end`);
  const parts: string[] = [];
  if (from !== undefined) parts.push(`${attr.sql} >= ${b.bind(from)}`);
  if (to !== undefined) parts.push(`${attr.sql} <= ${b.bind(to)}`);
  return `(${parts.join(' AND ')})`;
}

/** Times are text (HHMMSS.FFFFFF, possibly shorter): a partial time matches every time it starts. */
function timeCondition(attr: Attribute, raw: string, b: Binder): string {
  const value = raw.replace(/:/g, '');
  const check = (t: string): string => (TIME.test(t) ? t : bad(`${attr.keyword}: expected HHMMSS[.FFFFFF] or a range`));
  const high = (t: string): string => `${t}${'9'.repeat(Math.max(0, 6 - t.length))}.999999`;
  const range = /^([0-9.]+)?-([0-9.]+)?$/.exec(value);
  if (range === null) return `${attr.sql} BETWEEN ${b.bind(check(value))} AND ${b.bind(high(value))}`;
  const [, from, to] = range;
  if (from === undefined && to === undefined) bad(`${attr.keyword}: a range needs at least one end`);
  const parts: string[] = [];
  if (from !== undefined) parts.push(`${attr.sql} >= ${b.bind(check(from))}`);
  if (to !== undefined) parts.push(`${attr.sql} <= ${b.bind(high(check(to)))}`);
  return `(${parts.join(' AND ')})`;
}

function condition(attr: Attribute, value: string, b: Binder): string | null {
  // An empty value or a lone * is universal matching: every entity matches; the key is only returned.
  if (value === '' || value === '*') return null;
  switch (attr.kind) {
    case 'uid': {
      const items = value.split('\\').map((v) => v.trim());
      for (const item of items) if (item.length > 64 || !UID.test(item)) bad(`${attr.keyword}: not a UID or a list of UIDs`);
      return items.length === 1 ? `${attr.sql} = ${b.bind(items[0])}` : `${attr.sql} = ANY(${b.bind(items)}::text[])`;
    }
    case 'date':
      return dateCondition(attr, value, b);
    case 'time':
      return timeCondition(attr, value, b);
    case 'int':
    case 'count':
      if (!/^-?\d{1,9}$/.test(value)) bad(`${attr.keyword}: expected an integer`);
      return `${attr.sql} = ${b.bind(Number(value))}`;
    case 'modalities': {
      const items = value.split('\\').map((v) => v.trim());
      for (const item of items) if (!/^[A-Z0-9_ ]{1,16}$/.test(item)) bad(`${attr.keyword}: expected modality codes (no wildcards)`);
      return `${attr.sql} && ${b.bind(items)}::text[]`;
    }
    case 'pn': {
      // Case-insensitive (PS3.4 C.2.2.2.1 leaves it to the SCP); served by the lower(patient_name) index.
      const pattern = value.toLowerCase();
      return /[*?]/.test(pattern) ? `lower(${attr.sql}) LIKE ${b.bind(likePattern(pattern))}` : `lower(${attr.sql}) = ${b.bind(pattern)}`;
    }
    case 'string':
      return /[*?]/.test(value) ? `${attr.sql} LIKE ${b.bind(likePattern(value))}` : `${attr.sql} = ${b.bind(value)}`;
    case 'sequence':
      // Sequence keys are matched item by item (sequenceKey), never as a whole value.
      return bad(`${attr.keyword}: a sequence is matched by its item keys`);
  }
}

/**
 * The DICOM JSON a sequence key is read from: the instance itself at the IMAGE level; at the SERIES and
 * STUDY levels a representative instance (the first current one stored), as QIDO-RS does: study- and
 * series-level sequences (Procedure Code, Referenced Study, Request Attributes…) are the same in each of
 * their instances.
 */
const REPRESENTATIVE: Record<QueryLevel, string | null> = {
  PATIENT: null,
  STUDY: 'LEFT JOIN LATERAL (SELECT ri.dicom_json FROM instances ri WHERE ri.study_ref = s.id AND ri.is_current ORDER BY ri.id LIMIT 1) rep ON true',
  SERIES: 'LEFT JOIN LATERAL (SELECT ri.dicom_json FROM instances ri WHERE ri.series_ref = se.id AND ri.is_current ORDER BY ri.id LIMIT 1) rep ON true',
  IMAGE: null,
};

/** Item key VRs matched like top-level keys: text (single value, wildcard), UI (single value, list), PN, DA (range). */
const TEXT_ITEM_VRS = new Set(['AE', 'AS', 'CS', 'LO', 'LT', 'SH', 'ST', 'UC', 'UR', 'UT']);

interface SequenceKey {
  /** SQL over the representative JSON: the matching items as a jsonb array, NULL when none matched. */
  items: string;
  /** Some item key was not universal: an entity whose sequence has no matching item does not match. */
  matching: boolean;
  itemKeys: string[] | null;
  /** An item key that cannot be matched (numbers, nested sequences, unknown): ignored for matching, returned. */
  unsupported: boolean;
}

/** `item->'TAG'->'Value'->>0`, the first value of an item attribute as text (tags come from the dictionary). */
function itemValue(tag: string, vr: string): string {
  return vr === 'PN' ? `(it.item->'${tag}'->'Value'->0->>'Alphabetic')` : `(it.item->'${tag}'->'Value'->>0)`;
}

/**
 * PS3.4 C.2.2.2.6: the key is a sequence of one item holding item keys. No item, an empty item or only
 * universal item keys match every entity and return the whole sequence (the items restricted to the item
 * keys asked, if any); item keys with values match an entity when one of its items matches them all, and
 * only the matching items are returned. An entity without the sequence matches only universally, and
 * then gets it empty.
 */
function sequenceKey(keyword: string, tag: string, value: unknown, json: string, b: Binder): SequenceKey {
  if (value !== undefined && value !== null && value !== '' && !Array.isArray(value)) bad(`${keyword}: expected a sequence`);
  const requested = Array.isArray(value) ? (value as unknown[]) : [];
  if (requested.length > 1) bad(`${keyword}: a sequence key has a single item (PS3.4 C.2.2.2.6)`);
  const item = requested[0];
  if (item !== undefined && (typeof item !== 'object' || item === null || Array.isArray(item))) bad(`${keyword}: expected a sequence item`);
  const itemKeys = item === undefined ? [] : Object.keys(item).filter((k) => !k.startsWith('_'));
  const conditions: string[] = [];
  let unsupported = false;
  for (const itemKeyword of itemKeys) {
    const attr = attributeOfKeyword(itemKeyword);
    const raw = (item as Record<string, unknown>)[itemKeyword];
    if (attr === null || attr.vr === 'SQ') {
      unsupported = true;
      continue;
    }
    if (isSequence(raw)) bad(`${keyword}.${itemKeyword}: a value this archive cannot match`);
    const text = valueText(`${keyword}.${itemKeyword}`, raw);
    if (text === '' || text === '*') continue;
    const itemAttr: Attribute = { keyword: `${keyword}.${itemKeyword}`, kind: 'string', sql: itemValue(attr.tag, attr.vr) };
    const kind: Kind | null = attr.vr === 'UI' ? 'uid' : attr.vr === 'PN' ? 'pn' : attr.vr === 'DA' ? 'date' : TEXT_ITEM_VRS.has(attr.vr) ? 'string' : null;
    const matched = kind === null ? null : condition({ ...itemAttr, kind }, text, b);
    if (matched !== null) conditions.push(matched);
    else unsupported = true;
  }
  const source = `${json}->'${tag}'->'Value'`;
  const items = `(SELECT jsonb_agg(it.item) FROM jsonb_array_elements(CASE WHEN jsonb_typeof(${source}) = 'array' THEN ${source} ELSE '[]'::jsonb END) AS it(item)${conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : ''})`;
  return { items, matching: conditions.length > 0, itemKeys: itemKeys.length > 0 ? itemKeys : null, unsupported };
}

/** A DICOM JSON value as dcmjs naturalizes it: one value bare, several as a list, PN by its Alphabetic group. */
function naturalValue(attribute: { vr: string; Value?: unknown[] }): unknown {
  const values = (attribute.Value ?? []).map((v) => {
    if (attribute.vr === 'PN') return typeof v === 'object' && v !== null ? ((v as { Alphabetic?: string }).Alphabetic ?? '') : '';
    if (attribute.vr === 'SQ') return naturalItem(v as DicomJsonObject, null);
    return v;
  });
  if (attribute.vr === 'SQ') return values;
  if (values.length === 0) return '';
  return values.length === 1 ? values[0] : values;
}

/** A sequence item from DICOM JSON, restricted to `keys` (absent ones returned empty); binary and private attributes left out. */
function naturalItem(json: DicomJsonObject, keys: string[] | null): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (keys !== null) {
    for (const key of keys) {
      const attr = attributeOfKeyword(key);
      const found = attr === null ? undefined : json[attr.tag];
      out[key] = found === undefined || found.Value === undefined ? (attr?.vr === 'SQ' ? [] : '') : naturalValue(found);
    }
    return out;
  }
  for (const [tag, attribute] of Object.entries(json)) {
    const keyword = keywordOfTag(tag);
    if (keyword === null || attribute.InlineBinary !== undefined || attribute.BulkDataURI !== undefined) continue;
    out[keyword] = naturalValue(attribute);
  }
  return out;
}

const LEVELS = new Set<string>(['PATIENT', 'STUDY', 'SERIES', 'IMAGE']);

/** Builds the catalog query of one C-FIND for one clinic; at most `limit` rows. */
/** Runs a built C-FIND query: one row per match, the returned keys in their `k0`, `k1`… columns (see identifierOf). */
export async function findMatches(pool: Pool, query: FindQuery): Promise<Record<string, unknown>[]> {
  return (await pool.query<Record<string, unknown>>(query.sql, query.params)).rows;
}

export function buildFindQuery(model: QueryModel, identifier: Record<string, unknown>, clinicId: string, limit: number): FindQuery {
  const rawLevel = valueText('QueryRetrieveLevel', identifier.QueryRetrieveLevel);
  if (!LEVELS.has(rawLevel)) bad('QueryRetrieveLevel must be PATIENT, STUDY, SERIES or IMAGE');
  const queryLevel = rawLevel as QueryLevel;
  const attributes = attributesFor(model, queryLevel);
  const byKeyword = new Map(attributes.map((a) => [a.keyword, a]));
  const b = new Binder();
  const where = [queryLevel === 'PATIENT' ? `p.clinic_id = ${b.bind(clinicId)}` : `s.clinic_id = ${b.bind(clinicId)}`];
  // A disposed study is a tombstone (docs/keep-and-prove.md): nothing to retrieve, never a match; a
  // patient is listed while a live study of theirs remains.
  where.push(queryLevel === 'PATIENT' ? `EXISTS (SELECT 1 FROM studies ps WHERE ps.patient_ref = p.id AND ps.disposed_at IS NULL)` : 's.disposed_at IS NULL');
  if (queryLevel === 'IMAGE') where.push('i.is_current');
  const returned: Attribute[] = [];
  const matchKeys: string[] = [];
  let optionalKeysUnsupported = false;

  const uniqueKey = byKeyword.get(UNIQUE_KEY[queryLevel]);
  const sequences: { keyword: string; sql: string; itemKeys: string[] | null }[] = [];
  const json = queryLevel === 'IMAGE' ? 'i.dicom_json' : 'rep.dicom_json';
  for (const [keyword, value] of Object.entries(identifier)) {
    // dcmjs adds `_vrMap` (and other `_` bookkeeping) to naturalized datasets.
    if (CONTROL_KEYS.has(keyword) || keyword.startsWith('_')) continue;
    const attr = byKeyword.get(keyword);
    const dictionary = attr === undefined ? attributeOfKeyword(keyword) : null;
    if (dictionary?.vr === 'SQ' && queryLevel !== 'PATIENT') {
      const key = sequenceKey(keyword, dictionary.tag, value, json, b);
      sequences.push({ keyword, sql: key.items, itemKeys: key.itemKeys });
      if (key.matching) {
        where.push(`${key.items} IS NOT NULL`);
        matchKeys.push(keyword);
      }
      if (key.unsupported) optionalKeysUnsupported = true;
      continue;
    }
    if (attr === undefined || isSequence(value)) {
      optionalKeysUnsupported = true;
      continue;
    }
    returned.push(attr);
    const cond = condition(attr, valueText(keyword, value), b);
    if (cond !== null) {
      where.push(cond);
      matchKeys.push(keyword);
    }
  }
  if (uniqueKey !== undefined && !returned.includes(uniqueKey)) returned.push(uniqueKey);
  // Every level below PATIENT returns the unique keys above it too, so a retrieve can name them.
  for (const keyword of ['StudyInstanceUID', 'SeriesInstanceUID']) {
    const attr = byKeyword.get(keyword);
    if (attr !== undefined && !returned.includes(attr)) returned.push(attr);
  }
  const columns = [...returned.map((a) => a.sql), ...sequences.map((q) => q.sql)].map((sql, n) => `${sql} AS k${n}`).join(', ');
  // The representative instance is joined only when a sequence key needs it.
  const from = sequences.length > 0 && REPRESENTATIVE[queryLevel] !== null ? `${FROM[queryLevel]} ${REPRESENTATIVE[queryLevel]}` : FROM[queryLevel];
  const sql = `SELECT ${columns} FROM ${from} WHERE ${where.join(' AND ')} ORDER BY ${ORDER[queryLevel]} LIMIT ${b.bind(limit)}`;
  return {
    level: queryLevel,
    sql,
    params: b.params,
    returned: [...returned.map(({ keyword, kind }) => ({ keyword, kind })), ...sequences.map(({ keyword, itemKeys }) => ({ keyword, kind: 'sequence' as const, itemKeys }))],
    matchKeys,
    optionalKeysUnsupported,
  };
}

/** One catalog row as a naturalized Identifier (UTF-8: SpecificCharacterSet ISO_IR 192). */
export function identifierOf(query: FindQuery, row: Record<string, unknown>): Record<string, unknown> {
  const identifier: Record<string, unknown> = { SpecificCharacterSet: 'ISO_IR 192', QueryRetrieveLevel: query.level };
  query.returned.forEach(({ keyword, kind, itemKeys }, n) => {
    const value = row[`k${n}`];
    if (kind === 'sequence') identifier[keyword] = Array.isArray(value) ? value.map((item) => naturalItem(item as DicomJsonObject, itemKeys ?? null)) : [];
    else if (value === null || value === undefined) identifier[keyword] = '';
    else if (kind === 'modalities' && Array.isArray(value)) identifier[keyword] = value.map(String);
    else if (typeof value === 'number' || typeof value === 'string') identifier[keyword] = value;
    else identifier[keyword] = '';
  });
  return identifier;
}
