import dcmjs from 'dcmjs';

/**
 * Attribute ids of QIDO-RS query keys and includefield (PS3.18 8.3.4.1): a keyword of the PS3.6
 * dictionary or a tag as 8 hex digits. Nested paths (`00400275.00321060`) are not supported.
 */
export interface AttributeId {
  /** 8 uppercase hex digits, as DICOM JSON keys are written. */
  tag: string;
  vr: string;
  keyword: string | null;
}

const HEX_TAG = /^[0-9A-Fa-f]{8}$/;

export function resolveAttributeId(id: string): AttributeId | null {
  const dictionary = dcmjs.data.DicomMetaDictionary;
  if (HEX_TAG.test(id)) {
    const tag = id.toUpperCase();
    const entry = dictionary.dictionary[`(${tag.slice(0, 4)},${tag.slice(4)})`];
    return { tag, vr: entry?.vr ?? 'UN', keyword: entry?.name ?? null };
  }
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(id)) return null;
  const entry = dictionary.nameMap[id];
  if (entry === undefined) return null;
  const tag = entry.tag.replace(/[(),]/g, '').toUpperCase();
  return HEX_TAG.test(tag) ? { tag, vr: entry.vr, keyword: entry.name } : null;
}
