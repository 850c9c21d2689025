import type { DicomJsonAttribute, DicomJsonObject, DicomJsonPersonName, DicomJsonValue } from '@yunying/dicom';

/** A DICOM JSON attribute (PS3.18 F.2) from a catalog column value; empty values have no Value (F.2.5). */
export function attributeFromColumn(vr: string, value: unknown): DicomJsonAttribute {
  if (value === null || value === undefined || value === '') return { vr };
  if (Array.isArray(value)) {
    const values = value.filter((v): v is string => typeof v === 'string' && v !== '');
    return values.length ? { vr, Value: values } : { vr };
  }
  if (vr === 'PN' && typeof value === 'string') {
    // Component groups are separated by '=' (PS3.5 6.2): alphabetic, ideographic, phonetic.
    const [alphabetic, ideographic, phonetic] = value.split('=');
    const name: DicomJsonPersonName = {};
    if (alphabetic) name.Alphabetic = alphabetic;
    if (ideographic) name.Ideographic = ideographic;
    if (phonetic) name.Phonetic = phonetic;
    return { vr, Value: [name] };
  }
  if (typeof value === 'number') return { vr, Value: [value] };
  if (typeof value === 'string') return { vr, Value: [value] };
  return { vr };
}

/** Keys sorted by tag, as DICOM JSON is conventionally written. */
export function sortedByTag(object: DicomJsonObject): DicomJsonObject {
  const out: DicomJsonObject = {};
  for (const key of Object.keys(object).sort()) {
    const value = object[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function rewriteValue(value: DicomJsonValue, rewrite: (uri: string) => string): DicomJsonValue {
  if (value !== null && typeof value === 'object' && !isPersonName(value)) return rewriteBulkDataUris(value, rewrite);
  return value;
}

function isPersonName(value: DicomJsonPersonName | DicomJsonObject): value is DicomJsonPersonName {
  // Sequence items are keyed by tags (8 hex digits), never by these names.
  return 'Alphabetic' in value || 'Ideographic' in value || 'Phonetic' in value;
}

/** A copy with every BulkDataURI passed through `rewrite` (sequences included). */
export function rewriteBulkDataUris(object: DicomJsonObject, rewrite: (uri: string) => string): DicomJsonObject {
  const out: DicomJsonObject = {};
  for (const [tag, attribute] of Object.entries(object)) {
    if (attribute.BulkDataURI !== undefined) {
      out[tag] = { ...attribute, BulkDataURI: rewrite(attribute.BulkDataURI) };
    } else if (attribute.vr === 'SQ' && attribute.Value) {
      out[tag] = { ...attribute, Value: attribute.Value.map((item) => rewriteValue(item, rewrite)) };
    } else {
      out[tag] = attribute;
    }
  }
  return out;
}

/** The attributes without bulk data (QIDO-RS returns no BulkDataURIs). */
export function withoutBulkData(object: DicomJsonObject): DicomJsonObject {
  const out: DicomJsonObject = {};
  for (const [tag, attribute] of Object.entries(object)) if (attribute.BulkDataURI === undefined) out[tag] = attribute;
  return out;
}
