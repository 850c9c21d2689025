/**
 * The attribute half of the scope gate: does a study say it is a thyroid (neck) ultrasound? Reads
 * BodyPartExamined, AnatomicRegionSequence, the study/series/protocol/requested-procedure descriptions
 * (English and Chinese) and requested procedure codes, plus a clinic's own mapping. Most ultrasound
 * machines leave these empty or generic, so 'unknown' is the common answer and the image decides.
 */

export type Scope = 'thyroid' | 'other' | 'unknown';

export interface ScopeDecision {
  scope: Scope;
  /** Which attribute decided, without its value when that could carry free text (no patient data). */
  evidence: string;
}

/** The attributes the gate reads, as text (values joined), from a DICOM JSON dataset. */
export interface ScopeAttributes {
  bodyPartExamined: string;
  anatomicRegion: string;
  descriptions: string;
  procedureCodes: string;
}

/** A clinic's rule: a case-insensitive substring of any scope attribute -> a scope. */
export interface ClinicScopeRule {
  pattern: string;
  scope: Exclude<Scope, 'unknown'>;
}

type DicomJson = Record<string, { Value?: unknown[] } | undefined>;

const THYROID = [/\bthyroid/i, /\bthyr\b/i, /\bthy\b/i, /甲状腺/, /甲狀腺/, /\bneck\b/i, /颈部/, /頸部/, /\bparathyroid/i];
// SNOMED CT / SRT codes for the thyroid and the neck.
const THYROID_CODES = new Set(['69748006', 'T-B6000', '45048000', 'T-D1600', '302548004']);
const OTHER: [RegExp, string][] = [
  [/\bbreast|乳腺|乳房/i, 'breast'],
  [/\b(heart|cardiac|echo ?cardio|tte|tee)\b|心脏|心臟|超声心动/i, 'heart'],
  [/\b(abdomen|abdominal|liver|kidney|renal|gall ?bladder|pancrea|spleen)|腹部|肝|肾|腎|胆|胰|脾/i, 'abdomen'],
  [/\b(pelvis|pelvic|uterus|ovar|prostate|bladder|gyn)|盆腔|子宫|子宮|卵巢|前列腺|膀胱/i, 'pelvis'],
  [/\b(obstetric|fetal|fetus|pregnan|ob)\b|产科|胎儿|胎兒/i, 'obstetric'],
  [/\b(lung|chest|thorax|pleura)|肺|胸/i, 'chest'],
  [/\b(carotid|vascular|vein|artery|doppler)|颈动脉|頸動脈|血管/i, 'vascular'],
  [/\b(hip|knee|shoulder|msk|musculo|joint)|髋|關節|关节/i, 'musculoskeletal'],
  [/\b(testis|testic|scrot)|睾丸|阴囊/i, 'scrotum'],
];

function text(json: DicomJson, tag: string): string {
  const values = json[tag]?.Value ?? [];
  return values.filter((v): v is string | number => typeof v === 'string' || typeof v === 'number').join(' ');
}

function codes(json: DicomJson, tag: string): string {
  const out: string[] = [];
  for (const item of json[tag]?.Value ?? []) {
    if (typeof item !== 'object' || item === null) continue;
    const seq = item as DicomJson;
    // CodeValue, CodeMeaning
    out.push(text(seq, '00080100'), text(seq, '00080104'));
  }
  return out.join(' ');
}

export function scopeAttributes(json: DicomJson): ScopeAttributes {
  return {
    bodyPartExamined: text(json, '00180015'),
    anatomicRegion: codes(json, '00082218'),
    // StudyDescription, SeriesDescription, ProtocolName, RequestedProcedureDescription, PerformedProcedureStepDescription
    descriptions: ['00081030', '0008103E', '00181030', '00321060', '00400254'].map((t) => text(json, t)).join(' | '),
    procedureCodes: [codes(json, '00321064'), codes(json, '00081032')].join(' '),
  };
}

/**
 * Clinic rules first (the clinic knows its own protocol names), then anatomy: BodyPartExamined and the
 * anatomic region code, then the free-text descriptions and procedure codes. A thyroid word wins over
 * a generic one in the same field ("NECK/THYROID", "甲状腺及颈部淋巴结").
 */
export function decideScope(a: ScopeAttributes, clinicRules: readonly ClinicScopeRule[] = []): ScopeDecision {
  const all = [a.bodyPartExamined, a.anatomicRegion, a.descriptions, a.procedureCodes].join(' | ').toLowerCase();
  for (const rule of clinicRules) {
    if (rule.pattern.trim() !== '' && all.includes(rule.pattern.toLowerCase())) return { scope: rule.scope, evidence: `clinic mapping "${rule.pattern}"` };
  }
  const fields: [string, string][] = [
    ['BodyPartExamined', a.bodyPartExamined],
    ['AnatomicRegionSequence', a.anatomicRegion],
    ['study/series/protocol description', a.descriptions],
    ['requested procedure code', a.procedureCodes],
  ];
  for (const [name, value] of fields) {
    if (value.trim() === '') continue;
    const tokens = value.split(/[\s|^,;]+/);
    if (THYROID.some((re) => re.test(value)) || tokens.some((t) => THYROID_CODES.has(t))) return { scope: 'thyroid', evidence: `${name} names the thyroid or neck` };
    const other = OTHER.find(([re]) => re.test(value));
    if (other) return { scope: 'other', evidence: `${name} names another body part (${other[1]})` };
  }
  return { scope: 'unknown', evidence: 'no body part in the study attributes' };
}
