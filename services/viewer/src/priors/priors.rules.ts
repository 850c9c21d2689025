/**
 * Which of a patient's other studies are priors of the one being read, and which of them is the one to
 * open beside it. Pure: the repository supplies the rows, the tests pin the rules.
 */

export interface StudySummary {
  studyInstanceUid: string;
  clinicId: string;
  /** DICOM DA (YYYYMMDD) and TM (HHMMSS.frac) as the catalog keeps them; null when not sent. */
  studyDate: string | null;
  studyTime: string | null;
  receivedAt: Date;
  description: string | null;
  modalities: string[];
  /** Distinct BodyPartExamined of the series, upper case. */
  bodyParts: string[];
  triageStatus: string;
}

// Objects that carry no image of the patient: a shared SR or presentation state does not make two
// studies comparable.
const NON_IMAGING = new Set(['SR', 'KO', 'PR', 'SEG', 'DOC', 'REG', 'OT']);

export function imagingModalities(modalities: readonly string[]): string[] {
  return modalities.filter((m) => !NON_IMAGING.has(m.toUpperCase()));
}

/**
 * A thyroid study: a series names the thyroid as its body part, the description says so, or the triage
 * scope gate let it in (triaged or read with no nodule found; the gate only admits thyroid studies).
 */
export function isThyroidStudy(s: Pick<StudySummary, 'bodyParts' | 'description' | 'triageStatus'>): boolean {
  if (s.bodyParts.some((b) => b.includes('THYROID'))) return true;
  if (s.description !== null && /thyroid|甲状腺/i.test(s.description)) return true;
  return s.triageStatus === 'triaged' || s.triageStatus === 'no_nodule_found';
}

/** YYYYMMDDHHMMSS of the visit; the receipt time stands in for a missing study date. */
export function visitKey(s: Pick<StudySummary, 'studyDate' | 'studyTime' | 'receivedAt'>): string {
  const date = s.studyDate !== null && /^\d{8}$/.test(s.studyDate) ? s.studyDate : s.receivedAt.toISOString().slice(0, 10).replace(/-/g, '');
  const time = (s.studyTime ?? '').replace(/\D/g, '').slice(0, 6).padEnd(6, '0');
  return `${date}${time}`;
}

/** Most recent first; receipt order breaks ties. */
export function compareMostRecentFirst(a: StudySummary, b: StudySummary): number {
  const ka = visitKey(a);
  const kb = visitKey(b);
  if (ka !== kb) return ka < kb ? 1 : -1;
  return b.receivedAt.getTime() - a.receivedAt.getTime();
}

/** A prior is a visit before the current one; a study of the same visit (same date and time) is not. */
export function isEarlier(other: StudySummary, current: StudySummary): boolean {
  return visitKey(other) < visitKey(current);
}

/**
 * Relevant for side-by-side comparison: at least one imaging modality in common, and the same region:
 * both thyroid, or a body part in common, or neither names one (then the modality is all there is).
 */
export function isRelevantPrior(other: StudySummary, current: StudySummary): boolean {
  const modalities = new Set(imagingModalities(current.modalities).map((m) => m.toUpperCase()));
  if (!imagingModalities(other.modalities).some((m) => modalities.has(m.toUpperCase()))) return false;
  if (isThyroidStudy(current) && isThyroidStudy(other)) return true;
  if (current.bodyParts.length === 0 && other.bodyParts.length === 0) return true;
  return other.bodyParts.some((b) => current.bodyParts.includes(b));
}
