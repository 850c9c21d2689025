import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

/**
 * The uploader's memory between runs: for each file (by absolute path, size and mtime), what the archive
 * said about its bytes. An append-only JSON-lines file, fsync'd after each confirmed batch, so a run
 * killed at any point loses at most the batch in flight (which the archive then answers ALREADY_STORED).
 * A torn last line (a crash mid-append) is ignored on reading. Compacted (temp + fsync + rename) at the
 * end of a run.
 *
 * One journal per (archive URL, set of inputs), under the state folder.
 */

export const JournalOutcome = z.enum(['stored', 'already_stored', 'new_version', 'rejected']);
export type JournalOutcome = z.infer<typeof JournalOutcome>;

const Entry = z.object({
  path: z.string(),
  size: z.number(),
  mtimeMs: z.number(),
  sha256: z.string(),
  sopInstanceUid: z.string().nullable(),
  outcome: JournalOutcome,
  reason: z.string().optional(),
  message: z.string().optional(),
  at: z.string(),
});
export type JournalEntry = z.infer<typeof Entry>;

export function defaultStateDir(): string {
  const xdg = process.env.XDG_STATE_HOME;
  return path.join(xdg && xdg !== '' ? xdg : path.join(os.homedir(), '.local', 'state'), 'yunying');
}

export function journalPath(stateDir: string, archiveUrl: string, inputs: readonly string[]): string {
  const key = createHash('sha256')
    .update(JSON.stringify({ archiveUrl, inputs: inputs.map((i) => path.resolve(i)).sort() }))
    .digest('hex')
    .slice(0, 24);
  return path.join(stateDir, `upload-${key}.jsonl`);
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export class Journal {
  private readonly entries = new Map<string, JournalEntry>();
  private fd: number | null = null;

  private constructor(readonly file: string) {}

  static open(file: string): Journal {
    const journal = new Journal(file);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (fs.existsSync(file)) {
      for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        try {
          const entry = Entry.parse(JSON.parse(line));
          journal.entries.set(entry.path, entry);
        } catch {
          // a torn line from a crash mid-append: that batch is simply not confirmed
        }
      }
    }
    return journal;
  }

  /** The recorded outcome when the file is unchanged since (same size and mtime). */
  lookup(file: { path: string; size: number; mtimeMs: number }): JournalEntry | undefined {
    const entry = this.entries.get(file.path);
    return entry !== undefined && entry.size === file.size && entry.mtimeMs === file.mtimeMs ? entry : undefined;
  }

  /** Appends and fsyncs: on return, these outcomes survive a crash. */
  record(entries: readonly Omit<JournalEntry, 'at'>[]): void {
    if (entries.length === 0) return;
    const at = new Date().toISOString();
    const lines = entries.map((e) => JSON.stringify({ ...e, at })).join('\n') + '\n';
    if (this.fd === null) {
      const created = !fs.existsSync(this.file);
      this.fd = fs.openSync(this.file, 'a');
      if (created) fsyncDir(path.dirname(this.file));
    }
    fs.writeSync(this.fd, lines);
    fs.fsyncSync(this.fd);
    for (const e of entries) this.entries.set(e.path, { ...e, at });
  }

  /** Rewrites the journal with one line per file (temp + fsync + rename + fsync of the folder). */
  compact(): void {
    this.close();
    const temp = `${this.file}.${process.pid}.tmp`;
    const fd = fs.openSync(temp, 'w');
    try {
      fs.writeSync(fd, [...this.entries.values()].map((e) => JSON.stringify(e)).join('\n') + (this.entries.size > 0 ? '\n' : ''));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, this.file);
    fsyncDir(path.dirname(this.file));
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}
