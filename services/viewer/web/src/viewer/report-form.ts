import { errorText, getJson, sendJson } from '../app/api';
import { formatDateTime, h, replace, statusLine } from '../app/dom';
import { arr, bool, num, obj, str } from '../app/json';
import { aiPrefill } from './ai-prefill';
import type { AiResult } from './ai-result';

interface ReportVersion {
  version: number;
  kind: string;
  status: 'draft' | 'signed';
  tiradsCategory: string | null;
  findings: string;
  impression: string;
  aiSuggestionAccepted: boolean | null;
  author: string;
  signedAt: string | null;
}

export function parseReportVersions(body: unknown): ReportVersion[] {
  return arr(obj(body).versions).flatMap((v) => {
    const o = obj(v);
    const version = num(o.version);
    if (version === null) return [];
    const author = obj(o.author);
    return [
      {
        version,
        kind: str(o.kind) ?? 'report',
        status: o.status === 'signed' ? 'signed' : 'draft',
        tiradsCategory: str(o.tiradsCategory),
        findings: str(o.findings) ?? '',
        impression: str(o.impression) ?? '',
        aiSuggestionAccepted: bool(o.aiSuggestionAccepted),
        author: str(author.displayName) ?? str(author.username) ?? '',
        signedAt: str(o.signedAt),
      },
    ];
  });
}

/** A signed version, read-only (used by the viewer and the clinic's study list). */
export function signedReportView(v: ReportVersion): HTMLElement {
  return h(
    'article',
    { class: 'signed-report', 'data-testid': 'signed-report', 'data-version': v.version, 'data-kind': v.kind },
    h('h3', {}, v.kind === 'addendum' ? `Addendum ${v.version - 1}` : 'Report', h('span', { class: 'muted' }, ` · version ${v.version}`), v.tiradsCategory ? ` · ${v.tiradsCategory}` : ''),
    v.findings ? h('p', {}, h('strong', {}, 'Findings: '), v.findings) : null,
    v.impression ? h('p', {}, h('strong', {}, 'Impression: '), v.impression) : null,
    h('p', { class: 'muted' }, `Signed by ${v.author || 'unknown'} · ${formatDateTime(v.signedAt)}`),
  );
}

/** Every signed version in order: the report, then its addenda. */
export function signedVersionsView(versions: ReportVersion[]): HTMLElement {
  const signed = versions.filter((v) => v.status === 'signed').sort((a, b) => a.version - b.version);
  return h('div', { class: 'report-versions', 'data-testid': 'report-versions' }, ...signed.map(signedReportView));
}

const TIRADS = ['TR1', 'TR2', 'TR3', 'TR4', 'TR5'];

function tiradsSelect(id: string): HTMLSelectElement {
  return h('select', { id, name: id }, h('option', { value: '' }, 'Not stated'), ...TIRADS.map((c) => h('option', { value: c }, c)));
}

/**
 * The addendum form under a signed report (POST .../report/addendum, body as the report's content). An
 * addendum is signed as it is created, so once sent it joins the read-only versions above the form.
 */
function addendumForm(base: string, onAdded: () => Promise<void>): HTMLElement {
  const tirads = tiradsSelect('addendum-tirads');
  const findings = h('textarea', { id: 'addendum-findings', name: 'addendum-findings', rows: 3, maxlength: 20000 });
  const impression = h('textarea', { id: 'addendum-impression', name: 'addendum-impression', rows: 2, maxlength: 10000 });
  const add = h('button', { type: 'submit', class: 'primary', 'data-testid': 'sign-addendum' }, 'Sign addendum');
  const status = statusLine();
  const form = h(
    'form',
    { class: 'report-form', 'aria-label': 'Addendum', 'data-testid': 'addendum-form' },
    h('h3', {}, 'Add an addendum'),
    h('label', { for: 'addendum-tirads' }, 'Addendum TI-RADS category'),
    tirads,
    h('label', { for: 'addendum-findings' }, 'Addendum findings'),
    findings,
    h('label', { for: 'addendum-impression' }, 'Addendum impression'),
    impression,
    h('p', { class: 'muted small' }, 'Signed when added; it cannot be changed afterwards.'),
    h('div', { class: 'actions' }, add),
    status.el,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (findings.value.trim() === '' && impression.value.trim() === '') {
      status.set('Write findings or an impression for the addendum.', 'error');
      return;
    }
    add.disabled = true;
    status.set('Signing the addendum…');
    // The reader's answer about the AI suggestion belongs to the report, not to an addendum.
    sendJson('POST', `${base}/addendum`, { tiradsCategory: tirads.value === '' ? null : tirads.value, findings: findings.value, impression: impression.value })
      .then(onAdded)
      .catch((error: unknown) => {
        add.disabled = false;
        status.set(errorText(error), 'error');
      });
  });
  return form;
}

/**
 * The report form: a draft saved with PUT .../report/draft and signed with POST .../report/sign. The
 * reader writes every field; "Fill from AI" (only on the reader's click) puts the AI's top nodule in
 * ACR terms into the category and findings, marked as the AI's suggestion and editable, and the form
 * asks whether the reader accepts the AI triage.
 */
