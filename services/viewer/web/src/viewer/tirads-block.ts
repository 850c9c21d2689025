import { h, replace } from '../app/dom';
import {
  codeLabel,
  confirmAi,
  cTiradsOf,
  cTiradsText,
  ITEM_LABEL,
  LEXICON,
  scoreOf,
  scoreText,
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
  if (!assessed) return { text: 'Not assessed', kind: 'none' };
  if (source === 'ai') return confirmed ? { text: 'AI · confirmed', kind: 'confirmed' } : { text: 'AI · not confirmed', kind: 'ai' };
  return { text: 'Reader', kind: 'confirmed' };
}

export function noduleBlock(initial: NoduleState, onChange: () => void, onRemove: () => void, system: System = 'acr-2017'): NoduleBlock {
  const id = `nodule-${(blockSeq += 1)}`;
  let state = initial;
  const heading = h('span', { class: 'nodule-number' }, 'Nodule');
  const note = h('p', { class: 'muted small', 'data-testid': 'nodule-note' });
  const score = h('p', { class: 'nodule-score', 'data-testid': 'nodule-score', 'aria-live': 'polite' });
  // In a C-TIRADS report the ACR score stays visible, smaller: the same codes, the other system's reading.
  const secondary = h('p', { class: 'muted small', 'data-testid': 'nodule-score-acr' });
  const refreshers: (() => void)[] = [];

  /** The mark and Confirm button of one field, kept in step with the state by `refresh`. */
  const fieldRow = (key: string, label: HTMLElement, control: HTMLElement, read: () => { source: Source; confirmed: boolean; assessed: boolean }, confirm: () => void): HTMLElement => {
    const badge = h('span', { class: 'field-mark', 'data-testid': 'field-mark' });
    const button = h('button', { type: 'button', class: 'link confirm-field', 'data-testid': 'confirm-field' }, 'Confirm');
    button.setAttribute('aria-label', `Confirm ${label.textContent ?? key}`);
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
      h('option', { value: '' }, 'Not assessed'),
      ...LEXICON[item].map((c) => h('option', { value: c.code }, `${c.label} (${c.points} ${c.points === 1 ? 'point' : 'points'})`)),
    );
    select.value = state[item].code ?? '';
    select.addEventListener('change', () => {
      // The reader's choice is their statement: confirmed by choosing, unassessed when cleared.
      state = { ...state, [item]: { code: select.value || null, source: 'reader', confirmed: select.value !== '' } };
      changed();
    });
    return fieldRow(
      item,
      h('label', { for: select.id }, ITEM_LABEL[item]),
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
      return h('label', { class: 'check' }, box, c ? ` ${c.label} (${c.points})` : '');
    });
    return fieldRow(
      'echogenicFoci',
      h('span', { class: 'field-label', id: `${id}-foci-label` }, `${ITEM_LABEL.echogenicFoci} (all that apply)`),
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
    const long = input('long', state.size?.longMm, 'Long axis (mm)');
    const short = input('short', state.size?.shortMm, 'Short axis (mm)');
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
      h('label', { for: long.id }, 'Size (mm, long × short)'),
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
      h('option', { value: '' }, 'Not assessed'),
      h('option', { value: 'absent' }, 'Absent'),
      h('option', { value: 'present' }, 'Present (−1)'),
    );
    select.value = state.cometTail === null ? '' : state.cometTail.present ? 'present' : 'absent';
    select.addEventListener('change', () => {
      state = { ...state, cometTail: select.value === '' ? null : { present: select.value === 'present', source: 'reader', confirmed: true } };
      changed();
    });
    return fieldRow(
      'cometTail',
      h('label', { for: select.id }, 'Comet-tail artefacts'),
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
    return h('div', { class: 'tirads-field', 'data-field': 'provenMalignant' }, h('label', { class: 'check', for: box.id }, box, ' Proven malignant (cytology or histology): C-TIRADS 6'));
  };

  const location = h('input', { type: 'text', id: `${id}-location`, maxlength: 200, placeholder: 'e.g. right lobe, lower pole', value: state.location });
  location.addEventListener('input', () => {
    state = { ...state, location: location.value };
    onChange();
  });
  const remove = h('button', { type: 'button', class: 'link', 'data-testid': 'remove-nodule' }, 'Remove nodule');
  remove.addEventListener('click', onRemove);
  const origin = state.aiNodule ? h('span', { class: 'muted small' }, ` · suggested by the AI on frame ${state.aiNodule.frameNumber}`) : null;

  const el = h(
    'fieldset',
    { class: 'nodule-block', 'data-testid': 'nodule-block' },
    h('legend', {}, heading, origin),
    ...SINGLE_ITEMS.map(single),
    foci(),
    system === 'c-tirads-2020' ? cometTail() : null,
    system === 'c-tirads-2020' ? proven() : null,
    size(),
    h('div', { class: 'tirads-field' }, h('label', { for: location.id }, 'Location'), location),
    score,
    secondary,
    note,
    h('div', { class: 'actions' }, remove),
  );

  function refresh(): void {
    for (const r of refreshers) r();
    if (system === 'c-tirads-2020') {
      const c = cTiradsOf(state);
      score.textContent = cTiradsText(c);
      score.dataset.level = c.category ?? '';
      secondary.textContent = `ACR TI-RADS: ${scoreText(scoreOf(state))}`;
    } else {
      score.textContent = scoreText(scoreOf(state));
      score.dataset.level = scoreOf(state).trLevel ?? '';
    }
    // Why the level may be lower than the AI panel's sum: the chart's spongiform footnote.
    note.textContent = state.composition.code === 'spongiform' ? 'Spongiform: the other items add no points (ACR chart), so the nodule is TR1.' : '';
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
    setNumber: (n) => replace(heading, `Nodule ${n}`),
  };
}

