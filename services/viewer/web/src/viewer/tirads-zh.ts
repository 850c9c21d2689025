import type { CTiradsScore, NoduleScore } from '@yunying/nodule-model/tirads-report';
import { h } from '../app/dom';
import { language, t } from '../app/i18n';
import { codeLabel, cTiradsText, ITEM_LABEL, scoreText, SINGLE_ITEMS, type NoduleState, type SingleItem } from './tirads-state';

/**
 * The structured report's words in Simplified Chinese, for the documents a client takes home (the printed report):
 * the terms Chinese thyroid ultrasound reports use for the ACR TI-RADS lexicon, its levels and the C-TIRADS
 * categories, each shown beside the English so that the radiologist's signed meaning is never only a translation.
 * The screen uses the same terms in the reader's language alone (itemText, codeText, localScoreText): what is
 * stored and signed stays the codes.
 */
const ITEM_ZH: Record<SingleItem | 'echogenicFoci', string> = {
  composition: '成分',
  echogenicity: '回声',
  shape: '形态',
  margin: '边缘',
  echogenicFoci: '强回声灶',
};

const CODE_ZH: Record<SingleItem | 'echogenicFoci', Record<string, string>> = {
  composition: { cystic: '囊性或几乎完全囊性', spongiform: '海绵状', mixed: '囊实混合性', solid: '实性或几乎完全实性' },
  echogenicity: { anechoic: '无回声', 'hyper-iso': '高回声或等回声', hypo: '低回声', 'very-hypo': '极低回声' },
  shape: { wider: '宽大于高', taller: '高大于宽' },
  margin: { smooth: '光整', 'ill-defined': '边界不清', 'lobulated-irregular': '分叶状或不规则', extrathyroidal: '甲状腺外侵犯' },
  echogenicFoci: { none: '无或大彗星尾征', macro: '粗大钙化', peripheral: '周边（环状）钙化', punctate: '点状强回声' },
};

const LEVEL_ZH: Record<string, string> = { TR1: '良性', TR2: '不可疑', TR3: '轻度可疑', TR4: '中度可疑', TR5: '高度可疑' };

const C_ZH: Record<string, string> = {
  'C-TR1': '无结节',
  'C-TR2': '良性',
  'C-TR3': '良性可能',
  'C-TR4A': '低度可疑恶性',
  'C-TR4B': '中度可疑恶性',
  'C-TR4C': '高度可疑恶性',
  'C-TR5': '高度提示恶性',
  'C-TR6': '活检证实恶性',
};

const ACTION_ZH: Record<string, string> = { fna: '建议细针穿刺活检 FNA recommended', 'follow-up': '建议超声随访 Ultrasound follow-up', none: '无需穿刺或随访 No FNA or follow-up' };

/** A lexicon item of the report: the four single-choice items and echogenic foci. */
export type LexiconItem = SingleItem | 'echogenicFoci';

export function isLexiconItem(value: string): value is LexiconItem {
  return Object.hasOwn(ITEM_ZH, value);
}

/** "回声": the Chinese name of a lexicon item. */
export function itemZh(item: LexiconItem): string {
  return ITEM_ZH[item];
}

/** "极低回声": the Chinese term of a lexicon code; `fallback` (the English label) when it has none. */
export function codeZh(item: LexiconItem, code: string, fallback: string = codeLabel(item, code)): string {
  return CODE_ZH[item][code] ?? fallback;
}

/** The item's name in the reader's language ("Echogenicity" / "回声"). */
export function itemText(item: LexiconItem): string {
  return t(ITEM_LABEL[item], ITEM_ZH[item]);
}

/** A code's label in the reader's language ("Very hypoechoic" / "极低回声"). */
export function codeText(item: LexiconItem, code: string): string {
  return language() === 'zh' ? codeZh(item, code) : codeLabel(item, code);
}

/** The chart's spongiform footnote, said where a total is not the rows' sum (the report form, the AI panel). */
export function spongiformNoteText(): string {
  return t('Spongiform: the other items add no points (ACR chart), so the nodule is TR1.', '海绵状：其他项目不计分（ACR 评分表），故该结节为 TR1。');
}

/**
 * The AI panel's line under a nodule's categories when it is spongiform (null otherwise). The model's findings
 * apply the footnote since 2026-12-08 (tiradsOf); a result stored before then carries the plain sum, and says so.
 */
