/**
 * What an upload run tells its reporter. With --json each event is one line on stdout, exactly these
 * shapes (`event` names the kind); a script can wait for `batch` (a confirmed batch) or read `summary`.
 */
export interface RejectedFile {
  path: string;
  reason: string;
  message: string;
  /** 'archive': the archive refused it; 'local': the archive's own checks, applied before sending. */
  source: 'archive' | 'local';
}

export interface Summary {
  /** Newly stored (or stored as a new version) by this run. */
  sent: number;
  /** Already in the archive: confirmed by an earlier run, found by QIDO, or answered ALREADY_STORED. */
  alreadyThere: number;
  rejected: RejectedFile[];
  /** Not DICOM, a DICOMDIR, unreadable: noted, not an error. */
  skipped: Array<{ path: string; note: string }>;
  /** DICOM files this run could not get into the archive (it gave up or was refused the key). */
  notSent: number;
  /** DICOM parts put on the wire (re-sends after failures included) and STOW requests made. */
  partsSent: number;
  requests: number;
  bytesSent: number;
  seconds: number;
  exitCode: number;
  error?: string;
}

export type UploadEvent =
  | { event: 'scanned'; files: number; dicom: number; bytes: number; skipped: number }
  | { event: 'skipped'; path: string; note: string }
  | { event: 'rejected'; path: string; reason: string; message: string; source: 'archive' | 'local' }
  | { event: 'plan'; toSend: number; bytes: number; alreadyThere: number; checkedWith: 'journal' | 'journal+qido' }
  | { event: 'notice'; message: string }
  | { event: 'batch'; files: number; bytes: number; stored: number; alreadyStored: number; rejected: number; doneFiles: number; doneBytes: number; totalFiles: number; totalBytes: number }
  | { event: 'retry'; attempt: number; delayMs: number; error: string }
  | { event: 'progress'; doneFiles: number; totalFiles: number; doneBytes: number; totalBytes: number; bytesPerSecond: number; etaSeconds: number | null }
  | ({ event: 'summary' } & Summary);

export interface Reporter {
  emit(event: UploadEvent): void;
  close(): void;
}
