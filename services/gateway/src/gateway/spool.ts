import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

/**
 * The gateway's durable queue: a folder, so that the state survives any crash and can be read by
 * `yunying status` and by a person with `ls`.
 *
 *   tmp/                 instances being written (emptied at start: never acknowledged)
 *   pending/<sha>.dcm    acknowledged to the modality, not yet confirmed by the archive
 *   failed/<sha>.dcm     refused by the archive for good, with failed/<sha>.json saying why
 *   sent.log             one JSON line per instance the archive confirmed (bounded, for `status`)
 *   gateway.json         the running gateway's limit, alarms and last error (informational)
 *
 * Guarantees, and where they are made:
 *  - put(): temp file written and fsync'd, renamed into pending/, pending/ fsync'd, all before it
 *    returns; the SCP answers C-STORE success only after put() (spool.scp.ts). So an acknowledged
 *    instance is on disk whatever happens next.
 *  - confirm(): the sent.log line is fsync'd before the pending file is unlinked; the file is unlinked
 *    only when the archive has answered STORED, ALREADY_STORED or NEW_VERSION for it (forwarder.ts).
 *    A crash between the two sends the file again, and the archive answers ALREADY_STORED.
 *  - fail(): the reason is fsync'd before the file moves to failed/.
 * Files are named by the SHA-256 of their bytes, so the same instance received twice is one file.
 */

export interface SpoolFile {
  sha256: string;
  path: string;
  size: number;
  receivedAt: number;
}

export interface FailedRecord {
  sha256: string;
  sopInstanceUid: string | null;
  reason: string;
  message: string;
  failedAt: string;
}

export interface SentRecord {
  sha256: string;
  sopInstanceUid: string | null;
  status: string;
  at: string;
}

const NAME = /^([0-9a-f]{64})\.dcm$/;