export function aiSpongiformNote(nodule: { lexicon: readonly { item: string; code: string }[]; tiradsPoints: number }): string | null {
  if (!nodule.lexicon.some((l) => l.item === 'composition' && l.code === 'spongiform')) return null;
  if (nodule.tiradsPoints === 0) return spongiformNoteText();
  return t('Spongiform: by the ACR chart the other items add no points (TR1); this result was stored before that rule was applied.', '海绵状：按 ACR 评分表其他项目不计分（TR1）；此结果保存于该规则应用之前。');
}

/**
 * The AI panel's line under a cystic nodule whose echogenicity came from the head, not the chart (null otherwise):
 * a result stored before 2026-12-08, when the findings began reading a cystic nodule as anechoic (withChartEchogenicity).
 */
export function aiCysticNote(nodule: { lexicon: readonly { item: string; code: string; basis: string }[] }): string | null {
  const cystic = nodule.lexicon.some((l) => l.item === 'composition' && l.code === 'cystic');
  const echogenicity = nodule.lexicon.find((l) => l.item === 'echogenicity');
  if (!cystic || echogenicity === undefined || echogenicity.code === 'anechoic') return null;
  return t('Cystic: by the ACR chart the echogenicity is anechoic (0 points); this result was stored before that rule was applied.', '囊性：按 ACR 评分表回声为无回声（0 分）；此结果保存于该规则应用之前。');
}

/** "TR4：≥ 1.5 cm 时行 FNA": the scoring rule of the nodule model in Chinese; the rule as written when it is not one the model writes. */
export function ruleZh(rule: string): string {
  const [, level, what] = /^([\w-]+): (.*)$/.exec(rule) ?? [];
  if (level === undefined || what === undefined) return rule;
  const ge = (s: string): string => s.replace('>=', '≥');
  const patterns: [RegExp, (m: RegExpExecArray) => string][] = [
    [/^no FNA$/, () => '无需 FNA'],
    [/^benign, no FNA$/, () => '良性，无需 FNA'],
    [/^proven malignant, refer for treatment$/, () => '已证实恶性，转诊治疗'],
    [/^FNA if (>=? [\d.]+ cm)$/, (m) => `${ge(m[1] ?? '')} 时行 FNA`],
    [/^follow-up if (>=? [\d.]+ cm)$/, (m) => `${ge(m[1] ?? '')} 时随访`],
    [/^below ([\d.]+ cm), no follow-up$/, (m) => `< ${m[1] ?? ''}，无需随访`],
    [/^size unknown \(FNA if (>=? [\d.]+ cm), follow-up if (>=? [\d.]+ cm)\)$/, (m) => `大小未知（${ge(m[1] ?? '')} 时行 FNA，${ge(m[2] ?? '')} 时随访）`],
    [/^size unknown \(FNA if (>=? [\d.]+ cm)\)$/, (m) => `大小未知（${ge(m[1] ?? '')} 时行 FNA）`],
    [/^up to ([\d.]+ cm), no FNA$/, (m) => `≤ ${m[1] ?? ''}，无需 FNA`],
    [/^up to ([\d.]+ cm), follow-up; FNA only for suspected extension or nodes$/, (m) => `≤ ${m[1] ?? ''} 时随访；仅在怀疑腺外侵犯或淋巴结转移时行 FNA`],
  ];
  for (const [pattern, say] of patterns) {
    const m = pattern.exec(what);
    if (m) return `${level}：${say(m)}`;
  }
  return rule;
}

const ACTION_ONLY_ZH: Record<string, string> = { fna: '建议细针穿刺活检', 'follow-up': '建议超声随访', none: '无需穿刺或随访' };

/** The score in the reader's language: scoreText, or "11 分 · TR5 高度可疑 · 建议细针穿刺活检（TR5：≥ 1 cm 时行 FNA）". */
export function localScoreText(score: NoduleScore | null): string {
  if (language() !== 'zh') return scoreText(score);
  if (!score || score.trLevel === null) return '尚未评分：请选择每一项';
  const rec = score.recommendation;
  const action = rec ? ` · ${ACTION_ONLY_ZH[rec.action] ?? rec.action}（${ruleZh(rec.rule)}）` : '';
  return `${score.totalPoints ?? '?'} 分 · ${score.trLevel} ${LEVEL_ZH[score.trLevel] ?? ''}${action}`;
}

