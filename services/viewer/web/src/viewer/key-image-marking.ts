import { h } from '../app/dom';
import { t } from '../app/i18n';
import { keyImagesPanel } from './key-images-panel';
import type { ViewerSession } from './viewer-session';

export interface KeyImageMarking {
  /** The toolbar's ★ Key button. */
  readonly toggleButton: HTMLButtonElement;
  /** The side panel listing the marks. */
  readonly panel: HTMLElement;
  /** Shows whether the frame on screen is marked (button state and frame label). */
  showKeyState: () => void;
  toggleKeyImage: () => void;
  load: (signal: AbortSignal) => Promise<void>;
}

/** Key-image marking (K): the toolbar toggle for the frame on screen, and the panel that saves the marks. */
export function keyImageMarking(session: ViewerSession, frameLabel: HTMLElement): KeyImageMarking {
  const toggleButton = h('button', { type: 'button', 'data-testid': 'key-image-toggle', 'aria-pressed': 'false', title: t('Mark this frame as a key image (K)', '将此帧标记为关键图像（K）') }, t('★ Key', '★ 关键图像'));
  const keyImages = keyImagesPanel(
    session.studyUid,
    (m) => {
      const frames = session.frames;
      const index = frames.findIndex((f) => f.sopInstanceUid === m.sopInstanceUid && f.frameNumber === m.frameNumber);
      return index >= 0 ? t(`Frame ${index + 1} / ${frames.length}`, `帧 ${index + 1} / ${frames.length}`) : t('A frame of another series', '其他序列中的帧');
    },
    () => showKeyState(),
  );

  function showKeyState(): void {
    const { viewport, frames } = session;
    const frame = viewport ? frames[viewport.currentIndex] : undefined;
    const marked = frame !== undefined && keyImages.isMarked(frame);
    toggleButton.setAttribute('aria-pressed', String(marked));
    if (viewport) frameLabel.textContent = t(`Frame ${viewport.currentIndex + 1} / ${frames.length}${marked ? ' · ★ key image' : ''}`, `帧 ${viewport.currentIndex + 1} / ${frames.length}${marked ? ' · ★ 关键图像' : ''}`);
  }

  function toggleKeyImage(): void {
    const frame = session.viewport ? session.frames[session.viewport.currentIndex] : undefined;
    if (frame) keyImages.toggle(frame);
  }
  toggleButton.addEventListener('click', toggleKeyImage);

  return { toggleButton, panel: keyImages.el, showKeyState, toggleKeyImage, load: keyImages.load };
}
