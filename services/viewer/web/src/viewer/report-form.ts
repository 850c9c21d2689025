import { errorText, getJson, sendJson } from '../app/api';
import { formatDateTime, h, replace, statusLine } from '../app/dom';
import { dateLocale, t } from '../app/i18n';
import { arr, bool, num, obj, str } from '../app/json';
import { aiNodules } from './ai-prefill';
import type { AiResult } from './ai-result';
import { signedNoduleView } from './tirads-block';
import { signedNoduleBilingual } from './tirads-zh';
import { noduleList } from './nodule-list';
import { parseStoredNodule, systemOf, unconfirmedCount, type MeasuredLine, type System } from './tirads-state';

interface ReportVersion {
  version: number;
  kind: string;
  status: 'draft' | 'signed';
  tiradsCategory: string | null;
  cTiradsCategory: string | null;
  findings: string;
  impression: string;
  aiSuggestionAccepted: boolean | null;
  nodules: NonNullable<ReturnType<typeof parseStoredNodule>>[];
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
        cTiradsCategory: str(o.cTiradsCategory),
        findings: str(o.findings) ?? '',
        impression: str(o.impression) ?? '',
        aiSuggestionAccepted: bool(o.aiSuggestionAccepted),
        nodules: arr(o.nodules).flatMap((n) => {
          const parsed = parseStoredNodule(n);
          return parsed ? [parsed] : [];
        }),
        author: str(author.displayName) ?? str(author.username) ?? '',
        signedAt: str(o.signedAt),
      },
    ];
  });
}

const ALGORITHMS: Record<string, string> = { 'ecdsa-p256-sha256': 'ECDSA P-256', 'sm2-sm3': 'SM2/SM3' };

/**
 * The version's signature as the server verifies it (#20): valid or not (with the reasons), the
 * algorithm and key, and the DICOM SR kept with its locked copies. Checked on display, so a report
 * altered after signing says so wherever it is shown.
 */
function signatureLine(base: string, version: number): HTMLElement {
  const line = h('p', { class: 'muted small signature', 'data-testid': 'signature' }, t('Checking the signature…', '正在校验签名…'));
  getJson(`${base}/versions/${version}/signature`)
    .then((body) => {
      const o = obj(body);
      const sr = obj(o.sr);
      const reasons = arr(o.reasons).flatMap((r) => (typeof r === 'string' ? [r] : []));
      // Versions signed before reports were records (#20) have no signature: said plainly, not as a failure.
      if (o.signed === false) {
        line.textContent = t('No digital signature recorded for this version', '此版本无数字签名记录');
        return;
      }
      line.dataset.valid = String(o.valid === true);
      if (o.valid === true) {
        const algorithm = ALGORITHMS[str(o.algorithm) ?? ''] ?? str(o.algorithm) ?? '';
        const key = (str(o.keyId) ?? '').slice(0, 8);
        const copies = num(sr.copies) ?? 0;
        line.textContent = t(`Signature verified (${algorithm}, key ${key}) · DICOM SR stored, ${copies} locked copies`, `签名已验证（${algorithm}，密钥 ${key}）· DICOM SR 已存储，${copies} 份锁定副本`);
      } else {
        line.className = 'small signature';
        line.textContent = t(`Signature check failed: ${reasons.join('; ') || 'unknown reason'}`, `签名校验失败：${reasons.join('；') || '原因未知'}`);
      }
    })
    .catch((error: unknown) => {
      line.textContent = t(`Signature not checked: ${errorText(error)}`, `签名未校验：${errorText(error)}`);
    });
  return line;
}

/**
 * A signed version, read-only (used by the viewer, the clinic's study list and the printed report); `base` adds its
 * signature check; `bilingual` writes the labels and the structured nodules in Chinese and English (the document
 * a client takes home), the radiologist's own text as signed.
 */
export function signedReportView(v: ReportVersion, base?: string, bilingual = false): HTMLElement {
  // The bilingual document keeps its own words in both languages; the screen says them in the reader's.
  const say = (en: string, zh: string, both: string): string => (bilingual ? both : t(en, zh));
  const addendum = v.version - 1;
  const title = v.kind === 'addendum' ? say(`Addendum ${addendum}`, `补充报告 ${addendum}`, `补充报告 ${addendum} Addendum ${addendum}`) : say('Report', '报告', '报告 Report');
  return h(
    'article',
    { class: 'signed-report', 'data-testid': 'signed-report', 'data-version': v.version, 'data-kind': v.kind },
    h('h3', {}, title, h('span', { class: 'muted' }, say(` · version ${v.version}`, ` · 版本 ${v.version}`, ` · 版本 version ${v.version}`)), v.cTiradsCategory ? ` · ${v.cTiradsCategory}` : '', v.tiradsCategory ? ` · ${v.cTiradsCategory ? 'ACR ' : ''}${v.tiradsCategory}` : ''),
    v.nodules.length > 0 ? h('ol', { class: 'signed-nodules' }, ...v.nodules.map((n, i) => (bilingual ? signedNoduleBilingual(n, i + 1) : signedNoduleView(n, i + 1)))) : null,
    v.findings ? h('p', {}, h('strong', {}, say('Findings: ', '超声所见：', '超声所见 Findings: ')), v.findings) : null,
    v.impression ? h('p', {}, h('strong', {}, say('Impression: ', '超声提示：', '超声提示 Impression: ')), v.impression) : null,
    h('p', { class: 'muted' }, `${say('Signed by', '签发', '签发 Signed by')} ${v.author || say('unknown', '未知', 'unknown')} · ${formatDateTime(v.signedAt)}`),
    base !== undefined ? signatureLine(base, v.version) : null,
  );
}

