import { h, replace } from '../app/dom';
import { t } from '../app/i18n';
import { codeText, itemText, localCTiradsText, localScoreText, spongiformNoteText } from './tirads-zh';
import {
  confirmAi,
  cTiradsOf,
  type cTiradsText,
  LEXICON,
  scoreOf,
  type scoreText,
  SINGLE_ITEMS,
  type NoduleState,
  type SingleItem,
  type Source,
  type System,
} from './tirads-state';

/**
 * One nodule of the structured report: a select per ACR item (echogenic foci: checkboxes, all that
 * apply), size and location, each field with a mark that says whose value it is: "AI · not confirmed"
 * until the reader confirms it (its Confirm button, or "Accept AI findings") or changes it. The TR level
 * and recommendation under it are recomputed on every change, for display; the server stores its own.
 */
export interface NoduleBlock {
  el: HTMLElement;
  get: () => NoduleState;
  /** Confirms every AI suggestion of this nodule (the reader's "Accept AI findings"). */
  acceptAi: () => void;
  setNumber: (n: number) => void;
}

let blockSeq = 0;

function mark(source: Source, confirmed: boolean, assessed: boolean): { text: string; kind: string } {
  if (!assessed) return { text: t('Not assessed', '未评估'), kind: 'none' };
  if (source === 'ai') return confirmed ? { text: t('AI · confirmed', 'AI · 已确认'), kind: 'confirmed' } : { text: t('AI · not confirmed', 'AI · 未确认'), kind: 'ai' };
  return { text: t('Reader', '医生'), kind: 'confirmed' };
}

