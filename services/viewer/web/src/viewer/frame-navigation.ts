import { h } from '../app/dom';
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
    const b = h('button', { type: 'button', 'data-tool': tool, 'aria-pressed': tool === 'Wwwc' ? 'true' : 'false', title: `${label} (${key})` }, label);
    b.addEventListener('click', () => selectTool(tool));
    toolButtons.set(tool, b);
    return b;
  };
  const play = h('button', { type: 'button', 'data-testid': 'cine-toggle', title: 'Play / pause (Space)', disabled: true }, 'Play');
  const speed = h('select', { 'aria-label': 'Cine speed', 'data-testid': 'cine-speed' }, ...SPEEDS.map((s) => h('option', { value: s }, `${s} fps`)));
  speed.value = '15';
  const prev = h('button', { type: 'button', title: 'Previous frame (↑ / ←)', 'aria-label': 'Previous frame' }, '‹');
  const next = h('button', { type: 'button', title: 'Next frame (↓ / →)', 'aria-label': 'Next frame' }, '›');
  const reset = h('button', { type: 'button', title: 'Reset (R)' }, 'Reset');
  const controls = [
    toolButton('Wwwc', 'W/L', 'W'),
    toolButton('Zoom', 'Zoom', 'Z'),
    toolButton('Pan', 'Pan', 'P'),
    toolButton('Length', 'Measure', 'M'),
    toolButton('RectangleRoi', 'AI on box', 'B'),
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
    play.textContent = viewport.isPlaying ? 'Pause' : 'Play';
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