export function reportForm(
  studyUid: string,
  getAi: () => AiResult | null,
  /** Called once the report is signed: `justSigned` when the reader signed it here, false when it loaded signed. */
  onSigned: (justSigned: boolean) => void,
): { el: HTMLElement; load: (signal: AbortSignal) => Promise<void>; setPatient: (name: string, id: string) => void } {
  const base = `/api/studies/${encodeURIComponent(studyUid)}/report`;
  const tirads = tiradsSelect('tirads');
  const findings = h('textarea', { id: 'findings', name: 'findings', rows: 4, maxlength: 20000 });
  const impression = h('textarea', { id: 'impression', name: 'impression', rows: 3, maxlength: 10000 });
  const accepted = h(
    'select',
    { id: 'ai-accepted', name: 'ai-accepted' },
    h('option', { value: '' }, 'Not stated'),
    h('option', { value: 'yes' }, 'Agree with the AI triage'),
    h('option', { value: 'no' }, 'Disagree with the AI triage'),
  );
  const save = h('button', { type: 'button', 'data-testid': 'save-draft' }, 'Save draft');
  const fill = h('button', { type: 'button', 'data-testid': 'prefill-ai', title: "The AI's most suspicious nodule in ACR TI-RADS terms, to confirm or correct" }, 'Fill from AI');
  const sign = h('button', { type: 'submit', class: 'primary', 'data-testid': 'sign-report' }, 'Sign report');
  const status = statusLine();
  // Wrong-patient check: the form itself says whose report it is (the banner may be scrolled away).
  const patient = h('p', { class: 'report-patient', 'data-testid': 'report-patient' }, 'Patient: loading…');
  const form = h(
    'form',
    { class: 'report-form', 'aria-label': 'Report' },
    patient,
    h('label', { for: 'tirads' }, 'TI-RADS category'),
    tirads,
    h('label', { for: 'findings' }, 'Findings'),
    findings,
    h('label', { for: 'impression' }, 'Impression'),
    impression,
    h('label', { for: 'ai-accepted' }, 'AI suggestion'),
    accepted,
    h('div', { class: 'actions' }, fill, save, sign),
    status.el,
  );
  const el = h('section', { class: 'panel', 'aria-labelledby': 'report-heading' }, h('h2', { id: 'report-heading' }, 'Report'), form);

  const content = (): Record<string, unknown> => {
    const ai = getAi();
    const answer = accepted.value === '' ? null : accepted.value === 'yes';
    return {
      tiradsCategory: tirads.value === '' ? null : tirads.value,
      findings: findings.value,
      impression: impression.value,
      aiResultRef: ai && answer !== null ? ai.id : null,
      aiSuggestionAccepted: ai ? answer : null,
    };
  };
  const showSigned = (versions: ReportVersion[]): void => {
    const reload = async (): Promise<void> => showSigned(parseReportVersions(await getJson(base)));
    replace(el, h('h2', { id: 'report-heading' }, 'Report'), patient, signedVersionsView(versions), addendumForm(base, reload));
  };
  const saveDraft = (): Promise<unknown> => sendJson('PUT', `${base}/draft`, content());

  fill.addEventListener('click', () => {
    const p = aiPrefill(getAi());
    if (!p) {
      status.set('No AI nodule to fill from (not triaged, or no nodule found).', 'error');
      return;
    }
    if (TIRADS.includes(p.trLevel)) tirads.value = p.trLevel;
    // Added to what the reader wrote, never replacing it; filled twice, it appears once.
    if (!findings.value.includes(p.findings)) findings.value = findings.value.trim() === '' ? p.findings : `${findings.value.trimEnd()}\n${p.findings}`;
    status.set('Filled from the AI suggestion: check each item before signing.');
  });

  save.addEventListener('click', () => {
    status.set('Saving…');
    saveDraft()
      .then(() => status.set(`Draft saved ${new Date().toLocaleTimeString()}`))
      .catch((error: unknown) => status.set(errorText(error), 'error'));
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (findings.value.trim() === '' && impression.value.trim() === '') {
      status.set('Write findings or an impression before signing.', 'error');
      return;
    }
    sign.disabled = true;
    status.set('Signing…');
    saveDraft()
      .then(() => sendJson('POST', `${base}/sign`))
      .then(() => getJson(base))
      .then((body) => {
        showSigned(parseReportVersions(body));
        onSigned(true);
      })
      .catch((error: unknown) => {
        sign.disabled = false;
        status.set(errorText(error), 'error');
      });
  });

  const load = async (signal: AbortSignal): Promise<void> => {
    const versions = parseReportVersions(await getJson(base, signal));
    if (versions.some((v) => v.status === 'signed')) {
      showSigned(versions);
      onSigned(false);
      return;
    }
    const draft = versions.find((v) => v.version === 1);
    if (draft) {
      tirads.value = draft.tiradsCategory ?? '';
      findings.value = draft.findings;
      impression.value = draft.impression;
      accepted.value = draft.aiSuggestionAccepted === null ? '' : draft.aiSuggestionAccepted ? 'yes' : 'no';
    }
  };
  const setPatient = (name: string, id: string): void => {
    replace(patient, h('span', { class: 'muted' }, 'Patient: '), h('strong', { lang: 'zh-CN' }, name), ' · ', id);
  };
  return { el, load, setPatient };
}
