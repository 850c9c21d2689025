/**
 * Yunying's private additions to the STOW-RS answer (PS3.18 10.5.3, DICOM JSON), in one place for the side that
 * writes them (ingest) and those that read them (the gateway's STOW client, the web app's uploader). The
 * standard says neither whether a referenced instance was new, already there or a new version, nor which part
 * of a multipart request a failure belongs to (a file that is not DICOM has no SOP UIDs to name it by); these
 * private attributes in group 0099 say so. No imports: the web app bundles this module.
 */

/** The private creator of the block (0099,0010). */
export const STOW_PRIVATE_CREATOR = 'YUNYING 1.0';

export const StowTag = {
  /** (0099,0010) LO: reserves elements 0099,10xx for STOW_PRIVATE_CREATOR; in every item that has them. */
  privateCreator: '00990010',
  /** (0099,1010) CS: in each ReferencedSOPSequence item, a StoredStatus. */
  storedStatus: '00991010',
  /** (0099,1011) LO: in each FailedSOPSequence item, the machine-readable reason (at most 64 characters). */
  failureReason: '00991011',
  /** (0099,1012) LT: in each FailedSOPSequence item, "part N: message", N the 1-based part of the request. */
  failureNote: '00991012',
} as const;

export const STORED_STATUSES = ['STORED', 'ALREADY_STORED', 'NEW_VERSION'] as const;
export type StoredStatus = (typeof STORED_STATUSES)[number];

export function isStoredStatus(value: unknown): value is StoredStatus {
  return typeof value === 'string' && (STORED_STATUSES as readonly string[]).includes(value);
}

/** The failure reason that means "nothing wrong with the instance; the archive cannot store now, send it again". */
export const STOW_RETRY_LATER_REASON = 'storage_unavailable';

/** LO holds at most 64 characters (PS3.5 6.2). */
export function failureReasonValue(reason: string): string {
  return reason.slice(0, 64);
}

export function failureNote(part: number, message: string): string {
  return `part ${part}: ${message}`;
}

/** The part number and message of a failure note; null when the value is not one (another archive's answer). */
export function parseFailureNote(note: unknown): { part: number; message: string } | null {
  if (typeof note !== 'string') return null;
  const match = /^part (\d+):\s*([\s\S]*)$/.exec(note);
  return match ? { part: Number(match[1]), message: match[2] ?? '' } : null;
}