/** The C-TIRADS score in the reader's language: cTiradsText, or "3 分 · C-TR4C 高度可疑恶性 · 建议细针穿刺活检（…）". */
export function localCTiradsText(score: CTiradsScore | null): string {
  if (language() !== 'zh') return cTiradsText(score);
  if (!score || score.category === null) return 'C-TIRADS 尚未评分：请选择每一项并注明有无彗星尾征';
  const rec = score.recommendation;
  const count = score.count === null ? '' : `${score.count} 分 · `;
  return `${count}${score.category} ${C_ZH[score.category] ?? ''}${rec ? ` · ${ACTION_ONLY_ZH[rec.action] ?? rec.action}（${ruleZh(rec.rule)}）` : ''}`;
}

/** "低回声 Hypoechoic": the Chinese term and the English label of a lexicon code (the code itself if unknown). */
export function bilingualCode(item: SingleItem | 'echogenicFoci', code: string): string {
  const zh = CODE_ZH[item][code];
  return zh === undefined ? codeLabel(item, code) : `${zh} ${codeLabel(item, code)}`;
}

/** "7 分 points · TR5 高度可疑 highly suspicious · 建议细针穿刺活检 FNA recommended (TR5: FNA if ≥ 1 cm)". */
export function bilingualScore(score: NoduleScore | null): string {
  if (!score || score.trLevel === null) return '未评分 Not scored';
  const rec = score.recommendation;
  const action = rec ? ` · ${ACTION_ZH[rec.action] ?? rec.action} (${rec.rule.replaceAll('>=', '≥')})` : '';
  return `${score.totalPoints ?? '?'} 分 points · ${score.trLevel} ${LEVEL_ZH[score.trLevel] ?? ''}${action}`;
}

export function bilingualCTirads(score: CTiradsScore | null): string {
  if (!score || score.category === null) return 'C-TIRADS 未评分 not scored';
  const rec = score.recommendation;
  return `C-TIRADS ${score.category} ${C_ZH[score.category] ?? ''}${rec ? ` · ${ACTION_ZH[rec.action] ?? rec.action} (${rec.rule})` : ''}`;
}

/** A signed nodule for the printed report: the same content as the screen's list, each term in Chinese and English. */
export function signedNoduleBilingual(n: NoduleState & { score: NoduleScore | null; cTirads?: CTiradsScore | null }, number: number): HTMLElement {
  // Whose value each is stays on the record, as on the screen.
  const whose = (f: { source: string; confirmed: boolean }): string => (f.source === 'ai' ? (f.confirmed ? '（AI 提示，医生已确认 AI, confirmed）' : '（AI 提示，未确认 AI, not confirmed）') : '');
  const label = (item: SingleItem | 'echogenicFoci'): string => `${ITEM_ZH[item]} ${ITEM_LABEL[item]}`;
  const items = SINGLE_ITEMS.map((i) => `${label(i)}: ${n[i].code ? `${bilingualCode(i, n[i].code)}${whose(n[i])}` : '未评估 not assessed'}`);
  const foci = `${label('echogenicFoci')}: ${n.echogenicFoci.codes.map((c) => bilingualCode('echogenicFoci', c)).join('、') || '未评估 not assessed'}${n.echogenicFoci.codes.length > 0 ? whose(n.echogenicFoci) : ''}`;
  const extra = [...(n.cometTail ? [`彗星尾征 Comet-tail artefacts: ${n.cometTail.present ? '有 present' : '无 absent'}`] : []), ...(n.provenMalignant ? ['已证实恶性 Proven malignant'] : [])];
  const size = n.size ? ` · ${n.size.longMm}${n.size.shortMm ? ` × ${n.size.shortMm}` : ''} mm` : '';
  return h(
    'li',
    { 'data-testid': 'signed-nodule', 'data-level': n.score?.trLevel ?? '', 'data-ctirads': n.cTirads?.category ?? '', lang: 'zh-CN' },
    h('strong', {}, `结节 ${number} Nodule ${number}`),
    n.location ? ` · ${n.location}` : '',
    size,
    ...[...items, foci, ...extra].flatMap((line) => [h('br'), line]),
    h('br'),
    n.cTirads ? h('em', { 'data-testid': 'signed-ctirads' }, bilingualCTirads(n.cTirads)) : null,
    n.cTirads ? h('br') : null,
    h('em', { 'data-testid': 'signed-score' }, n.cTirads ? `ACR TI-RADS: ${bilingualScore(n.score)}` : bilingualScore(n.score)),
  );
}
