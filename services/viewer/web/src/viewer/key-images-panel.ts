import { errorText, getJson, sendJson } from '../app/api';
import { h, replace, statusLine } from '../app/dom';
import { arr, obj } from '../app/json';
import type { FrameRef } from './series-frames';

/** The titles a reader may give the selection (CID 7010), as the API names them. */
const TITLES = [
  ['of-interest', 'Of interest'],
  ['for-referring-provider', 'For referring provider'],
  ['for-patient', 'For patient'],
] as const;

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
  const title = h('select', { 'aria-label': 'Key images title', 'data-testid': 'key-images-title' }, ...TITLES.map(([value, label]) => h('option', { value }, label)));
  const save = h('button', { type: 'button', 'data-testid': 'key-images-save', disabled: true }, 'Save key images');
  const heading = h('h2', {}, 'Key images');
  const el = h('section', { class: 'panel', 'aria-label': 'Key images' }, heading, list, h('div', { class: 'row' }, title, save), status.el);

  const current = (): string => `${title.value}|${marks.map(keyOf).join(',')}`;
  const render = (): void => {
    replace(list, ...marks.map((m) => h('li', { 'data-testid': 'key-image' }, describe(m))));
    const dirty = current() !== savedKeys;
    save.disabled = !dirty;
    heading.textContent = `Key images (${marks.length})${dirty ? ' · not saved' : ''}`;
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
    status.set('Saving key images…');
    sendJson('PUT', `/api/studies/${encodeURIComponent(studyUid)}/key-images`, { title: title.value, images: marks }).then(
      (body) => {
        adopt(body);
        status.set(marks.length === 0 ? 'Key images cleared.' : 'Key images saved.');
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
