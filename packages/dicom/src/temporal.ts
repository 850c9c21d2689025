/**
 * DA, TM and DT values in the forms PS3.5 6.2 defines, from the legacy ones still written by old
 * equipment (ACR-NEMA 300 and pre-2000 modalities): `1994.01.30` for DA, `07:57:30.5` for TM (PS3.5
 * 6.2 notes both as "retired, to be accepted"). Values are normalised once, at ingest, in the DICOM
 * JSON and the catalog, so range matching compares like with like (`StudyDate=19940101-19951231`
 * missed a study dated `1994.01.30`). Anything else is kept as received: guessing would invent data.
 */

const LEGACY_DATE = /^(\d{4})\.(\d{2})\.(\d{2})$/;
const LEGACY_TIME = /^(\d{2}):(\d{2})(?::(\d{2}(?:\.\d{1,6})?))?$/;
const LEGACY_DATE_TIME = /^(\d{4})[.-](\d{2})[.-](\d{2})[ T]?(\d{2}):?(\d{2})?(?::?(\d{2}(?:\.\d{1,6})?))?([+-]\d{4})?$/;

/** `YYYY.MM.DD` -> `YYYYMMDD`; a value with no legacy form is returned unchanged. */
export function normaliseDate(value: string): string {
  const m = LEGACY_DATE.exec(value);
  return m ? `${m[1] ?? ''}${m[2] ?? ''}${m[3] ?? ''}` : value;
}

/** `HH:MM[:SS[.F]]` -> `HHMM[SS[.F]]`; unchanged otherwise. */
export function normaliseTime(value: string): string {
  const m = LEGACY_TIME.exec(value);
  return m ? `${m[1] ?? ''}${m[2] ?? ''}${m[3] ?? ''}` : value;
}

/** `YYYY.MM.DD HH:MM:SS` (or with dashes / T) -> `YYYYMMDDHHMMSS`; unchanged otherwise. */
export function normaliseDateTime(value: string): string {
  if (/^\d+(\.\d+)?([+-]\d{4})?$/.test(value)) return value; // already the PS3.5 form
  const m = LEGACY_DATE_TIME.exec(value);
  return m ? m.slice(1).map((part) => part ?? '').join('') : value;
}

/** The normaliser for a VR, or null when the VR is not a date or time. */
export function temporalNormaliser(vr: string): ((value: string) => string) | null {
  if (vr === 'DA') return normaliseDate;
  if (vr === 'TM') return normaliseTime;
  if (vr === 'DT') return normaliseDateTime;
  return null;
}
