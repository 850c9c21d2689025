import { h } from '../app/dom';
import { t } from '../app/i18n';
import type { ToolName } from './stack-viewport';
import type { ViewerSession } from './viewer-session';

const SPEEDS = [5, 10, 15, 25, 30];

export interface FrameNavigation {
  /** The tool, reset, step and cine controls, in toolbar order. */
  readonly controls: HTMLElement[];
  selectTool: (tool: ToolName) => void;
  togglePlay: () => void;
  /** The cine rate the reader chose (frames per second). */
  speed: () => number;
  /** A series' recorded frame rate becomes the cine rate when it is one the menu offers. */
  useSeriesRate: (fps: number | null) => void;
  /** Cine needs at least two frames. */
  enablePlay: (frameCount: number) => void;
}

/** The image tools (W/L, zoom, pan, caliper, AI box), reset, previous/next frame and cine play/speed. */
export function frameNavigation(session: ViewerSession): FrameNavigation {
  const toolButtons = new Map<ToolName, HTMLButtonElement>();
  const toolButton = (tool: ToolName, label: string, key: string): HTMLButtonElement => {
    const b = h('button', { type: 'button', 'data-tool': tool, 'aria-pressed': tool === 'Wwwc' ? 'true' : 'false', title: t(`${label} (${key})`, `${label}（${key}）`) }, label);
    b.addEventListener('click', () => selectTool(tool));
    toolButtons.set(tool, b);
    return b;
  };
  const play = h('button', { type: 'button', 'data-testid': 'cine-toggle', title: t('Play / pause (Space)', '播放/暂停（空格）'), disabled: true }, t('Play', '播放'));
  const speed = h('select', { 'aria-label': t('Cine speed', '电影回放速度'), 'data-testid': 'cine-speed' }, ...SPEEDS.map((s) => h('option', { value: s }, t(`${s} fps`, `${s} 帧/秒`))));
  speed.value = '15';
  const prev = h('button', { type: 'button', title: t('Previous frame (↑ / ←)', '上一帧（↑ / ←）'), 'aria-label': t('Previous frame', '上一帧') }, '‹');
  const next = h('button', { type: 'button', title: t('Next frame (↓ / →)', '下一帧（↓ / →）'), 'aria-label': t('Next frame', '下一帧') }, '›');
  const reset = h('button', { type: 'button', title: t('Reset (R)', '重置（R）') }, t('Reset', '重置'));
  const controls = [
    toolButton('Wwwc', t('W/L', '调窗'), 'W'),
    toolButton('Zoom', t('Zoom', '缩放'), 'Z'),
    toolButton('Pan', t('Pan', '平移'), 'P'),
    toolButton('Length', t('Measure', '测量'), 'M'),
    toolButton('RectangleRoi', t('AI on box', 'AI 框选'), 'B'),
    reset,
    prev,
    play,
    next,
    speed,
  ];

  function selectTool(tool: ToolName): void {
    session.viewport?.setTool(tool);
    for (const [name, button] of toolButtons) button.setAttribute('aria-pressed', String(name === tool));
  }

  function togglePlay(): void {
    const viewport = session.viewport;
    if (!viewport) return;
    if (viewport.isPlaying) viewport.pause();
    else viewport.play(Number(speed.value));
    play.textContent = viewport.isPlaying ? t('Pause', '暂停') : t('Play', '播放');
    play.setAttribute('aria-pressed', String(viewport.isPlaying));
  }

  play.addEventListener('click', togglePlay);
  speed.addEventListener('change', () => session.viewport?.setSpeed(Number(speed.value)));
  prev.addEventListener('click', () => session.viewport?.scrollBy(-1));
  next.addEventListener('click', () => session.viewport?.scrollBy(1));
  reset.addEventListener('click', () => session.viewport?.reset());

  return {
    controls,
    selectTool,
    togglePlay,
    speed: () => Number(speed.value),
    useSeriesRate: (fps) => {
      if (fps && SPEEDS.includes(fps)) speed.value = String(fps);
    },
    enablePlay: (frameCount) => {
      play.disabled = frameCount < 2;
    },
  };
}
