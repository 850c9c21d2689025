// The parts of cornerstone-core 2.6, cornerstone-tools 6 and their peers that the viewer uses. The
// packages ship no types; these are written from their sources (dist/*.js), narrowly, so the compiler
// still checks every call we make.

declare module 'cornerstone-core' {
  export interface Image {
    imageId: string;
    minPixelValue: number;
    maxPixelValue: number;
    slope: number;
    intercept: number;
    windowCenter: number;
    windowWidth: number;
    getPixelData: () => Uint8Array | Int8Array | Uint16Array | Int16Array | Float32Array;
    rows: number;
    columns: number;
    height: number;
    width: number;
    color: boolean;
    rgba?: boolean;
    invert: boolean;
    sizeInBytes: number;
    columnPixelSpacing?: number;
    rowPixelSpacing?: number;
  }
  export interface ImageLoadObject {
    promise: Promise<Image>;
    cancelFn?: () => void;
  }
  export type ImageLoader = (imageId: string, options?: object) => ImageLoadObject;
  export interface Viewport {
    scale: number;
    translation: { x: number; y: number };
    voi: { windowWidth: number; windowCenter: number };
    invert: boolean;
  }
  export interface EnabledElement {
    element: HTMLElement;
    image?: Image;
    canvas?: HTMLCanvasElement;
  }
  export interface ImageRenderedDetail {
    element: HTMLElement;
    image: Image;
    viewport: Viewport;
  }
  export function enable(element: HTMLElement, options?: object): void;
  export function disable(element: HTMLElement): void;
  export function displayImage(element: HTMLElement, image: Image, viewport?: Partial<Viewport>): void;
  export function loadAndCacheImage(imageId: string): Promise<Image>;
  export function registerImageLoader(scheme: string, loader: ImageLoader): void;
  export function reset(element: HTMLElement): void;
  export function resize(element: HTMLElement, fitToWindow?: boolean): void;
  export function getViewport(element: HTMLElement): Viewport | undefined;
  export function getEnabledElement(element: HTMLElement): EnabledElement;
  export function pixelToCanvas(element: HTMLElement, point: { x: number; y: number }): { x: number; y: number };
  export function updateImage(element: HTMLElement): void;
  export const imageCache: {
    removeImageLoadObject(imageId: string): void;
    getImageLoadObject(imageId: string): ImageLoadObject | undefined;
  };
  export const EVENTS: {
    IMAGE_RENDERED: 'cornerstoneimagerendered';
    NEW_IMAGE: 'cornerstonenewimage';
    ELEMENT_ENABLED: 'cornerstoneelementenabled';
    ELEMENT_DISABLED: 'cornerstoneelementdisabled';
  };
  /** cornerstone's own event target: enabled/disabled elements, image loads, the cache. */
  export const events: EventTarget;
  /** Dispatches a CustomEvent with `detail` (cornerstone's triggerEvent). */
  export function triggerEvent(target: EventTarget, type: string, detail?: unknown): boolean;
}

declare module 'cornerstone-tools' {
  export interface ToolClass {
    readonly name?: string;
  }
  export const external: { cornerstone: unknown; cornerstoneMath: unknown; Hammer: unknown };
  export function init(config?: { showSVGCursors?: boolean; globalToolSyncEnabled?: boolean; mouseEnabled?: boolean; touchEnabled?: boolean }): void;
  export function addToolForElement(element: HTMLElement, tool: ToolClass, props?: object): void;
  export function removeToolForElement(element: HTMLElement, toolName: string): void;
  export function setToolActiveForElement(element: HTMLElement, toolName: string, options: { mouseButtonMask?: number; isTouchActive?: boolean }): void;
  export function setToolPassiveForElement(element: HTMLElement, toolName: string): void;
  export function addStackStateManager(element: HTMLElement, types: string[]): void;
  export function addToolState(element: HTMLElement, toolType: string, data: object): void;
  export function getToolState(element: HTMLElement, toolType: string): { data: unknown[] } | undefined;
  export function clearToolState(element: HTMLElement, toolType: string): void;
  export function playClip(element: HTMLElement, framesPerSecond: number): void;
  export function stopClip(element: HTMLElement): void;
  /** Internals not exported at the top level; scrollToIndex moves a stack to an image. */
  export function importInternal(path: 'util/scrollToIndex'): (element: HTMLElement, index: number) => void;
  export const globalImageIdSpecificToolStateManager: { clearImageIdToolState(imageId: string): void };
  export const LengthTool: ToolClass;
  export const RectangleRoiTool: ToolClass;
  export const WwwcTool: ToolClass;
  export const ZoomTool: ToolClass;
  export const PanTool: ToolClass;
  export const StackScrollMouseWheelTool: ToolClass;
  export const StackScrollMultiTouchTool: ToolClass;
  export const ZoomTouchPinchTool: ToolClass;
  export const PanMultiTouchTool: ToolClass;
  export const EVENTS: {
    MEASUREMENT_COMPLETED: 'cornerstonetoolsmeasurementcompleted';
    MEASUREMENT_MODIFIED: 'cornerstonetoolsmeasurementmodified';
    STACK_SCROLL: 'cornerstonetoolsstackscroll';
  };
}

declare module 'cornerstone-math' {
  const cornerstoneMath: object;
  export default cornerstoneMath;
}

declare module 'hammerjs' {
  const Hammer: object;
  export default Hammer;
}
