import { highestCategory, highestLevel, type TrLevel } from '@yunying/nodule-model/tirads-report';
import { h, replace } from '../app/dom';
import { t } from '../app/i18n';
import { noduleBlock, type NoduleBlock } from './tirads-block';
import { confirmAi, cTiradsOf, emptyNodule, scoreOf, SYSTEM_NAME, unconfirmedCount, type MeasuredLine, type NoduleState, type System } from './tirads-state';

export interface NoduleList {
  el: HTMLElement;
  states: () => NoduleState[];
  set: (nodules: NoduleState[]) => void;
  /** The report's scoring system (from the server); the blocks are redrawn in it. */
  setSystem: (system: System) => void;
  system: () => System;
  /** C-TIRADS: the most suspicious nodule's category (null in ACR or while none is scored). */
  cTiradsTop: () => string | null;
  /** A caliper measurement as the long axis of the last nodule (a new one when there is none); returns its number. */
  useLongAxis: (longMm: number, line: MeasuredLine) => number;
}

/**
 * The structured part of the report form (#20): the nodule blocks, "Add nodule", "Accept AI findings"
 * (every AI value of every nodule confirmed in one action) and the count of fields still waiting.
 * `onChange` gets the most suspicious nodule's level after every change, for the overall category;
 * `onAccept` lets the form record that the reader agreed with the AI; null where no AI values come in
 * (an addendum's nodules are the reader's own), and then there is no "Accept AI findings".
 */
export function noduleList(onChange: (top: TrLevel | null, cTiradsTop: string | null) => void, onAccept: (() => void) | null): NoduleList {
  const acceptAi = h('button', { type: 'button', 'data-testid': 'accept-ai', title: t('Confirm every value the AI suggested, in every nodule', '确认所有结节中 AI 提示的每一项') }, t('Accept AI findings', '采纳 AI 结果'));
  const addNodule = h('button', { type: 'button', 'data-testid': 'add-nodule' }, t('Add nodule', '添加结节'));
  const list = h('div', { class: 'nodule-list', 'data-testid': 'nodule-list' });
  const pending = h('p', { class: 'muted small', 'data-testid': 'unconfirmed-count', 'aria-live': 'polite' });
  const title = h('h3', { 'data-testid': 'nodules-title' }, t(`Nodules · ${SYSTEM_NAME['acr-2017']}`, `结节 · ${SYSTEM_NAME['acr-2017']}`));
  const el = h('div', { class: 'nodules' }, title, list, pending, h('div', { class: 'actions' }, addNodule, onAccept ? acceptAi : null));

  let blocks: NoduleBlock[] = [];
  let system: System = 'acr-2017';
  const cTiradsTop = (): string | null => (system === 'c-tirads-2020' && blocks.length > 0 ? highestCategory(states().map((n) => cTiradsOf(n).category), false) : null);
  const states = (): NoduleState[] => blocks.map((b) => b.get());

  /** Numbering, the count of fields still waiting, and the overall level. */
  const refresh = (): void => {
    blocks.forEach((b, i) => b.setNumber(i + 1));
    const all = states();
    const waiting = unconfirmedCount(all, system);
    pending.textContent =
      blocks.length === 0
        ? t('No nodule in this report.', '本报告无结节。')
        : waiting === 0
          ? t('Every field confirmed.', '所有项目均已确认。')
          : t(`${waiting} ${waiting === 1 ? 'field' : 'fields'} still to confirm or change.`, `尚有 ${waiting} 项待确认或修改。`);
    pending.dataset.count = String(waiting);
    // Enabled while some AI value waits for the reader; "Accept" never touches the reader's own fields.
    acceptAi.disabled = !all.some((n) => unconfirmedCount([n]) > unconfirmedCount([confirmAi(n)]));
    onChange(highestLevel(all.map((n) => scoreOf(n).trLevel)), cTiradsTop());
  };
  const add = (n: NoduleState): NoduleBlock => {
    const block: NoduleBlock = noduleBlock(
      n,
      refresh,
      () => {
        blocks = blocks.filter((b) => b !== block);
        block.el.remove();
        refresh();
      },
      system,
    );
    blocks.push(block);
    return block;
  };

  acceptAi.addEventListener('click', () => {
    for (const b of blocks) b.acceptAi();
    refresh();
    onAccept?.();
  });
  addNodule.addEventListener('click', () => {
    const block = add(emptyNodule());
    list.append(block.el);
    refresh();
    block.el.querySelector('select')?.focus();
  });
  refresh();

  const set = (nodules: NoduleState[]): void => {
    blocks = [];
    for (const n of nodules) add(n);
    replace(list, ...blocks.map((b) => b.el));
    refresh();
  };
  return {
    el,
    states,
    set,
    setSystem: (next) => {
      system = next;
      replace(title, t(`Nodules · ${SYSTEM_NAME[next]}`, `结节 · ${SYSTEM_NAME[next]}`));
      set(states());
    },
    system: () => system,
    cTiradsTop,
    useLongAxis: (longMm, line) => {
      const all = states();
      const last = all.at(-1) ?? emptyNodule();
      const rounded = Math.round(longMm * 10) / 10;
      const sized: NoduleState = { ...last, size: { longMm: rounded, shortMm: last.size?.shortMm ?? null, longAxisLine: line, source: 'reader', confirmed: true } };
      set(all.length === 0 ? [sized] : [...all.slice(0, -1), sized]);
      return Math.max(1, all.length);
    },
  };
}
