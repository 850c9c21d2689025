import { formatPersonName, h, replace } from '../app/dom';
import { language, t } from '../app/i18n';
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
  return parts.length > 0 ? parts.join(' · ') : t('Name not recorded', '姓名未登记');
}

/** The server's age ("44 y", "3 mo", "2 wk", "5 d") as the reader's language writes it ("44岁", "3个月"). */
export function ageText(age: string): string {
  const m = /^(\d+) (y|mo|wk|d)$/.exec(age);
  if (!m || language() !== 'zh') return age;
  return `${m[1]}${{ y: '岁', mo: '个月', wk: '周', d: '天' }[m[2] as 'y' | 'mo' | 'wk' | 'd']}`;
}

/** Patient ID with its issuer, the pair that identifies a person across clinics. */
export function displayId(b: Banner): string {
  if (!b.patientId) return t('ID not recorded', 'ID 未登记');
  return b.issuer ? t(`${b.patientId} (${b.issuer})`, `${b.patientId}（${b.issuer}）`) : t(`${b.patientId} (issuer not recorded)`, `${b.patientId}（签发机构未登记）`);
}

function sexText(sex: string): string {
  const text: Record<string, string> = { F: t('Female', '女'), M: t('Male', '男'), O: t('Other', '其他') };
  return text[sex] ?? sex;
}

/** The AI's category (or why there is none) as the badge says it; the category itself stays the badge's class. */
function aiStateText(state: string): string | undefined {
  const text: Record<string, string> = {
    urgent: t('AI: urgent', 'AI：紧急'),
    flagged: t('AI: flagged', 'AI：需关注'),
    priority: t('AI: priority', 'AI：优先'),
    routine: t('AI: routine', 'AI：常规'),
    pending: t('AI: not yet triaged', 'AI：尚未分诊'),
    not_triaged: t('AI: not applicable', 'AI：不适用'),
    failed: t('AI: triage failed', 'AI：分诊失败'),
  };
  return text[state];
}

function aiText(b: Banner): string {
  if (b.aiCategory) return `${aiStateText(b.aiCategory) ?? t(`AI: ${b.aiCategory}`, `AI：${b.aiCategory}`)}${b.aiScore !== null ? t(` (${Math.round(b.aiScore * 100)} %)`, `（${Math.round(b.aiScore * 100)}%）`) : ''}`;
  return aiStateText(b.triageStatus ?? 'pending') ?? t('AI: unknown', 'AI：未知');
}

function field(testId: string, label: string, value: string, extra: Record<string, string> = {}): HTMLElement {
  return h('span', { class: 'banner-field', 'data-testid': testId, ...extra }, h('span', { class: 'banner-label' }, label), ' ', value);
}

/**
 * The patient banner (issue #20): who and what the images are, always on screen (sticky above the image,
 * also on a phone) so a report is never written on the wrong patient. Text only (no innerHTML).
 */
export function patientBanner(): { el: HTMLElement; show: (b: Banner) => void; failed: (message: string) => void } {
  const el = h('header', { class: 'patient-banner', 'data-testid': 'patient-banner', 'aria-label': t('Patient', '患者') }, h('span', { class: 'muted' }, t('Loading patient…', '正在加载患者信息…')));
  return {
    el,
    show: (b) => {
      const notRecorded = t('not recorded', '未登记');
      const age = b.ageAtStudy === null ? null : ageText(b.ageAtStudy);
      const birth = b.birthDate ? `${b.birthDate}${age ? t(` (${age} at study)`, `（检查时 ${age}）`) : ''}` : (age ?? notRecorded);
      const category = b.aiCategory ?? b.triageStatus ?? 'pending';
      replace(
        el,
        h(
          'div',
          { class: 'banner-who' },
          h('strong', { class: 'banner-name', 'data-testid': 'banner-name', lang: 'zh-CN', title: b.characterSet ? t(`Character set ${b.characterSet}`, `字符集 ${b.characterSet}`) : t('Default character set', '默认字符集') }, displayName(b)),
          h('span', { class: 'banner-charset muted small', 'data-testid': 'banner-charset' }, b.characterSet ?? 'ISO_IR 6'),
          field('banner-id', 'ID', displayId(b)),
          field('banner-sex', t('Sex', '性别'), b.sex ? sexText(b.sex) : notRecorded),
          field('banner-birth', t('Born', '出生日期'), birth),
        ),
        h(
          'div',
          { class: 'banner-what' },
          field('banner-study-date', t('Study', '检查时间'), [b.studyDate, b.studyTime].filter((p) => p).join(' ') || t('date not recorded', '日期未登记')),
          field('banner-modality', t('Modality', '检查类型'), b.modalities.join('/') || '—'),
          field('banner-description', t('Description', '检查描述'), b.description ?? '—'),
          field('banner-accession', t('Accession', '检查号'), b.accessionNumber ?? '—'),
          field('banner-clinic', t('Clinic', '体检机构'), b.clinic ?? '—'),
          h('span', { class: `badge badge-${category}`, 'data-testid': 'banner-ai' }, aiText(b)),
        ),
      );
    },
    failed: (message) => replace(el, h('strong', { class: 'banner-error', role: 'alert' }, t(
            `Patient identity could not be loaded: ${message}. Do not report this study until it is shown.`,
            `无法加载患者身份信息：${message}。在患者信息显示之前，请勿报告本检查。`,
          ))),
  };
}
