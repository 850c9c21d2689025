import { formatPersonName, h, replace } from '../app/dom';
import { num, obj, str, strings } from '../app/json';

/** The banner's data as GET /api/studies/{uid}/banner sends it, read defensively. */
export interface Banner {
  name: { alphabetic: string | null; ideographic: string | null; phonetic: string | null };
  characterSet: string | null;
  patientId: string | null;
  issuer: string | null;
  sex: string | null;
  birthDate: string | null;
  ageAtStudy: string | null;
  studyDate: string | null;
  studyTime: string | null;
  description: string | null;
  accessionNumber: string | null;
  modalities: string[];
  clinic: string | null;
  triageStatus: string | null;
  aiCategory: string | null;
  aiScore: number | null;
}

export function parseBanner(body: unknown): Banner {
  const o = obj(body);
  const patient = obj(o.patient);
  const name = obj(patient.name);
  const study = obj(o.study);
  const clinic = obj(study.clinic);
  const ai = obj(o.ai);
  return {
    name: { alphabetic: str(name.alphabetic), ideographic: str(name.ideographic), phonetic: str(name.phonetic) },
    characterSet: str(patient.characterSet),
    patientId: str(patient.id),
    issuer: str(patient.issuer),
    sex: str(patient.sex),
    birthDate: str(patient.birthDate),
    ageAtStudy: str(patient.ageAtStudy),
    studyDate: str(study.date),
    studyTime: str(study.time),
    description: str(study.description),
    accessionNumber: str(study.accessionNumber),
    modalities: strings(study.modalities),
    clinic: str(clinic.name) ?? str(clinic.code),
    triageStatus: str(ai.triageStatus),
    aiCategory: str(ai.category) ?? (str(ai.triageStatus) === 'triaged' ? str(ai.priority) : null),
    aiScore: num(ai.score),
  };
}

/**
 * The name as a reader says it: the ideographic group first when present, written as Chinese names are
 * (family then given, no separator: 王^芳 -> 王芳), then the alphabetic one ("Wang, Fang").
 */
export function displayName(b: Banner): string {
  const ideographic = b.name.ideographic ? b.name.ideographic.split('^').filter((p) => p !== '').join('') : null;
  const parts = [ideographic, b.name.alphabetic ? formatPersonName(b.name.alphabetic) : null].filter((p): p is string => p !== null && p !== '');
  return parts.length > 0 ? parts.join(' · ') : 'Name not recorded';
}

/** Patient ID with its issuer, the pair that identifies a person across clinics. */
export function displayId(b: Banner): string {
  if (!b.patientId) return 'ID not recorded';
  return b.issuer ? `${b.patientId} (${b.issuer})` : `${b.patientId} (issuer not recorded)`;
}

const SEX: Record<string, string> = { F: 'Female', M: 'Male', O: 'Other' };

const AI_TEXT: Record<string, string> = {
  urgent: 'AI: urgent',
  priority: 'AI: priority',
  routine: 'AI: routine',
  pending: 'AI: not yet triaged',
  not_triaged: 'AI: not applicable',
  failed: 'AI: triage failed',
};

function aiText(b: Banner): string {
  if (b.aiCategory) return `${AI_TEXT[b.aiCategory] ?? `AI: ${b.aiCategory}`}${b.aiScore !== null ? ` (${Math.round(b.aiScore * 100)} %)` : ''}`;
  return AI_TEXT[b.triageStatus ?? 'pending'] ?? 'AI: unknown';
}

function field(testId: string, label: string, value: string, extra: Record<string, string> = {}): HTMLElement {
  return h('span', { class: 'banner-field', 'data-testid': testId, ...extra }, h('span', { class: 'banner-label' }, label), ' ', value);
}

/**
 * The patient banner (issue #20): who and what the images are, always on screen (sticky above the image,
 * also on a phone) so a report is never written on the wrong patient. Text only (no innerHTML).
 */
export function patientBanner(): { el: HTMLElement; show: (b: Banner) => void; failed: (message: string) => void } {
  const el = h('header', { class: 'patient-banner', 'data-testid': 'patient-banner', 'aria-label': 'Patient' }, h('span', { class: 'muted' }, 'Loading patient…'));
  return {
    el,
    show: (b) => {
      const birth = b.birthDate ? `${b.birthDate}${b.ageAtStudy ? ` (${b.ageAtStudy} at study)` : ''}` : (b.ageAtStudy ?? 'not recorded');
      const category = b.aiCategory ?? b.triageStatus ?? 'pending';
      replace(
        el,
        h(
          'div',
          { class: 'banner-who' },
          h('strong', { class: 'banner-name', 'data-testid': 'banner-name', lang: 'zh-CN', title: b.characterSet ? `Character set ${b.characterSet}` : 'Default character set' }, displayName(b)),
          h('span', { class: 'banner-charset muted small', 'data-testid': 'banner-charset' }, b.characterSet ?? 'ISO_IR 6'),
          field('banner-id', 'ID', displayId(b)),
          field('banner-sex', 'Sex', b.sex ? (SEX[b.sex] ?? b.sex) : 'not recorded'),
          field('banner-birth', 'Born', birth),
        ),
        h(
          'div',
          { class: 'banner-what' },
          field('banner-study-date', 'Study', [b.studyDate, b.studyTime].filter((p) => p).join(' ') || 'date not recorded'),
          field('banner-modality', 'Modality', b.modalities.join('/') || '—'),
          field('banner-description', 'Description', b.description ?? '—'),
          field('banner-accession', 'Accession', b.accessionNumber ?? '—'),
          field('banner-clinic', 'Clinic', b.clinic ?? '—'),
          h('span', { class: `badge badge-${category}`, 'data-testid': 'banner-ai' }, aiText(b)),
        ),
      );
    },
    failed: (message) => replace(el, h('strong', { class: 'banner-error', role: 'alert' }, `Patient identity could not be loaded: ${message}. Do not report this study until it is shown.`)),
  };
}
