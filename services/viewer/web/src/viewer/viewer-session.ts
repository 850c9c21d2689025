import type { statusLine } from '../app/dom';
import type { AiResult } from './ai-result';
import type { ClaimRenewal } from './claim-renewal';
import type { FrameRef, SeriesInfo } from './series-frames';
import type { StackViewport } from './stack-viewport';

export type StatusLine = ReturnType<typeof statusLine>;

/**
 * What the viewer's parts share while one study is open. One mutable object rather than copies: the
 * series on screen changes (and with it the viewport and frames), and every part must see the new one.
 */
export interface ViewerSession {
  readonly studyUid: string;
  /** Aborted when the reader leaves the page: every request and listener of the page stops with it. */
  readonly signal: AbortSignal;
  readonly status: StatusLine;
  viewport: StackViewport | null;
  /** The frames of the series on screen, in viewport order. */
  frames: FrameRef[];
  ai: AiResult | null;
  series: SeriesInfo[];
  currentSeries: string | null;
  /** Once signed, the study is neither claimed again nor released on leaving. */
  signed: boolean;
  /** Keeps the study the reader's while the report is unsigned. */
  claim: ClaimRenewal | null;
}

export function newViewerSession(studyUid: string, signal: AbortSignal, status: StatusLine): ViewerSession {
  return { studyUid, signal, status, viewport: null, frames: [], ai: null, series: [], currentSeries: null, signed: false, claim: null };
}