function fsyncPath(p: string): void {
  const fd = fs.openSync(p, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function spoolDirs(root: string): { tmp: string; pending: string; failed: string; sentLog: string; state: string } {
  return {
    tmp: path.join(root, 'tmp'),
    pending: path.join(root, 'pending'),
    failed: path.join(root, 'failed'),
    sentLog: path.join(root, 'sent.log'),
    state: path.join(root, 'gateway.json'),
  };
}

export class Spool {
  private readonly pending = new Map<string, SpoolFile>();
  private failedBytes = 0;
  private failed = 0;
  private reserved = 0;
  private readonly listeners = new Set<() => void>();
  private sentFd: number | null = null;
  readonly dirs;

  private constructor(
    readonly root: string,
    readonly limitBytes: number,
  ) {
    this.dirs = spoolDirs(root);
  }

  /** Opens (creating) the spool, removes unacknowledged temp files, indexes pending/ oldest first. */
  static async open(root: string, limitBytes: number, sentLogKeep: number): Promise<Spool> {
    const spool = new Spool(root, limitBytes);
    const { tmp, pending, failed, sentLog } = spool.dirs;
    for (const dir of [root, tmp, pending, failed]) await fsp.mkdir(dir, { recursive: true });
    for (const name of await fsp.readdir(tmp)) await fsp.rm(path.join(tmp, name), { force: true });
    const found: SpoolFile[] = [];
    for (const name of await fsp.readdir(pending)) {
      const match = NAME.exec(name);
      if (!match?.[1]) continue;
      const stat = await fsp.stat(path.join(pending, name));
      found.push({ sha256: match[1], path: path.join(pending, name), size: stat.size, receivedAt: stat.mtimeMs });
    }
    found.sort((a, b) => a.receivedAt - b.receivedAt || (a.sha256 < b.sha256 ? -1 : 1));
    for (const f of found) spool.pending.set(f.sha256, f);
    for (const name of await fsp.readdir(failed)) {
      if (!NAME.test(name)) continue;
      spool.failedBytes += (await fsp.stat(path.join(failed, name))).size;
      spool.failed += 1;
    }
    await trimSentLog(sentLog, sentLogKeep);
    return spool;
  }

  /** Bytes held: pending + failed + reserved for C-STOREs being written. */
  bytes(): number {
    let total = this.failedBytes + this.reserved;
    for (const f of this.pending.values()) total += f.size;
    return total;
  }

  pendingFiles(): SpoolFile[] {
    return [...this.pending.values()];
  }

  has(sha256: string): boolean {
    return this.pending.has(sha256);
  }

  /** Reserves room for an instance of `size` bytes, or returns false when it would pass the limit. */
  reserve(size: number): boolean {
    if (this.bytes() + size > this.limitBytes) return false;
    this.reserved += size;
    return true;
  }

  release(size: number): void {
    this.reserved = Math.max(0, this.reserved - size);
  }

  onAdded(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Durably adds one Part 10 instance (see the guarantees above). */
  async put(chunks: readonly Buffer[]): Promise<SpoolFile> {
    const hash = createHash('sha256');
    let size = 0;
    for (const c of chunks) {
      hash.update(c);
      size += c.length;
    }
    const sha256 = hash.digest('hex');
    const temp = path.join(this.dirs.tmp, `${sha256}.${randomBytes(6).toString('hex')}.part`);
    const handle = await fsp.open(temp, 'wx');
    try {
      await handle.writev([...chunks]);
      await handle.sync();
    } finally {
      await handle.close();
    }
    const final = path.join(this.dirs.pending, `${sha256}.dcm`);
    await fsp.rename(temp, final);
    const dir = await fsp.open(this.dirs.pending, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    const file: SpoolFile = { sha256, path: final, size, receivedAt: Date.now() };
    if (!this.pending.has(sha256)) this.pending.set(sha256, file);
    for (const listener of this.listeners) listener();
    return file;
  }

  /** Drops pending entries whose file is gone (removed by hand): nothing left to send. Returns how many. */
  forgetMissing(files: readonly SpoolFile[]): number {
    let gone = 0;
    for (const f of files) {
      if (fs.existsSync(f.path)) continue;
      this.pending.delete(f.sha256);
      gone += 1;
    }
    return gone;
  }

  /** The archive confirmed this instance: log it durably, then let it go. */
  confirm(file: SpoolFile, record: Omit<SentRecord, 'at' | 'sha256'>): void {
    if (this.sentFd === null) this.sentFd = fs.openSync(this.dirs.sentLog, 'a');
    fs.writeSync(this.sentFd, `${JSON.stringify({ sha256: file.sha256, ...record, at: new Date().toISOString() })}\n`);
    fs.fsyncSync(this.sentFd);
    fs.rmSync(file.path, { force: true });
    fsyncPath(this.dirs.pending);
    this.pending.delete(file.sha256);
  }

  /** The archive refused this instance for good: keep it, with the reason, out of the queue. */
  fail(file: SpoolFile, record: Omit<FailedRecord, 'failedAt' | 'sha256'>): void {
    const json = path.join(this.dirs.failed, `${file.sha256}.json`);
    const temp = `${json}.tmp`;
    fs.writeFileSync(temp, JSON.stringify({ sha256: file.sha256, ...record, failedAt: new Date().toISOString() }, null, 2));
    fsyncPath(temp);
    fs.renameSync(temp, json);
    fs.renameSync(file.path, path.join(this.dirs.failed, `${file.sha256}.dcm`));
    fsyncPath(this.dirs.failed);
    fsyncPath(this.dirs.pending);
    this.pending.delete(file.sha256);
    this.failedBytes += file.size;
    this.failed += 1;
  }

  failedCount(): number {
    return this.failed;
  }

  close(): void {
    if (this.sentFd !== null) fs.closeSync(this.sentFd);
    this.sentFd = null;
  }
}

/** Keeps the last `keep` lines of sent.log (temp + fsync + rename), so it cannot grow without bound. */
async function trimSentLog(file: string, keep: number): Promise<void> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    return;
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length <= keep) return;
  const temp = `${file}.tmp`;
  await fsp.writeFile(temp, lines.slice(-keep).join('\n') + '\n');
  fsyncPath(temp);
  await fsp.rename(temp, file);
  fsyncPath(path.dirname(file));
}

export interface GatewayState {
  pid: number;
  startedAt: string;
  limitBytes: number;
  alarms: string[];
  archive: { reachable: boolean | null; lastError: string | null; lastErrorAt: string | null; lastSuccessAt: string | null; nextAttemptAt: string | null };
}

export interface SpoolStatus {
  spool: string;
  queued: { count: number; bytes: number; oldestReceivedAt: string | null };
  sent: { count: number; last: SentRecord | null };
  failed: { count: number; bytes: number; items: FailedRecord[] };
  limitBytes: number | null;
  alarms: string[];
  gateway: GatewayState | null;
}

/** What a spool holds, read from the folder alone (the gateway may or may not be running). */
export async function readSpoolStatus(root: string): Promise<SpoolStatus> {
  const dirs = spoolDirs(root);
  const list = async (dir: string): Promise<string[]> => (await fsp.readdir(dir).catch(() => [] as string[])).filter((n) => NAME.test(n));
  let queuedBytes = 0;
  let oldest: number | null = null;
  const pending = await list(dirs.pending);
  for (const name of pending) {
    const stat = await fsp.stat(path.join(dirs.pending, name)).catch(() => null);
    if (stat === null) continue;
    queuedBytes += stat.size;
    oldest = oldest === null ? stat.mtimeMs : Math.min(oldest, stat.mtimeMs);
  }
  const failedNames = await list(dirs.failed);
  const items: FailedRecord[] = [];
  let failedBytes = 0;
  for (const name of failedNames) {
    const sha256 = name.slice(0, 64);
    failedBytes += (await fsp.stat(path.join(dirs.failed, name)).catch(() => ({ size: 0 }))).size;
    try {
      items.push(JSON.parse(await fsp.readFile(path.join(dirs.failed, `${sha256}.json`), 'utf8')) as FailedRecord);
    } catch {
      items.push({ sha256, sopInstanceUid: null, reason: 'unknown', message: 'no reason recorded', failedAt: '' });
    }
  }
  const sentLines = (await fsp.readFile(dirs.sentLog, 'utf8').catch(() => ''))
    .split('\n')
    .filter((l) => l.trim() !== '')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as SentRecord];
      } catch {
        return [];
      }
    });
  const sentShas = new Set(sentLines.map((s) => s.sha256));
  let gateway: GatewayState | null = null;
  try {
    gateway = JSON.parse(await fsp.readFile(dirs.state, 'utf8')) as GatewayState;
  } catch {
    gateway = null;
  }
  const limitBytes = gateway?.limitBytes ?? null;
  const alarms = [...(gateway?.alarms ?? [])];
  if (limitBytes !== null && queuedBytes + failedBytes >= limitBytes && !alarms.includes('spool_full')) alarms.push('spool_full');
  return {
    spool: root,
    queued: { count: pending.length, bytes: queuedBytes, oldestReceivedAt: oldest === null ? null : new Date(oldest).toISOString() },
    sent: { count: sentShas.size, last: sentLines.at(-1) ?? null },
    failed: { count: items.length, bytes: failedBytes, items },
    limitBytes,
    alarms,
    gateway,
  };
}
