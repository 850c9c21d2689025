import dcmjs from 'dcmjs';

/**
 * VR lookup for Implicit VR datasets and for the DICOM JSON "vr" member (PS3.6 data dictionary, as
 * shipped with dcmjs). Tags are dicom-parser's form, 'xggggeeee'.
 */
const cache = new Map<string, string>();

function lookup(group: string, element: string): string | undefined {
  const dictionary = dcmjs.data.DicomMetaDictionary.dictionary;
  const exact = dictionary[`(${group},${element})`];
  if (exact !== undefined) return exact.vr;
  // Repeating groups (PS3.5 7.6): overlays (60xx), curves (50xx).
  const masked = dictionary[`(${group.slice(0, 2)}xx,${element})`];
  return masked?.vr;
}

/** The dictionary VR of a tag; may be an ambiguous form such as 'US or SS' or 'OB or OW'. */
export function dictionaryVr(tag: string): string {
  const cached = cache.get(tag);
  if (cached !== undefined) return cached;
  const group = tag.slice(1, 5).toUpperCase();
  const element = tag.slice(5, 9).toUpperCase();
  let vr: string;
  if (element === '0000') vr = 'UL';
  else if (parseInt(group, 16) % 2 === 1) vr = element < '0100' && element >= '0010' ? 'LO' : 'UN';
  else vr = lookup(group, element) ?? 'UN';
  cache.set(tag, vr);
  return vr;
}

/** An attribute of the PS3.6 dictionary by keyword: its tag as DICOM JSON writes it (8 uppercase hex digits) and its VR. */
export interface KeywordAttribute {
  tag: string;
  vr: string;
}

/** The dictionary entry of a keyword (e.g. 'ProcedureCodeSequence' -> 00081032, SQ); null for unknown or repeating-group keywords. */
export function attributeOfKeyword(keyword: string): KeywordAttribute | null {
  const entry = dcmjs.data.DicomMetaDictionary.nameMap[keyword];
  if (entry === undefined) return null;
  const tag = entry.tag.replace(/[(),]/g, '').toUpperCase();
  return /^[0-9A-F]{8}$/.test(tag) ? { tag, vr: entry.vr } : null;
}

/** The keyword of a tag written as DICOM JSON writes it; null for tags the dictionary does not name (private ones). */
export function keywordOfTag(tag: string): string | null {
  const entry = dcmjs.data.DicomMetaDictionary.dictionary[`(${tag.slice(0, 4)},${tag.slice(4)})`];
  return entry?.name ?? null;
}
