import type { RetryPolicy } from '../archive/retry';
import type { Reporter } from './upload.events';

/** What `yunying upload` was asked to do (cli.ts parses and checks it). */
export interface UploadOptions {
  inputs: string[];
  ingestUrl: string;
  viewerUrl: string | null;
  apiKey: string;
  /** 'qido': ask the archive which UIDs it has before sending; 'none': send all, the archive answers. */
  check: 'qido' | 'none';
  batchFiles: number;
  batchBytes: number;
  concurrency: number;
  retry: RetryPolicy;
  timeoutMs: number;
  stateDir: string;
  /** Ignore (but keep writing) the journal of earlier runs. */
  fresh: boolean;
  reporter: Reporter;
  userAgent: string;
  /** Aborted (SIGINT/SIGTERM): no new batch starts; batches in flight finish; retries stop waiting. */
  signal?: AbortSignal;
}
