import { errorText, getJson, sendJson } from '../app/api';
import { h, replace, statusLine } from '../app/dom';
import { t } from '../app/i18n';
import { arr, obj } from '../app/json';
import type { FrameRef } from './series-frames';

/** The titles a reader may give the selection (CID 7010), as the API names them, with their labels. */
const titles = (): [value: string, label: string][] => [
  ['of-interest', t('Of interest', '重点关注')],
  ['for-referring-provider', t('For referring provider', '供临床医生参阅')],
  ['for-patient', t('For patient', '供受检者参阅')],
];

export interface Mark {
  sopInstanceUid: string;
  frameNumber: number;
}

const keyOf = (m: Mark): string => `${m.sopInstanceUid}/${m.frameNumber}`;

/**
 * The study's key images (#20): the reader toggles the frame on screen (K) and saves the selection, which
 * the server stores as a DICOM Key Object Selection document; the share link shows these images. Unsaved
 * changes are shown as such, so a reader never assumes a mark is kept when it is not.
 */
export function keyImagesPanel(studyUid: string, describe: (m: Mark) => string, onChange: () => void): {
  el: HTMLElement;
  load: (signal: AbortSignal) => Promise<void>;
  toggle: (frame: FrameRef) => void;
  isMarked: (frame: FrameRef) => boolean;
} {
  let marks: Mark[] = [];
  let savedKeys = '';
  const status = statusLine();
  const list = h('ol', { class: 'key-images', 'data-testid': 'key-images' });
  const title = h('select', { 'aria-label': t('Key images title', '关键图像标题'), 'data-testid': 'key-images-title' }, ...titles().map(([value, label]) => h('option', { value }, label)));
  const save = h('button', { type: 'button', 'data-testid': 'key-images-save', disabled: true }, t('Save key images', '保存关键图像'));
  const heading = h('h2', {}, t('Key images', '关键图像'));
  const el = h('section', { class: 'panel', 'aria-label': t('Key images', '关键图像') }, heading, list, h('div', { class: 'row' }, title, save), status.el);

  const current = (): string => `${title.value}|${marks.map(keyOf).join(',')}`;
  const render = (): void => {
    replace(list, ...marks.map((m) => h('li', { 'data-testid': 'key-image' }, describe(m))));
    const dirty = current() !== savedKeys;
    save.disabled = !dirty;
    heading.textContent = t(`Key images (${marks.length})${dirty ? ' · not saved' : ''}`, `关键图像（${marks.length}）${dirty ? ' · 未保存' : ''}`);
    onChange();
  };

  const adopt = (body: unknown): void => {
    const o = obj(body);
    marks = arr(o.images).map((raw) => {
      const m = obj(raw);
      return { sopInstanceUid: String(m.sopInstanceUid), frameNumber: typeof m.frameNumber === 'number' ? m.frameNumber : 1 };
    });
    if (typeof o.title === 'string') title.value = o.title;
    savedKeys = current();
    render();
  };

  save.addEventListener('click', () => {
    save.disabled = true;
    status.set(t('Saving key images…', '正在保存关键图像…'));
    sendJson('PUT', `/api/studies/${encodeURIComponent(studyUid)}/key-images`, { title: title.value, images: marks }).then(
      (body) => {
        adopt(body);
        status.set(marks.length === 0 ? t('Key images cleared.', '已清除关键图像。') : t('Key images saved.', '关键图像已保存。'));
      },
      (error: unknown) => {
        save.disabled = false;
        status.set(errorText(error), 'error');
      },
    );
  });
  title.addEventListener('change', render);

  return {
    el,
    load: async (signal) => adopt(await getJson(`/api/studies/${encodeURIComponent(studyUid)}/key-images`, signal)),
    toggle: (frame) => {
      const mark = { sopInstanceUid: frame.sopInstanceUid, frameNumber: frame.frameNumber };
      const at = marks.findIndex((m) => keyOf(m) === keyOf(mark));
      marks = at >= 0 ? marks.filter((_, i) => i !== at) : [...marks, mark];
      status.set('');
      render();
    },
    isMarked: (frame) => marks.some((m) => m.sopInstanceUid === frame.sopInstanceUid && m.frameNumber === frame.frameNumber),
  };
}