export function noduleBlock(initial: NoduleState, onChange: () => void, onRemove: () => void, system: System = 'acr-2017'): NoduleBlock {
  const id = `nodule-${(blockSeq += 1)}`;
  let state = initial;
  const heading = h('span', { class: 'nodule-number' }, t('Nodule', '结节'));
  const note = h('p', { class: 'muted small', 'data-testid': 'nodule-note' });
  const score = h('p', { class: 'nodule-score', 'data-testid': 'nodule-score', 'aria-live': 'polite' });
  // In a C-TIRADS report the ACR score stays visible, smaller: the same codes, the other system's reading.
  const secondary = h('p', { class: 'muted small', 'data-testid': 'nodule-score-acr' });
  const refreshers: (() => void)[] = [];

  /** The mark and Confirm button of one field, kept in step with the state by `refresh`. */
  const fieldRow = (key: string, label: HTMLElement, control: HTMLElement, read: () => { source: Source; confirmed: boolean; assessed: boolean }, confirm: () => void): HTMLElement => {
    const badge = h('span', { class: 'field-mark', 'data-testid': 'field-mark' });
    const button = h('button', { type: 'button', class: 'link confirm-field', 'data-testid': 'confirm-field' }, t('Confirm', '确认'));
    button.setAttribute('aria-label', t(`Confirm ${label.textContent ?? key}`, `确认${label.textContent ?? key}`));
    const row = h('div', { class: 'tirads-field', 'data-field': key }, label, h('div', { class: 'field-control' }, control, badge, button));
    button.addEventListener('click', () => {
      confirm();
      changed();
    });
    refreshers.push(() => {
      const f = read();
      const m = mark(f.source, f.confirmed, f.assessed);
      badge.textContent = m.text;
      badge.dataset.kind = m.kind;
      row.dataset.source = f.source;
      row.dataset.confirmed = String(f.confirmed);
      button.hidden = !(f.source === 'ai' && f.assessed && !f.confirmed);
    });
    return row;
  };

  const single = (item: SingleItem): HTMLElement => {
    const select = h(
      'select',
      { id: `${id}-${item}`, 'data-item': item },
      h('option', { value: '' }, t('Not assessed', '未评估')),
      ...LEXICON[item].map((c) => h('option', { value: c.code }, t(`${c.label} (${c.points} ${c.points === 1 ? 'point' : 'points'})`, `${codeText(item, c.code)}（${c.points} 分）`))),
    );
    select.value = state[item].code ?? '';
    select.addEventListener('change', () => {
      // The reader's choice is their statement: confirmed by choosing, unassessed when cleared.
      state = { ...state, [item]: { code: select.value || null, source: 'reader', confirmed: select.value !== '' } };
      changed();
    });
    return fieldRow(
      item,
      h('label', { for: select.id }, itemText(item)),
      select,
      () => ({ source: state[item].source, confirmed: state[item].confirmed, assessed: state[item].code !== null }),
      () => {
        state = { ...state, [item]: { ...state[item], confirmed: true } };
      },
    );
  };

  const foci = (): HTMLElement => {
    const boxes = LEXICON.echogenicFoci.map((c) => {
      const box = h('input', { type: 'checkbox', id: `${id}-foci-${c.code}`, value: c.code });
      box.checked = state.echogenicFoci.codes.includes(c.code);
      return box;
    });
    for (const box of boxes) {
      box.addEventListener('change', () => {
        // "None" excludes every other focus (validated again on the server).
        for (const other of boxes) if (box.checked && other !== box && (box.value === 'none' || other.value === 'none')) other.checked = false;
        const codes = boxes.filter((b) => b.checked).map((b) => b.value);
        state = { ...state, echogenicFoci: { codes, source: 'reader', confirmed: codes.length > 0 } };
        changed();
      });
    }
    const labelled = boxes.map((box, i) => {
      const c = LEXICON.echogenicFoci[i];
      return h('label', { class: 'check' }, box, c ? t(` ${c.label} (${c.points})`, ` ${codeText('echogenicFoci', c.code)}（${c.points}）`) : '');
    });
    return fieldRow(
      'echogenicFoci',
      h('span', { class: 'field-label', id: `${id}-foci-label` }, t(`${itemText('echogenicFoci')} (all that apply)`, `${itemText('echogenicFoci')}（可多选）`)),
      h('div', { role: 'group', 'aria-labelledby': `${id}-foci-label`, class: 'foci' }, ...labelled),
      () => ({ source: state.echogenicFoci.source, confirmed: state.echogenicFoci.confirmed, assessed: state.echogenicFoci.codes.length > 0 }),
      () => {
        state = { ...state, echogenicFoci: { ...state.echogenicFoci, confirmed: true } };
      },
    );
  };

  const size = (): HTMLElement => {
    const input = (suffix: string, value: number | null | undefined, label: string): HTMLInputElement =>
      h('input', { type: 'number', id: `${id}-${suffix}`, min: 0.1, max: 200, step: 0.1, value: value ?? '', 'aria-label': label, class: 'mm' });
    const long = input('long', state.size?.longMm, t('Long axis (mm)', '长径（mm）'));
    const short = input('short', state.size?.shortMm, t('Short axis (mm)', '短径（mm）'));
    const onInput = (): void => {
      const l = Number.parseFloat(long.value);
      const s = Number.parseFloat(short.value);
      // The caliper line stays only while the long axis is still the length it measured.
      const line = state.size?.longAxisLine && state.size.longMm === l ? state.size.longAxisLine : null;
      state = { ...state, size: Number.isFinite(l) && l > 0 ? { longMm: l, shortMm: Number.isFinite(s) && s > 0 ? s : null, longAxisLine: line, source: 'reader', confirmed: true } : null };
      changed();
    };
    long.addEventListener('change', onInput);
    short.addEventListener('change', onInput);
    return fieldRow(
      'size',
      h('label', { for: long.id }, t('Size (mm, long × short)', '大小（mm，长径 × 短径）')),
      h('span', { class: 'size-inputs' }, long, ' × ', short),
      () => ({ source: state.size?.source ?? 'reader', confirmed: state.size?.confirmed ?? false, assessed: state.size !== null }),
      () => {
        state = { ...state, size: state.size ? { ...state.size, confirmed: true } : null };
      },
    );
  };

  /** C-TIRADS: comet-tail artefacts (-1), the reader's own statement; the AI's foci "none" cannot tell. */
  const cometTail = (): HTMLElement => {
    const select = h(
      'select',
      { id: `${id}-comet-tail`, 'data-item': 'cometTail' },
      h('option', { value: '' }, t('Not assessed', '未评估')),
      h('option', { value: 'absent' }, t('Absent', '无')),
      h('option', { value: 'present' }, t('Present (−1)', '有（−1）')),
    );
    select.value = state.cometTail === null ? '' : state.cometTail.present ? 'present' : 'absent';
    select.addEventListener('change', () => {
      state = { ...state, cometTail: select.value === '' ? null : { present: select.value === 'present', source: 'reader', confirmed: true } };
      changed();
    });
    return fieldRow(
      'cometTail',
      h('label', { for: select.id }, t('Comet-tail artefacts', '彗星尾征')),
      select,
      () => ({ source: 'reader', confirmed: state.cometTail !== null, assessed: state.cometTail !== null }),
      () => undefined,
    );
  };

  /** C-TIRADS 6: a nodule already proven malignant (cytology or histology); off unless the reader says. */
  const proven = (): HTMLElement => {
    const box = h('input', { type: 'checkbox', id: `${id}-proven`, 'data-item': 'provenMalignant' });
    box.checked = state.provenMalignant;
    box.addEventListener('change', () => {
      state = { ...state, provenMalignant: box.checked };
      changed();
    });
    return h('div', { class: 'tirads-field', 'data-field': 'provenMalignant' }, h('label', { class: 'check', for: box.id }, box, t(' Proven malignant (cytology or histology): C-TIRADS 6', ' 已证实恶性（细胞学或组织学）：C-TIRADS 6')));
  };

  const location = h('input', { type: 'text', id: `${id}-location`, maxlength: 200, placeholder: t('e.g. right lobe, lower pole', '如：右叶下极'), value: state.location });
  location.addEventListener('input', () => {
    state = { ...state, location: location.value };
    onChange();
  });
  const remove = h('button', { type: 'button', class: 'link', 'data-testid': 'remove-nodule' }, t('Remove nodule', '删除结节'));
  remove.addEventListener('click', onRemove);
  const origin = state.aiNodule ? h('span', { class: 'muted small' }, t(` · suggested by the AI on frame ${state.aiNodule.frameNumber}`, ` · AI 于第 ${state.aiNodule.frameNumber} 帧提示`)) : null;

  const el = h(
    'fieldset',
    { class: 'nodule-block', 'data-testid': 'nodule-block' },
    h('legend', {}, heading, origin),
    ...SINGLE_ITEMS.map(single),
    foci(),
    system === 'c-tirads-2020' ? cometTail() : null,
    system === 'c-tirads-2020' ? proven() : null,
    size(),
    h('div', { class: 'tirads-field' }, h('label', { for: location.id }, t('Location', '位置')), location),
    score,
    secondary,
    note,
    h('div', { class: 'actions' }, remove),
  );

  function refresh(): void {
    for (const r of refreshers) r();
    if (system === 'c-tirads-2020') {
      const c = cTiradsOf(state);
      score.textContent = localCTiradsText(c);
      score.dataset.level = c.category ?? '';
      secondary.textContent = `${t('ACR TI-RADS: ', 'ACR TI-RADS：')}${localScoreText(scoreOf(state))}`;
    } else {
      score.textContent = localScoreText(scoreOf(state));
      score.dataset.level = scoreOf(state).trLevel ?? '';
    }
    // Why the level is lower than the rows' points add up to: the chart's spongiform footnote (the AI panel says the same).
    note.textContent = state.composition.code === 'spongiform' ? spongiformNoteText() : '';
  }
  function changed(): void {
    refresh();
    onChange();
  }
  refresh();

  return {
    el,
    get: () => state,
    acceptAi: () => {
      state = confirmAi(state);
      refresh();
    },
    setNumber: (n) => replace(heading, t(`Nodule ${n}`, `结节 ${n}`)),
  };
}

