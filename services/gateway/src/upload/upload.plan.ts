import { describe } from '../archive/archive.errors';
import { QidoClient } from '../archive/qido.client';
import { Journal, journalPath, type JournalEntry } from './journal';
import { findCandidates, probe, type FileStat, type Probe } from './scan';
import type { UploadOptions } from './upload.options';
import type { UploadTally } from './upload.tally';

/** A file that reads as DICOM, with the SOP Instance UID and digest the journal and QIDO need. */
export type DicomFile = Extract<Probe, { kind: 'dicom' }>;

export interface UploadPlan {
  journal: Journal;
  /** What is left to send after the journal and the archive were asked, in scan order. */
  toSend: DicomFile[];
}

/**
 * Phases 1-3 of an upload: find the files, drop what is already known (the journal of earlier runs, then
 * each remaining file read once), and ask the archive which of the rest it holds. Reports `scanned` and
 * `plan`; skipped and locally rejected files go to the tally (and rejections to the journal).
 */
export async function planUpload(options: UploadOptions, tally: UploadTally): Promise<UploadPlan> {
  // 1. What is there.
  const candidates = await findCandidates(options.inputs);
  for (const s of candidates.skipped) tally.skip(s);
  const journal = Journal.open(journalPath(options.stateDir, options.ingestUrl, options.inputs));

  // 2. What is already known.
  const unknown = knownFromJournal(candidates.files, journal, options.fresh, tally);
  const readable = await readFiles(unknown, journal, tally);
  options.reporter.emit({
    event: 'scanned',
    files: candidates.files.length,
    dicom: readable.length + tally.alreadyThere,
    bytes: candidates.files.reduce((s, f) => s + f.size, 0),
    skipped: tally.skipped.length,
  });

  // 3. What the archive already holds.
  const { toSend, checkedWith } = options.check === 'qido' && options.viewerUrl !== null && readable.length > 0 ? await askArchive(options, options.viewerUrl, readable, journal, tally) : { toSend: readable, checkedWith: 'journal' as const };
  options.reporter.emit({ event: 'plan', toSend: toSend.length, bytes: toSend.reduce((s, f) => s + f.size, 0), alreadyThere: tally.alreadyThere, checkedWith });
  return { journal, toSend };
}

/** The files no earlier run settled; a settled file counts as already there, or as rejected again. */
function knownFromJournal(files: readonly FileStat[], journal: Journal, fresh: boolean, tally: UploadTally): FileStat[] {
  const unknown: FileStat[] = [];
  for (const file of files) {
    const entry = fresh ? undefined : journal.lookup(file);
    if (entry === undefined) unknown.push(file);
    else if (entry.outcome === 'rejected') tally.reject({ path: file.path, reason: entry.reason ?? 'rejected', message: entry.message ?? '', source: 'archive' });
    else tally.alreadyThere += 1;
  }
  return unknown;
}

/** Reads each file once (two at a time): DICOM to send, else skipped, or rejected by the archive's own checks. */
async function readFiles(files: readonly FileStat[], journal: Journal, tally: UploadTally): Promise<DicomFile[]> {
  const probes = await mapLimit(files, 2, probe);
  const dicom: DicomFile[] = [];
  const localRejections: Omit<JournalEntry, 'at'>[] = [];
  for (const p of probes) {
    switch (p.kind) {
      case 'skipped':
        tally.skip({ path: p.path, note: p.note });
        break;
      case 'invalid':
        tally.reject({ path: p.path, reason: p.reason, message: p.message, source: 'local' });
        localRejections.push({ path: p.path, size: p.size, mtimeMs: p.mtimeMs, sha256: p.sha256, sopInstanceUid: null, outcome: 'rejected', reason: p.reason, message: p.message });
        break;
      case 'dicom':
        dicom.push(p);
        break;
    }
  }
  journal.record(localRejections);
  return dicom;
}

/** QIDO-RS for the files' UIDs; the ones the archive has are journalled as already stored. Unanswered: send all. */
async function askArchive(
  options: UploadOptions,
  viewerUrl: string,
  files: DicomFile[],
  journal: Journal,
  tally: UploadTally,
): Promise<{ toSend: DicomFile[]; checkedWith: 'journal' | 'journal+qido' }> {
  try {
    const qido = new QidoClient({ viewerUrl, apiKey: options.apiKey, timeoutMs: options.timeoutMs, userAgent: options.userAgent });
    const present = await qido.existing([...new Set(files.map((f) => f.sopInstanceUid))]);
    const known = files.filter((f) => present.has(f.sopInstanceUid));
    journal.record(known.map((f) => ({ path: f.path, size: f.size, mtimeMs: f.mtimeMs, sha256: f.sha256, sopInstanceUid: f.sopInstanceUid, outcome: 'already_stored' as const })));
    tally.alreadyThere += known.length;
    return { toSend: files.filter((f) => !present.has(f.sopInstanceUid)), checkedWith: 'journal+qido' };
  } catch (error) {
    options.reporter.emit({ event: 'notice', message: `could not ask the archive what it has (${describe(error)}); sending everything, the archive answers ALREADY_STORED` });
    return { toSend: files, checkedWith: 'journal' };
  }
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      out[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