/** Every signed version in order: the report, then its addenda. */
export function signedVersionsView(versions: ReportVersion[], base?: string, bilingual = false): HTMLElement {
  const signed = versions.filter((v) => v.status === 'signed').sort((a, b) => a.version - b.version);
  return h('div', { class: 'report-versions', 'data-testid': 'report-versions' }, ...signed.map((v) => signedReportView(v, base, bilingual)));
}

const TIRADS = ['TR1', 'TR2', 'TR3', 'TR4', 'TR5'];

function tiradsSelect(id: string): HTMLSelectElement {
  return h('select', { id, name: id }, h('option', { value: '' }, t('Not stated', '未注明')), ...TIRADS.map((c) => h('option', { value: c }, c)));
}

/**
 * Re-authentication before a signature (#20): the reader's password goes with the sign request (never
 * stored by the app; the field is cleared after each attempt). A password manager fills it in one action.
 */
function signingPassword(id: string): HTMLInputElement {
  return h('input', { type: 'password', id, name: id, autocomplete: 'current-password', 'data-testid': id, maxlength: 1024 });
}

/**
 * The addendum form under a signed report (POST .../report/addendum, body as the report's content). An
 * addendum is signed as it is created, so once sent it joins the read-only versions above the form.
 */
function addendumForm(base: string, onAdded: () => Promise<void>, system: System): HTMLElement {
  const tirads = tiradsSelect('addendum-tirads');
  const findings = h('textarea', { id: 'addendum-findings', name: 'addendum-findings', rows: 3, maxlength: 20000 });
  const impression = h('textarea', { id: 'addendum-impression', name: 'addendum-impression', rows: 2, maxlength: 10000 });
  const add = h('button', { type: 'submit', class: 'primary', 'data-testid': 'sign-addendum' }, t('Sign addendum', '签署补充报告'));
  const addPassword = signingPassword('addendum-password');
  const status = statusLine();
  // A nodule found or re-scored on review; the reader's own values, signed with the addendum.
  const nodules = noduleList((top) => {
    tirads.disabled = top !== null;
    if (top) tirads.value = top;
  }, null);
  nodules.setSystem(system);
  const form = h(
    'form',
    { class: 'report-form', 'aria-label': t('Addendum', '补充报告'), 'data-testid': 'addendum-form' },
    h('h3', {}, t('Add an addendum', '添加补充报告')),
    nodules.el,
    h('label', { for: 'addendum-tirads' }, t('Addendum TI-RADS category', '补充报告 TI-RADS 分类')),
    tirads,
    h('label', { for: 'addendum-findings' }, t('Addendum findings', '补充超声所见')),
    findings,
    h('label', { for: 'addendum-impression' }, t('Addendum impression', '补充超声提示')),
    impression,
    h('p', { class: 'muted small' }, t('Signed when added with your key; it cannot be changed afterwards.', '添加时即以您的密钥签署，之后不可更改。')),
    h('label', { for: 'addendum-password' }, t('Your password (to sign)', '您的密码（用于签署）')),
    addPassword,
    h('div', { class: 'actions' }, add),
    status.el,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const states = nodules.states();
    if (findings.value.trim() === '' && impression.value.trim() === '' && states.length === 0) {
      status.set(t('Write findings or an impression, or add a nodule, for the addendum.', '请为补充报告填写超声所见或超声提示，或添加结节。'), 'error');
      return;
    }
    const waiting = unconfirmedCount(states, system);
    if (waiting > 0) {
      status.set(t(`${waiting} nodule ${waiting === 1 ? 'field is' : 'fields are'} not assessed: choose each before signing.`, `${waiting} 个结节项目未评估：签署前请逐项选择。`), 'error');
      return;
    }
    if (addPassword.value === '') {
      status.set(t('Enter your password to sign the addendum.', '请输入密码以签署补充报告。'), 'error');
      addPassword.focus();
      return;
    }
    add.disabled = true;
    status.set(t('Signing the addendum…', '正在签署补充报告…'));
    // The reader's answer about the AI suggestion belongs to the report, not to an addendum.
    const body = { tiradsCategory: tirads.value === '' ? null : tirads.value, findings: findings.value, impression: impression.value, nodules: states, password: addPassword.value };
    addPassword.value = '';
    sendJson('POST', `${base}/addendum`, body)
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
 * structured part (#20) is one block per nodule, prefilled from the AI result once the study is claimed
 * and the draft has none: every AI value is marked "AI · not confirmed" until the reader confirms it
 * (per field, or all at once with "Accept AI findings") or changes it, and signing waits until none is
 * left. The free-text findings and impression stay as they were.
 */
export function reportForm(
  studyUid: string,
  getAi: () => AiResult | null,
  /** Called once the report is signed: `justSigned` when the reader signed it here, false when it loaded signed. */
  onSigned: (justSigned: boolean) => void,
): {
  el: HTMLElement;
  load: (signal: AbortSignal) => Promise<void>;
  setPatient: (name: string, id: string) => void;
  prefill: (ai: AiResult | null) => void;
  /** A caliper length as a nodule's long axis (the SR then references where it was measured); false once signed. */
  useLongAxis: (longMm: number, line: MeasuredLine) => boolean;
} {
  const base = `/api/studies/${encodeURIComponent(studyUid)}/report`;
  const tirads = tiradsSelect('tirads');
  const findings = h('textarea', { id: 'findings', name: 'findings', rows: 4, maxlength: 20000 });
  const impression = h('textarea', { id: 'impression', name: 'impression', rows: 3, maxlength: 10000 });
  const accepted = h(
    'select',
    { id: 'ai-accepted', name: 'ai-accepted' },
    h('option', { value: '' }, t('Not stated', '未注明')),
    h('option', { value: 'yes' }, t('Agree with the AI triage', '同意 AI 分诊结果')),
    h('option', { value: 'no' }, t('Disagree with the AI triage', '不同意 AI 分诊结果')),
  );
  const save = h('button', { type: 'button', 'data-testid': 'save-draft' }, t('Save draft', '保存草稿'));
  const sign = h('button', { type: 'submit', class: 'primary', 'data-testid': 'sign-report' }, t('Sign report', '签署报告'));
  const signPassword = signingPassword('sign-password');
  const status = statusLine();
  const overall = h('p', { class: 'muted small', 'data-testid': 'overall-level' });
  // With a scored nodule the overall category is the most suspicious nodule's (the server derives it too).
  const nodules = noduleList(
    (top, c) => {
      tirads.disabled = top !== null;
      if (top) tirads.value = top;
      overall.textContent = c
        ? t(`From the nodules: ${c} (C-TIRADS), ACR ${top ?? '—'} (the most suspicious one).`, `依据结节：${c}（C-TIRADS），ACR ${top ?? '—'}（取最可疑结节）。`)
        : top
          ? t(`From the nodules: ${top} (the most suspicious one).`, `依据结节：${top}（取最可疑结节）。`)
          : '';
    },
    () => {
      // Accepting the AI's findings is agreeing with it, unless the reader already said otherwise.
      if (accepted.value === '') accepted.value = 'yes';
      status.set(t('AI findings accepted: every AI value is now confirmed.', '已采纳 AI 结果：所有 AI 值均已确认。'));
    },
  );
  // Wrong-patient check: the form itself says whose report it is (the banner may be scrolled away).
  const patient = h('p', { class: 'report-patient', 'data-testid': 'report-patient' }, t('Patient: loading…', '患者：正在加载…'));
  const form = h(
    'form',
    { class: 'report-form', 'aria-label': t('Report', '报告') },
    patient,
    nodules.el,
    h('label', { for: 'tirads' }, t('TI-RADS category', 'TI-RADS 分类')),
    tirads,
    overall,
    h('label', { for: 'findings' }, t('Findings', '超声所见')),
    findings,
    h('label', { for: 'impression' }, t('Impression', '超声提示')),
    impression,
    h('label', { for: 'ai-accepted' }, t('AI suggestion', 'AI 建议')),
    accepted,
    h('label', { for: 'sign-password' }, t('Your password (to sign)', '您的密码（用于签署）')),
    signPassword,
    h('div', { class: 'actions' }, save, sign),
    status.el,
  );
  const el = h('section', { class: 'panel', 'aria-labelledby': 'report-heading' }, h('h2', { id: 'report-heading' }, t('Report', '报告')), form);

  let loaded = false;
  /** A saved draft is the reader's: the AI never refills it (they may have removed its nodules on purpose). */
  let hasDraft = false;
  let signedHere = false;

  const content = (): Record<string, unknown> => {
    const ai = getAi();
    const answer = accepted.value === '' ? null : accepted.value === 'yes';
    const states = nodules.states();
    const fromAi = states.some((n) => n.aiNodule !== null);
    return {
      tiradsCategory: tirads.value === '' ? null : tirads.value,
      findings: findings.value,
      impression: impression.value,
      aiResultRef: ai && (answer !== null || fromAi) ? ai.id : null,
      aiSuggestionAccepted: ai ? answer : null,
      nodules: states,
    };
  };
  const showSigned = (versions: ReportVersion[]): void => {
    const reload = async (): Promise<void> => showSigned(parseReportVersions(await getJson(base)));
    // The signed report as a document (print, or save as PDF), in a tab of its own so the study stays open here.
    const print = h('a', { href: `/report/${encodeURIComponent(studyUid)}`, target: '_blank', rel: 'noopener', class: 'small', 'data-testid': 'print-report' }, t('打印报告 Print report', '打印报告'));
    replace(el, h('h2', { id: 'report-heading' }, t('Report', '报告')), patient, signedVersionsView(versions, base), h('p', {}, print), addendumForm(base, reload, nodules.system()));
  };
  const saveDraft = (): Promise<unknown> => sendJson('PUT', `${base}/draft`, content());

  save.addEventListener('click', () => {
    status.set(t('Saving…', '正在保存…'));
    saveDraft()
      .then(() => status.set(t(`Draft saved ${new Date().toLocaleTimeString()}`, `草稿已保存 ${new Date().toLocaleTimeString(dateLocale())}`)))
      .catch((error: unknown) => status.set(errorText(error), 'error'));
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (findings.value.trim() === '' && impression.value.trim() === '' && nodules.states().length === 0) {
      status.set(t('Write findings or an impression, or add a nodule, before signing.', '签署前请填写超声所见或超声提示，或添加结节。'), 'error');
      return;
    }
    const waiting = unconfirmedCount(nodules.states(), nodules.system());
    if (waiting > 0) {
      status.set(
        t(
          `${waiting} nodule ${waiting === 1 ? 'field is' : 'fields are'} not confirmed: confirm or change each (or Accept AI findings) before signing.`,
          `${waiting} 个结节项目未确认：签署前请逐项确认或修改（或点击“采纳 AI 结果”）。`,
        ),
        'error',
      );
      return;
    }
    if (signPassword.value === '') {
      status.set(t('Enter your password to sign (re-authentication).', '请输入密码以签署（重新验证身份）。'), 'error');
      signPassword.focus();
      return;
    }
    const password = signPassword.value;
    signPassword.value = '';
    sign.disabled = true;
    status.set(t('Signing…', '正在签署…'));
    saveDraft()
      .then(() => sendJson('POST', `${base}/sign`, { password }))
      .then(() => getJson(base))
      .then((body) => {
        signedHere = true;
        showSigned(parseReportVersions(body));
        onSigned(true);
      })
      .catch((error: unknown) => {
        sign.disabled = false;
        status.set(errorText(error), 'error');
      });
  });

  const load = async (signal: AbortSignal): Promise<void> => {
    const body = await getJson(base, signal);
    const versions = parseReportVersions(body);
    // The clinic's system (or the report's, once begun) before any block is drawn.
    nodules.setSystem(systemOf(obj(body).tiradsSystem));
    if (versions.some((v) => v.status === 'signed')) {
      signedHere = true;
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
      nodules.set(draft.nodules);
      hasDraft = true;
    }
    loaded = true;
  };
  /** The AI's nodules as the starting point, once: only into a loaded, unsigned form with no saved draft. */
  const prefill = (ai: AiResult | null): void => {
    if (!loaded || signedHere || hasDraft || nodules.states().length > 0) return;
    const suggested = aiNodules(ai);
    if (suggested.length === 0) return;
    nodules.set(suggested);
    status.set(t(`The AI's findings are filled in, marked "AI · not confirmed": confirm or change each before signing.`, '已填入 AI 结果，均标记为“AI · 未确认”：签署前请逐项确认或修改。'));
  };
  const setPatient = (name: string, id: string): void => {
    replace(patient, h('span', { class: 'muted' }, t('Patient: ', '患者：')), h('strong', { lang: 'zh-CN' }, name), ' · ', id);
  };
  const useLongAxis = (longMm: number, line: MeasuredLine): boolean => {
    if (!loaded || signedHere) return false;
    const n = nodules.useLongAxis(longMm, line);
    status.set(t(`Nodule ${n}: long axis ${longMm.toFixed(1)} mm from the caliper (save the draft to keep it).`, `结节 ${n}：长径 ${longMm.toFixed(1)} mm，取自测量（保存草稿后方可保留）。`));
    return true;
  };
  return { el, load, setPatient, prefill, useLongAxis };
}
