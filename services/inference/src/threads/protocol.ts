import type { ImageAnalysis } from '../triage/analyse';

/** Messages between the triage worker (main thread) and the analysis threads. */
export interface AnalyseRequest {
  id: number;
  /** The instance's Part 10 bytes; the buffer is transferred, not copied. */
  bytes: Uint8Array;
  maxFrames: number;
}

export type ThreadMessage =
  | { type: 'ready' }
  | { type: 'load_failed'; message: string }
  | { type: 'result'; id: number; analysis: ImageAnalysis }
  | { type: 'error'; id: number; permanent: boolean; name: string; message: string };

export interface ThreadData {
  modelDir: string;
}
