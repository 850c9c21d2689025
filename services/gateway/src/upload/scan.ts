import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import dicomParser from 'dicom-parser';
import { SopClass, isDicomRejection, parseInstance } from '@yunying/dicom';

/**
 * Finding what to upload. Folders are walked recursively (directory symlinks are not followed, so a
 * loop cannot make the walk endless). A DICOMDIR (PS3.10 8.6, PS3.3 F.3: the DirectoryRecordSequence's
 * ReferencedFileID values are paths relative to it) adds the files it references, which may lack any
 * extension, and reports those it names that are missing; the DICOMDIR itself is never uploaded (the
 * archive refuses the Media Storage Directory SOP class).
 *
 * Each candidate is probed for "DICM" at offset 128 (PS3.10 7.1); others are skipped with a note. Files
 * that are DICOM are read once: SHA-256, and the archive's own parser (@yunying/dicom), so a file the
 * archive would refuse is refused here, with the same reason, without sending it.
 */

export interface FileStat {
  path: string;
  size: number;
  mtimeMs: number;
}

export type Probe =
  | (FileStat & { kind: 'dicom'; sha256: string; sopInstanceUid: string; studyInstanceUid: string })
  | (FileStat & { kind: 'invalid'; sha256: string; reason: string; message: string })
  | { kind: 'skipped'; path: string; note: string };

export interface Candidates {
  files: FileStat[];
  skipped: Array<{ path: string; note: string }>;
}

const DICOMDIR_NAME = /^dicomdir$/i;

async function isPart10(file: string): Promise<boolean> {
  const handle = await fs.open(file, 'r');
  try {
    const head = Buffer.alloc(132);
    const { bytesRead } = await handle.read(head, 0, 132, 0);
    return bytesRead === 132 && head.toString('latin1', 128, 132) === 'DICM';
  } finally {
    await handle.close();
  }
}

/** The paths a DICOMDIR references, resolved against its folder; throws when it cannot be read. */
export async function dicomdirReferences(file: string): Promise<string[]> {
  const bytes = await fs.readFile(file);
  const dataSet = dicomParser.parseDicom(bytes);
  const records = dataSet.elements.x00041220?.items ?? [];
  const base = path.dirname(file);
  const out: string[] = [];
  for (const record of records) {
    const id = record.dataSet?.string('x00041500');
    if (!id) continue;
    const components = id.split('\\').map((c) => c.trim()).filter((c) => c !== '' && c !== '.' && c !== '..');
    if (components.length > 0) out.push(path.join(base, ...components));
  }
  return out;
}

/** ISO 9660 media hold upper-case names; a copy on a case-sensitive disk may not. Finds the real name. */
async function resolveCaseInsensitive(wanted: string): Promise<string | null> {
  try {
    await fs.access(wanted);
    return wanted;
  } catch {
    // try without case
  }
  const dir = path.dirname(wanted);
  const resolvedDir = dir === wanted ? null : await resolveCaseInsensitive(dir);
  if (resolvedDir === null) return null;
  try {
    const match = (await fs.readdir(resolvedDir)).find((name) => name.toLowerCase() === path.basename(wanted).toLowerCase());
    return match === undefined ? null : path.join(resolvedDir, match);
  } catch {
    return null;
  }
}

function isDicomdirClass(file: Buffer): boolean {
  try {
    const meta = dicomParser.parseDicom(file, { untilTag: 'x00020010' });
    return meta.string('x00020002') === SopClass.MediaStorageDirectory;
  } catch {
    return false;
  }
}

/** Walks the inputs (files or folders) and returns every regular file found, DICOMDIR-referenced ones included. */
export async function findCandidates(inputs: readonly string[]): Promise<Candidates> {
  const seen = new Set<string>();
  const files: FileStat[] = [];
  const skipped: Array<{ path: string; note: string }> = [];

  const addFile = async (file: string): Promise<void> => {
    const real = await fs.realpath(file).catch(() => file);
    if (seen.has(real)) return;
    seen.add(real);
    const stat = await fs.stat(real).catch(() => null);
    if (stat === null || !stat.isFile()) {
      skipped.push({ path: file, note: 'not a readable file' });
      return;
    }
    if (DICOMDIR_NAME.test(path.basename(file))) {
      await addDicomdir(file);
      return;
    }
    files.push({ path: file, size: stat.size, mtimeMs: stat.mtimeMs });
  };

  const addDicomdir = async (file: string): Promise<void> => {
    let references: string[];
    try {
      references = await dicomdirReferences(file);
    } catch {
      skipped.push({ path: file, note: 'DICOMDIR could not be read; its folder is still searched' });
      return;
    }
    skipped.push({ path: file, note: `DICOMDIR (media directory, not uploaded; ${references.length} files referenced)` });
    for (const reference of references) {
      const found = await resolveCaseInsensitive(reference);
      if (found === null) skipped.push({ path: reference, note: 'referenced by a DICOMDIR but missing' });
      else await addFile(found);
    }
  };

  const walk = async (dir: string): Promise<void> => {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    // A DICOMDIR first, so the files it references are attributed to it before the walk reaches them.
    const dicomdir = entries.find((e) => e.isFile() && DICOMDIR_NAME.test(e.name));
    if (dicomdir) await addFile(path.join(dir, dicomdir.name));
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile() || entry.isSymbolicLink()) await addFile(full);
    }
  };

  for (const input of inputs) {
    const absolute = path.resolve(input);
    const stat = await fs.stat(absolute).catch(() => null);
    if (stat === null) throw new Error(`${input}: no such file or folder`);
    if (stat.isDirectory()) await walk(absolute);
    else await addFile(absolute);
  }
  return { files, skipped };
}

/** Reads one candidate: not DICOM, DICOM the archive would refuse (with the reason), or DICOM to send. */
export async function probe(file: FileStat): Promise<Probe> {
  try {
    if (!(await isPart10(file.path))) return { kind: 'skipped', path: file.path, note: 'not a DICOM Part 10 file (no "DICM" at offset 128)' };
    const bytes = await fs.readFile(file.path);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const stat = { path: file.path, size: bytes.length, mtimeMs: file.mtimeMs };
    if (isDicomdirClass(bytes)) return { kind: 'skipped', path: file.path, note: 'a DICOMDIR (media directory), not an image: not uploaded' };
    try {
      const parsed = parseInstance(bytes);
      return { ...stat, kind: 'dicom', sha256, sopInstanceUid: parsed.sopInstanceUid, studyInstanceUid: parsed.studyInstanceUid };
    } catch (error) {
      if (isDicomRejection(error)) return { ...stat, kind: 'invalid', sha256, reason: error.reason, message: error.message };
      return { ...stat, kind: 'invalid', sha256, reason: 'malformed', message: 'The dataset could not be parsed' };
    }
  } catch (error) {
    return { kind: 'skipped', path: file.path, note: `could not be read (${error instanceof Error && 'code' in error ? String(error.code) : 'error'})` };
  }
}