/** A signed nodule, read-only: each item with its points, then the stored score in words. */
export function signedNoduleView(n: NoduleState & { score: Parameters<typeof scoreText>[0]; cTirads?: Parameters<typeof cTiradsText>[0] }, number: number): HTMLElement {
  // Whose value each is stays on the record: the AI's (confirmed by the reader) or the reader's own.
  const whose = (f: { source: string; confirmed: boolean }): string => (f.source === 'ai' ? (f.confirmed ? ' (AI, confirmed)' : ' (AI, not confirmed)') : '');
  const items = SINGLE_ITEMS.map((i) => (n[i].code ? `${ITEM_LABEL[i]}: ${codeLabel(i, n[i].code)}${whose(n[i])}` : `${ITEM_LABEL[i]}: not assessed`));
  const foci = `${ITEM_LABEL.echogenicFoci}: ${n.echogenicFoci.codes.map((c) => codeLabel('echogenicFoci', c)).join(', ') || 'not assessed'}${n.echogenicFoci.codes.length > 0 ? whose(n.echogenicFoci) : ''}`;
  const size = n.size ? ` · ${n.size.longMm}${n.size.shortMm ? ` × ${n.size.shortMm}` : ''} mm` : '';
  return h(
    'li',
    { 'data-testid': 'signed-nodule', 'data-level': n.score?.trLevel ?? '', 'data-ctirads': n.cTirads?.category ?? '' },
    h('strong', {}, `Nodule ${number}`),
    n.location ? ` · ${n.location}` : '',
    size,
    h('br'),
    [...items, foci, ...(n.cometTail ? [`Comet-tail artefacts: ${n.cometTail.present ? 'present' : 'absent'}`] : []), ...(n.provenMalignant ? ['Proven malignant'] : [])].join('; '),
    h('br'),
    n.cTirads ? h('em', { 'data-testid': 'signed-ctirads' }, cTiradsText(n.cTirads)) : null,
    n.cTirads ? h('br') : null,
    h('em', {}, n.cTirads ? `ACR TI-RADS: ${scoreText(n.score)}` : scoreText(n.score)),
  );
}
