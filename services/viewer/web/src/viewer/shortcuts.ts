import { t } from '../app/i18n';
import type { ToolName } from './stack-viewport';

/** The keys in one line, under the image. */
export function shortcutHelp(): string {
  return t(
    'Keys: ↑↓←→ or wheel scroll · Space play/pause · W window/level · Z zoom · P pan · M measure · B AI on a box · R reset · J most suspicious image · O outline · K key image · C prior',
    '快捷键：↑↓←→ 或滚轮 翻帧 · 空格 播放/暂停 · W 调窗 · Z 缩放 · P 平移 · M 测量 · B AI 框选 · R 重置 · J 最可疑图像 · O AI 轮廓 · K 关键图像 · C 既往检查',
  );
}

export interface ShortcutActions {
  scroll: (delta: number) => void;
  togglePlay: () => void;
  tool: (tool: ToolName) => void;
  reset: () => void;
  jump: () => void;
  toggleOutline: () => void;
  togglePrior: () => void;
  toggleKeyImage: () => void;
}

function typing(target: EventTarget | null): boolean {
  return target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement || (target instanceof HTMLElement && target.isContentEditable);
}

/** The viewer's keyboard shortcuts, active until `signal` aborts; never while the reader types. */
export function bindShortcuts(signal: AbortSignal, actions: ShortcutActions): void {
  document.addEventListener(
    'keydown',
    (event) => {
      if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
      const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
      const act = (): boolean => {
        switch (key) {
          case 'ArrowUp':
          case 'ArrowLeft':
            actions.scroll(-1);
            return true;
          case 'ArrowDown':
          case 'ArrowRight':
            actions.scroll(1);
            return true;
          case ' ':
            // Space on a focused button clicks it; leave that alone.
            if (event.target instanceof HTMLButtonElement) return false;
            actions.togglePlay();
            return true;
          case 'w':
            actions.tool('Wwwc');
            return true;
          case 'z':
            actions.tool('Zoom');
            return true;
          case 'p':
            actions.tool('Pan');
            return true;
          case 'm':
            actions.tool('Length');
            return true;
          case 'b':
            actions.tool('RectangleRoi');
            return true;
          case 'r':
            actions.reset();
            return true;
          case 'j':
            actions.jump();
            return true;
          case 'o':
            actions.toggleOutline();
            return true;
          case 'c':
            actions.togglePrior();
            return true;
          case 'k':
            actions.toggleKeyImage();
            return true;
          default:
            return false;
        }
      };
      if (act()) event.preventDefault();
    },
    { signal },
  );
}
