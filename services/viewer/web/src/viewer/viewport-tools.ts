import * as cornerstone from 'cornerstone-core';
import * as cornerstoneTools from 'cornerstone-tools';
import cornerstoneMath from 'cornerstone-math';
import Hammer from 'hammerjs';

/**
 * The reading tools on a cornerstone element: window/level, zoom, pan, calipers, the box for reader-guided
 * scoring, stack scrolling (wheel, touch), pinch and cine. cornerstone-tools with its math and touch libraries is
 * about 70 % of the viewer's code and most of its start-up (compiling and running it took 90–185 ms in headless
 * Chromium on the 2-core test machine, cornerstone-core 25–50 ms), and none of it is needed to draw a frame, so
 * this module is its own chunk: stack-viewport.ts loads it once the first frame is drawn.
 */

export type ToolName = 'Wwwc' | 'Zoom' | 'Pan' | 'Length' | 'RectangleRoi';

export interface ViewportTools {
  setTool: (name: ToolName) => void;
  /** Shows frame `index` through the stack tool (which loads it); `shown` is the frame on screen now. */
  scrollTo: (index: number, shown: number) => void;
  /** Frame `index` was drawn (maybe without the tools): the stack's position follows it. */
  shown: (index: number) => void;
  play: (fps: number) => void;
  stop: () => void;
  /** The tool state kept per image (calipers, boxes) of these frames, dropped. */
  clear: (imageIds: readonly string[]) => void;
}

export interface ToolEvents {
  /** A scroll the tools made (wheel, touch, scrollTo); cine ticks are not. */
  scrolled: (newIndex: number) => void;
  /** A caliper or box drawn (`completed`) or being adjusted. */
  measured: (detail: unknown, completed: boolean) => void;
}

let initialised = false;
const scrollToIndex = cornerstoneTools.importInternal('util/scrollToIndex');
/** Elements cornerstone-tools has set up for input (mouse, touch, wheel), until cornerstone disables them. */
const setUp = new WeakSet<HTMLElement>();

function elementOf(event: Event): HTMLElement | null {
  const detail: unknown = (event as CustomEvent<unknown>).detail;
  const element = typeof detail === 'object' && detail !== null ? (detail as { element?: unknown }).element : null;
  return element instanceof HTMLElement ? element : null;
}

/** cornerstone-tools is process-wide; set up once. */
function initialiseOnce(): void {
  if (initialised) return;
  cornerstoneTools.external.cornerstone = cornerstone;
  cornerstoneTools.external.cornerstoneMath = cornerstoneMath;
  cornerstoneTools.external.Hammer = Hammer;
  cornerstoneTools.init({ showSVGCursors: false, globalToolSyncEnabled: false });
  // init's own listener on enabled elements was added first, so it has set an element up when this one runs.
  cornerstone.events.addEventListener(cornerstone.EVENTS.ELEMENT_ENABLED, (event) => {
    const element = elementOf(event);
    if (element) setUp.add(element);
  });
  cornerstone.events.addEventListener(cornerstone.EVENTS.ELEMENT_DISABLED, (event) => {
    const element = elementOf(event);
    if (element) setUp.delete(element);
  });
  initialised = true;
}

const TOOLS = [
  cornerstoneTools.WwwcTool,
  cornerstoneTools.ZoomTool,
  cornerstoneTools.PanTool,
  cornerstoneTools.LengthTool,
  cornerstoneTools.RectangleRoiTool,
  cornerstoneTools.StackScrollMouseWheelTool,
  cornerstoneTools.StackScrollMultiTouchTool,
  cornerstoneTools.ZoomTouchPinchTool,
  cornerstoneTools.PanMultiTouchTool,
];

function isStackState(value: unknown): value is { currentImageIdIndex: number } {
  return typeof value === 'object' && value !== null && typeof (value as { currentImageIdIndex?: unknown }).currentImageIdIndex === 'number';
}

/** The tools on an enabled element that shows frame `shown` of `imageIds`; listeners end with `signal`. */
export function attachTools(element: HTMLElement, imageIds: readonly string[], shown: number, signal: AbortSignal, events: ToolEvents): ViewportTools {
  initialiseOnce();
  // An element enabled before this chunk was loaded (the first frame is drawn without it) was never set up for
  // input: cornerstone-tools does that when cornerstone announces an enabled element, so announce it again.
  if (!setUp.has(element)) cornerstone.triggerEvent(cornerstone.events, cornerstone.EVENTS.ELEMENT_ENABLED, cornerstone.getEnabledElement(element));
  for (const tool of TOOLS) cornerstoneTools.addToolForElement(element, tool);
  cornerstoneTools.setToolActiveForElement(element, 'StackScrollMouseWheel', {});
  cornerstoneTools.setToolActiveForElement(element, 'StackScrollMultiTouch', { isTouchActive: true });
  cornerstoneTools.setToolActiveForElement(element, 'ZoomTouchPinch', { isTouchActive: true });
  cornerstoneTools.setToolActiveForElement(element, 'Pan', { mouseButtonMask: 4 });
  cornerstoneTools.setToolActiveForElement(element, 'Zoom', { mouseButtonMask: 2 });
  cornerstoneTools.addStackStateManager(element, ['stack', 'playClip']);
  cornerstoneTools.addToolState(element, 'stack', { currentImageIdIndex: shown, imageIds: [...imageIds] });
  element.addEventListener(cornerstoneTools.EVENTS.STACK_SCROLL, (event) => events.scrolled((event as CustomEvent<{ newImageIdIndex: number }>).detail.newImageIdIndex), { signal });
  const measured = (event: Event): void => events.measured((event as CustomEvent<unknown>).detail, event.type === cornerstoneTools.EVENTS.MEASUREMENT_COMPLETED);
  element.addEventListener(cornerstoneTools.EVENTS.MEASUREMENT_COMPLETED, measured, { signal });
  element.addEventListener(cornerstoneTools.EVENTS.MEASUREMENT_MODIFIED, measured, { signal });
  return {
    setTool(name) {
      for (const other of ['Wwwc', 'Zoom', 'Pan', 'Length', 'RectangleRoi'] as const) {
        if (other !== name) cornerstoneTools.setToolPassiveForElement(element, other);
      }
      cornerstoneTools.setToolActiveForElement(element, name, { mouseButtonMask: 1, isTouchActive: true });
    },
    // scrollToIndex returns without drawing when the stack state already names the index; a stale cine load
    // can leave the state and the screen apart, so the state is first set to what is on screen.
    scrollTo(index, current) {
      const state = cornerstoneTools.getToolState(element, 'stack')?.data[0];
      if (isStackState(state) && index !== current) state.currentImageIdIndex = current;
      scrollToIndex(element, index);
    },
    shown(index) {
      const state = cornerstoneTools.getToolState(element, 'stack')?.data[0];
      if (isStackState(state)) state.currentImageIdIndex = index;
    },
    play(fps) {
      cornerstoneTools.playClip(element, fps);
    },
    stop() {
      try {
        cornerstoneTools.stopClip(element);
      } catch {
        // No clip was ever started on this element.
      }
    },
    clear(ids) {
      for (const imageId of ids) cornerstoneTools.globalImageIdSpecificToolStateManager.clearImageIdToolState(imageId);
    },
  };
}
