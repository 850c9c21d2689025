/**
 * The patient index's rules (#20), pure so the tests pin them: which identifiers a study carries, when
 * two sets of demographics contradict each other, and what the index does with a study given the persons
 * its identifiers point at. The repository supplies rows; nothing here reads the database.
 */

export interface Demographics {
  /** DICOM PN as the catalog keeps it: up to three '='-separated groups (alphabetic, ideographic, phonetic). */
  name: string | null;
  /** DICOM DA, YYYYMMDD. */
  birthDate: string | null;
  /** M, F or O. */
  sex: string | null;
}

/** A namespaced identifier: `issuer:<issuer>` is shared across clinics, `clinic:<uuid>` is one clinic's own number. */
export interface Identifier {
  namespace: string;
  value: string;
}

export type DemographicField = 'name' | 'birthDate' | 'sex';

/** One DICOM JSON item with Patient ID (0010,0020) and Issuer of Patient ID (0010,0021). */
type DicomJsonItem = Record<string, { Value?: unknown[] } | undefined>;

function firstString(item: DicomJsonItem | undefined, tag: string): string | null {
  const value = item?.[tag]?.Value?.[0];
  if (typeof value !== 'string') return null;
  const trimmed = value.trim();
  return trimmed === '' ? null : trimmed;
}

/**
 * The study's identifiers: its PatientID (under its issuer, or its clinic's namespace without one) and every
 * Other Patient ID (0010,1002) whose issuer an admin configured as identifying a person (a national ID).
 * An Other Patient ID of an unconfigured issuer is ignored: a referring hospital's number says nothing.
 */
export function studyIdentifiers(
  study: { clinicId: string; patientId: string | null; issuer: string | null; otherIds: readonly DicomJsonItem[] },
  configuredIssuers: ReadonlySet<string>,
): Identifier[] {
  const found = new Map<string, Identifier>();
  const add = (namespace: string, value: string): void => {
    if (value.length > 64) return;
    found.set(`${namespace}\u0000${value}`, { namespace, value });
  };
  const patientId = study.patientId?.trim() ?? '';
  if (patientId !== '') add(study.issuer !== null ? `issuer:${study.issuer}` : `clinic:${study.clinicId}`, patientId);
  for (const item of study.otherIds) {
    const value = firstString(item, '00100020');
    const issuer = firstString(item, '00100021');
    if (value !== null && issuer !== null && configuredIssuers.has(issuer)) add(`issuer:${issuer}`, value);
  }
  return [...found.values()];
}

/** A name's groups, each normalised (upper case, single spaces, no trailing empty components); '' for an absent group. */
export function nameGroups(name: string | null): string[] {
  if (name === null) return [];
  return name.split('=').map((group) =>
    group
      .split('^')
      .map((component) => component.trim().replace(/\s+/g, ' ').toUpperCase())
      .join('^')
      .replace(/\^+$/, ''),
  );
}

/**
 * Same name: the same alphabetic, ideographic or phonetic group. 'unknown' when no group is present on both
 * sides (a name only in Chinese characters against one only in pinyin cannot be compared, so it is no evidence).
 */
export function compareNames(a: string | null, b: string | null): 'same' | 'different' | 'unknown' {
  const ga = nameGroups(a);
  const gb = nameGroups(b);
  let comparable = false;
  for (let i = 0; i < Math.min(ga.length, gb.length); i++) {
    const x = ga[i] ?? '';
    const y = gb[i] ?? '';
    if (x === '' || y === '') continue;
    if (x === y) return 'same';
    comparable = true;
  }
  return comparable ? 'different' : 'unknown';
}

function present(value: string | null): string | null {
  const v = value?.trim().toUpperCase() ?? '';
  return v === '' ? null : v;
}

/** The fields on which two sets of demographics contradict each other; a field missing on either side is no contradiction. */
export function contradictions(a: Demographics, b: Demographics): DemographicField[] {
  const out: DemographicField[] = [];
  if (compareNames(a.name, b.name) === 'different') out.push('name');
  const ba = present(a.birthDate);
  const bb = present(b.birthDate);
  if (ba !== null && bb !== null && ba !== bb) out.push('birthDate');
  const sa = present(a.sex);
  const sb = present(b.sex);
  if (sa !== null && sb !== null && sa !== sb) out.push('sex');
  return out;
}

/** Name, birth date and sex all present and equal: the evidence for a possible duplicate under another identifier. */
export function sameDemographics(a: Demographics, b: Demographics): boolean {
  if (present(a.birthDate) === null || present(a.sex) === null) return false;
  return present(a.birthDate) === present(b.birthDate) && present(a.sex) === present(b.sex) && compareNames(a.name, b.name) === 'same';
}

/** A person group as the index sees it for one study: its root and the demographics of each of its persons. */
export interface MatchedGroup {
  root: string;
  /** The demographics of every person merged under the root (the root's own included). */
  variants: Demographics[];
}

export type LinkDecision =
  | { kind: 'link'; root: string }
  | { kind: 'new' }
  | { kind: 'review'; against: { root: string; reason: 'identifier-demographics-differ' | 'identifiers-match-several'; differs: string[] }[] };

/**
 * What to do with a study whose identifiers point at these person groups: link it to the one group a
 * variant of which it does not contradict; a person of its own when nothing matched; and a person of its own
 * plus reviews when every match contradicts it or several groups fit (never a guess between people).
 */
export function decideLink(study: Demographics, matched: readonly MatchedGroup[]): LinkDecision {
  if (matched.length === 0) return { kind: 'new' };
  const fitting = matched.filter((g) => g.variants.some((v) => contradictions(study, v).length === 0));
  const only = fitting[0];
  if (fitting.length === 1 && only !== undefined) return { kind: 'link', root: only.root };
  if (fitting.length > 1) {
    return { kind: 'review', against: fitting.map((g) => ({ root: g.root, reason: 'identifiers-match-several', differs: ['identifier'] })) };
  }
  return {
    kind: 'review',
    against: matched.map((g) => ({
      root: g.root,
      reason: 'identifier-demographics-differ',
      // The fewest contradictions of any variant: what an admin must reconcile.
      differs: g.variants.map((v) => contradictions(study, v)).sort((x, y) => x.length - y.length)[0] ?? [],
    })),
  };
}