/** A signed nodule, read-only: each item with its points, then the stored score in words. */
export function signedNoduleView(n: NoduleState & { score: Parameters<typeof scoreText>[0]; cTirads?: Parameters<typeof cTiradsText>[0] }, number: number): HTMLElement {
  // Whose value each is stays on the record: the AI's (confirmed by the reader) or the reader's own.
  const whose = (f: { source: string; confirmed: boolean }): string => (f.source === 'ai' ? (f.confirmed ? t(' (AI, confirmed)', '（AI 提示，医生已确认）') : t(' (AI, not confirmed)', '（AI 提示，未确认）')) : '');
  const colon = t(': ', '：');
  const notAssessed = t('not assessed', '未评估');
  const items = SINGLE_ITEMS.map((i) => (n[i].code ? `${itemText(i)}${colon}${codeText(i, n[i].code)}${whose(n[i])}` : `${itemText(i)}${colon}${notAssessed}`));
  const foci = `${itemText('echogenicFoci')}${colon}${n.echogenicFoci.codes.map((c) => codeText('echogenicFoci', c)).join(t(', ', '、')) || notAssessed}${n.echogenicFoci.codes.length > 0 ? whose(n.echogenicFoci) : ''}`;
  const size = n.size ? ` · ${n.size.longMm}${n.size.shortMm ? ` × ${n.size.shortMm}` : ''} mm` : '';
  return h(
    'li',
    { 'data-testid': 'signed-nodule', 'data-level': n.score?.trLevel ?? '', 'data-ctirads': n.cTirads?.category ?? '' },
    h('strong', {}, t(`Nodule ${number}`, `结节 ${number}`)),
    n.location ? ` · ${n.location}` : '',
    size,
    h('br'),
    [
      ...items,
      foci,
      ...(n.cometTail ? [n.cometTail.present ? t('Comet-tail artefacts: present', '彗星尾征：有') : t('Comet-tail artefacts: absent', '彗星尾征：无')] : []),
      ...(n.provenMalignant ? [t('Proven malignant', '已证实恶性')] : []),
    ].join(t('; ', '；')),
    h('br'),
    n.cTirads ? h('em', { 'data-testid': 'signed-ctirads' }, localCTiradsText(n.cTirads)) : null,
    n.cTirads ? h('br') : null,
    h('em', {}, n.cTirads ? `${t('ACR TI-RADS: ', 'ACR TI-RADS：')}${localScoreText(n.score)}` : localScoreText(n.score)),
  );
}
