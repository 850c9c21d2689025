import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { makeStudy } from '@yunying/dicom/testing';
import { part10Header, splitPart10 } from '@yunying/dimse';
import { storeWindowed, type WindowedInstance } from '@yunying/dimse/testing';
import { objectKey } from '@yunying/storage';
import { readStoredFile, systemStorageKeyFile } from '@yunying/storage/testing';
import { ARCHIVE_IMPLEMENTATION } from '../../services/ingest/src/dimse/dimse.server';
import { Rng } from '../fuzz/mutator';
import { startLauncher, type LauncherProcess } from '../support/processes';
import { stowBody, type RunningSystem } from '../support/system';
import { waitFor } from '../support/wait';

/**
 * #8 crash safety, driven from outside: a STOW-RS client uploads a corpus while the ingest process is
 * killed with SIGKILL at seeded random moments and restarted with the same env (schema, replica
 * roots, ports). The client records exactly which instances were acknowledged (listed in the
 * ReferencedSOPSequence of a 200/202) and retries everything else; it re-sends some acknowledged ones,
 * which must come back ALREADY_STORED. After each kill, while the process is down, and at the end the
 * catalog and the replicas are checked (see checkInvariants / verifyAll).
 */

export interface CorpusInstance {
  index: number;
  sopInstanceUid: string;
  studyInstanceUid: string;
  bytes: Buffer;
  sha256: string;
}

/**
 * Studies of tiny instances, and every fourth study of 320x320 RGB ones (about 300 KB, ultrasound-like):
 * those are written with O_DIRECT (object files of 256 KiB and more, #14), so kills land in both write paths.
 */
export function makeCorpus(instances: number, seed: number, perStudy = 25): CorpusInstance[] {
  const out: CorpusInstance[] = [];
  for (let s = 0; out.length < instances; s += 1) {
    const count = Math.min(perStudy, instances - out.length);
    const size = s % 4 === 1 ? { rows: 320, columns: 320, photometric: 'RGB' as const, bitsAllocated: 8 as const } : { rows: 8, columns: 8 };
    const study = makeStudy(count, { seed: `crash-${seed}-${s}`, ...size, patientId: `CRASH${s}` });
    study.files.forEach((bytes, i) => {
      out.push({
        index: out.length,
        sopInstanceUid: study.sopInstanceUids[i] ?? '',
        studyInstanceUid: study.studyInstanceUid,
        bytes,
        sha256: createHash('sha256').update(bytes).digest('hex'),
      });
    });
  }
  return out;
}

export interface RoundReport {
  round: number;
  /** Instances acknowledged during this round (first acknowledgement). */
  acknowledged: number;
  /** Acknowledged instances re-sent this round, and how many of them came back ALREADY_STORED. */
  resent: number;
  resentAlreadyStored: number;
  killAfterAcks: number | null;
  killDelayMs: number | null;
  /** Requests that got no answer because the process died under them. */
  interrupted: number;
  /** Outbox rows committed but not yet published at the moment of the kill. */
  unpublishedAtKill: number;
  restartMs: number;
}

export interface CrashRunReport {
  instances: number;
  rounds: RoundReport[];
  acknowledged: number;
  verified: number;
  orphansOnDisk: number;
  tempFilesOnDisk: number;
  outboxRows: number;
  outboxPublished: number;
  leftoversRepublished: number;
  problems: string[];
}

export interface CrashRunOptions {
  system: RunningSystem;
  apiKey: string;
  instances: number;
  rounds: number;
  seed: number;
  batchSize?: number;
  concurrency?: number;
  log?: (line: string) => void;
  /**
   * Upload over DIMSE instead of STOW-RS: each batch is one association that keeps up to `window`
   * C-STOREs outstanding (asynchronous operations window); a 0x0000 C-STORE-RSP is the acknowledgement.
   */
  dimse?: { port: number; callingAe: string; window: number };
}

type Json = Record<string, { vr: string; Value?: Record<string, { vr: string; Value?: unknown[] }>[] }>;

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

const REPLICAS = ['replica-a', 'replica-b', 'replica-c'];

export class CrashRun {
  readonly corpus: CorpusInstance[];
  private readonly bySop = new Map<string, CorpusInstance>();
  readonly acknowledged = new Set<number>();
  private launcher: LauncherProcess;
  private readonly rng: Rng;
  private readonly leftoverIds = new Set<string>();
  private readonly problems: string[] = [];

  /** Over DIMSE: what each instance is sent as (its dataset), by corpus index. */
  private readonly overDimse = new Map<number, WindowedInstance>();

  constructor(private readonly options: CrashRunOptions) {
    this.corpus = makeCorpus(options.instances, options.seed);
    if (options.dimse !== undefined) {
      // The archive stores a C-STORE's dataset wrapped in its own Part 10 header (PS3.10 7.1, byte for byte
      // as received): the file every check below expects is that header + the dataset sent.
      const callingAe = options.dimse.callingAe;
      this.corpus = this.corpus.map((c) => {
        const { sopClassUid, transferSyntaxUid, sopInstanceUid, dataset } = splitPart10(c.bytes);
        this.overDimse.set(c.index, { sopClassUid, transferSyntaxUid, sopInstanceUid, dataset: Buffer.from(dataset) });
        const header = part10Header({ mediaStorageSopClassUid: sopClassUid, mediaStorageSopInstanceUid: sopInstanceUid, transferSyntaxUid, sourceApplicationEntityTitle: callingAe }, ARCHIVE_IMPLEMENTATION);
        return { ...c, sha256: createHash('sha256').update(header).update(dataset).digest('hex') };
      });
    }
    for (const c of this.corpus) this.bySop.set(c.sopInstanceUid, c);
    this.launcher = options.system.launcher;
    this.rng = new Rng(options.seed);
  }

  private log(line: string): void {
    this.options.log?.(line);
  }

  /** The process that runs now (the one startSystem started, or the latest restart). */
  get process(): LauncherProcess {
    return this.launcher;
  }

  private async post(batch: CorpusInstance[]): Promise<{ status: number; body: Json } | null> {
    const { body, contentType } = stowBody(batch.map((c) => c.bytes));
    try {
      const res = await fetch(`${this.options.system.urls.ingest ?? ''}/dicomweb/studies`, {
        method: 'POST',
        headers: { 'content-type': contentType, authorization: `ApiKey ${this.options.apiKey}`, accept: 'application/dicom+json' },
        body,
        signal: AbortSignal.timeout(60_000),
      });
      const raw = await res.text();
      return { status: res.status, body: raw ? (JSON.parse(raw) as Json) : {} };
    } catch {
      return null; // connection refused or reset: the process died under the request
    }
  }

  /** One association for the batch; the C-STORE status of each answered instance (none when the process died first). */
  private storeOverDimse(dimse: NonNullable<CrashRunOptions['dimse']>, batch: CorpusInstance[]): Promise<Map<string, number>> {
    const instances = batch.map((c) => this.overDimse.get(c.index)).filter((i): i is WindowedInstance => i !== undefined);
    return storeWindowed({ port: dimse.port, callingAe: dimse.callingAe, calledAe: 'YUNYING', window: dimse.window, instances });
  }

  /** A 0x0000 C-STORE-RSP acknowledges its instance (DIMSE answers a re-send of a stored one 0x0000 too). */
  private acknowledgeStores(round: number, report: RoundReport, batch: CorpusInstance[], resendSet: Set<number>, statuses: Map<string, number>): void {
    if (statuses.size < batch.length) report.interrupted += 1;
    for (const instance of batch) {
      const status = statuses.get(instance.sopInstanceUid);
      if (status === undefined) continue;
      if (status !== 0x0000) {
        // 0xA700: out of resources (replica quorum missed, shutting down): retryable, never acknowledged.
        if (status !== 0xa700) this.problems.push(`round ${round}: C-STORE status 0x${status.toString(16)} for a valid instance`);
        continue;
      }
      if (resendSet.has(instance.index)) {
        report.resent += 1;
        report.resentAlreadyStored += 1;
      } else if (!this.acknowledged.has(instance.index)) {
        this.acknowledged.add(instance.index);
        report.acknowledged += 1;
      }
    }
  }

  /**
   * One round: upload what is not acknowledged (plus a few acknowledged re-sends) until the kill
   * (when `kill`), or until every instance is acknowledged.
   */
  async round(round: number, kill: boolean, roundsLeft = 0): Promise<RoundReport> {
    const batchSize = this.options.batchSize ?? 10;
    const concurrency = this.options.concurrency ?? 4;
    const pending = this.corpus.filter((c) => !this.acknowledged.has(c.index));
    const acked = this.corpus.filter((c) => this.acknowledged.has(c.index));
    const resend = acked.filter(() => this.rng.chance(Math.min(1, 20 / Math.max(1, acked.length))));
    const work = [...pending, ...resend];
    for (let i = work.length - 1; i > 0; i -= 1) {
      const j = this.rng.int(0, i);
      [work[i], work[j]] = [work[j] as CorpusInstance, work[i] as CorpusInstance];
    }
    const batches: CorpusInstance[][] = [];
    for (let i = 0; i < work.length; i += batchSize) batches.push(work.slice(i, i + batchSize));
    const resendSet = new Set(resend.map((c) => c.index));

    // The fault schedule: after a random number of acknowledgements, a random few milliseconds more,
    // so the kill lands at any step of some request (parse, copies, transaction, response).
    // Scaled to the rounds still to come, so that later rounds still have uploads to interrupt.
    const killAfterAcks = kill ? this.rng.int(1, Math.max(1, Math.floor((2 * pending.length) / (roundsLeft + 2)))) : null;
    const killDelayMs = kill ? this.rng.int(0, 40) : null;
    const report: RoundReport = { round, acknowledged: 0, resent: 0, resentAlreadyStored: 0, killAfterAcks, killDelayMs, interrupted: 0, unpublishedAtKill: 0, restartMs: 0 };
    let killed = false;
    let killTimer: NodeJS.Timeout | undefined;
    const child = this.launcher.child;
    const maybeKill = (): void => {
      if (killAfterAcks === null || killTimer !== undefined || report.acknowledged < killAfterAcks) return;
      killTimer = setTimeout(() => {
        killed = true;
        child.kill('SIGKILL');
      }, killDelayMs ?? 0);
    };

    let next = 0;
    const lane = async (): Promise<void> => {
      while (!killed) {
        const batch = batches[next++];
        if (batch === undefined) return;
        if (this.options.dimse !== undefined) {
          this.acknowledgeStores(round, report, batch, resendSet, await this.storeOverDimse(this.options.dimse, batch));
          maybeKill();
          continue;
        }
        const answer = await this.post(batch);
        if (answer === null || answer.status >= 500) {
          report.interrupted += 1;
          if (answer !== null && answer.status !== 503) this.problems.push(`round ${round}: HTTP ${answer.status} for a valid batch`);
          continue;
        }
        if (answer.status !== 200 && answer.status !== 202) {
          this.problems.push(`round ${round}: HTTP ${answer.status} for a valid batch: ${JSON.stringify(answer.body).slice(0, 300)}`);
          continue;
        }
        for (const item of answer.body['00081199']?.Value ?? []) {
          const sop = text(item['00081155']?.Value?.[0]);
          const instance = this.bySop.get(sop);
          if (instance === undefined) {
            this.problems.push(`round ${round}: acknowledged an unknown SOP Instance UID`);
            continue;
          }
          const status = text(item['00991010']?.Value?.[0]);
          if (resendSet.has(instance.index)) {
            report.resent += 1;
            if (status === 'ALREADY_STORED') report.resentAlreadyStored += 1;
            else this.problems.push(`round ${round}: acknowledged instance ${instance.index} re-sent came back ${status}`);
          } else if (!this.acknowledged.has(instance.index)) {
            this.acknowledged.add(instance.index);
            report.acknowledged += 1;
          }
        }
        for (const item of answer.body['00081198']?.Value ?? []) {
          const reason = text(item['00991011']?.Value?.[0]);
          if (reason !== 'storage_unavailable') this.problems.push(`round ${round}: a valid instance was refused (${reason})`);
        }
        maybeKill();
      }
    };
    await Promise.all(Array.from({ length: concurrency }, () => lane()));
    if (kill) {
      if (!killed) {
        // Every batch answered before the schedule fired: kill now (between requests, still a kill -9).
        clearTimeout(killTimer);
        killed = true;
        child.kill('SIGKILL');
      }
      await this.launcher.exited;
      await this.checkInvariants(`after the kill of round ${round}`);
      const unpublished = await this.options.system.pool.query<{ id: string }>('SELECT id FROM outbox WHERE published_at IS NULL');
      report.unpublishedAtKill = unpublished.rows.length;
      for (const row of unpublished.rows) this.leftoverIds.add(row.id);
      const t0 = Date.now();
      this.launcher = startLauncher(this.options.system.env);
      await this.launcher.ready;
      report.restartMs = Date.now() - t0;
    }
    this.log(
      `round ${round}: +${report.acknowledged} acknowledged (total ${this.acknowledged.size}/${this.corpus.length}), ${report.resentAlreadyStored}/${report.resent} re-sends ALREADY_STORED, ` +
        `${report.interrupted} requests interrupted${kill ? `, killed after ${killAfterAcks ?? 0} acks + ${killDelayMs ?? 0} ms, ${report.unpublishedAtKill} outbox rows unpublished at the kill, restart ${report.restartMs} ms` : ''}`,
    );
    return report;
  }

  /**
   * What must hold at any crash point: every acknowledged instance is in the catalog with three ok
   * copies; no instance without its three copies; no object row without an instance; the study and
   * series counters equal their current instances; every transaction that wrote instance rows wrote its
   * study announcement (#14: one per study and catalog transaction, no longer one per instance).
   */
  async checkInvariants(when: string): Promise<void> {
    const { pool } = this.options.system;
    const fail = (what: string): void => {
      this.problems.push(`${when}: ${what}`);
    };
    const rows = await pool.query<{ sop_instance_uid: string; sha256: string; ok: string }>(
      "SELECT i.sop_instance_uid, i.sha256, (SELECT count(*) FROM copies c WHERE c.sha256 = i.sha256 AND c.state = 'ok') AS ok FROM instances i WHERE i.is_current",
    );
    const stored = new Map(rows.rows.map((r) => [r.sop_instance_uid, r]));
    for (const index of this.acknowledged) {
      const instance = this.corpus[index];
      const row = instance && stored.get(instance.sopInstanceUid);
      if (!instance || !row) fail(`acknowledged instance ${index} has no instances row`);
      else if (row.sha256 !== instance.sha256) fail(`acknowledged instance ${index} stored with other bytes`);
    }
    const incomplete = rows.rows.filter((r) => Number(r.ok) !== 3).length;
    if (incomplete > 0) fail(`${incomplete} instance rows without three ok copies`);
    const lonely = await pool.query<{ n: string }>('SELECT count(*) AS n FROM objects o WHERE NOT EXISTS (SELECT 1 FROM instances i WHERE i.sha256 = o.sha256)');
    if (Number(lonely.rows[0]?.n) > 0) fail(`${lonely.rows[0]?.n} object rows without an instance`);
    const studies = await pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM studies s WHERE s.number_of_instances <> (SELECT count(*) FROM instances i WHERE i.study_ref = s.id AND i.is_current)',
    );
    if (Number(studies.rows[0]?.n) > 0) fail(`${studies.rows[0]?.n} studies whose number_of_instances is out of step`);
    const series = await pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM series s WHERE s.number_of_instances <> (SELECT count(*) FROM instances i WHERE i.series_ref = s.id AND i.is_current)',
    );
    if (Number(series.rows[0]?.n) > 0) fail(`${series.rows[0]?.n} series whose number_of_instances is out of step`);
    // An announcement is keyed by its study and the latest arrival among the instances its transaction wrote
    // (#14: one per study and catalog transaction). Half a transaction would show as an instance without an
    // announcement at or after its arrival, or an announcement without the instance whose arrival names it.
    const announcedAt = "split_part(o.job_id, ':', 3)::bigint";
    const arrival = 'round(extract(epoch FROM i.received_at) * 1000)::bigint';
    const halves = await pool.query<{ unannounced: string; unbacked: string }>(
      `SELECT (SELECT count(*) FROM instances i JOIN studies s ON s.id = i.study_ref WHERE NOT EXISTS (
                 SELECT 1 FROM outbox o WHERE o.job_name = 'study.announced' AND o.payload->>'studyInstanceUid' = s.study_instance_uid AND ${announcedAt} >= ${arrival})) AS unannounced,
              (SELECT count(*) FROM outbox o WHERE o.queue = 'study' AND o.job_name = 'study.announced' AND NOT EXISTS (
                 SELECT 1 FROM instances i JOIN studies s ON s.id = i.study_ref WHERE s.study_instance_uid = o.payload->>'studyInstanceUid' AND ${arrival} = ${announcedAt})) AS unbacked`,
    );
    if (Number(halves.rows[0]?.unannounced) > 0) fail(`${halves.rows[0]?.unannounced} instance rows without a study announcement of their transaction`);
    if (Number(halves.rows[0]?.unbacked) > 0) fail(`${halves.rows[0]?.unbacked} study announcements without the instance rows of their transaction`);
  }

  /** Uploads until every instance is acknowledged (no kills), then checks everything. */
  async finish(): Promise<CrashRunReport & { finalRounds: RoundReport[] }> {
    const finalRounds: RoundReport[] = [];
    for (let pass = 0; this.acknowledged.size < this.corpus.length; pass += 1) {
      if (pass >= 5) {
        this.problems.push(`${this.corpus.length - this.acknowledged.size} instances never acknowledged after 5 passes`);
        break;
      }
      finalRounds.push(await this.round(1000 + pass, false));
    }
    await this.checkInvariants('at the end');
    const report = await this.verifyAll();
    return { ...report, finalRounds };
  }

  private async verifyAll(): Promise<CrashRunReport> {
    const { pool, dataDir } = this.options.system;
    // Every acknowledged instance: its three replica files exist, hash to its SHA-256, with their retention sidecar.
    let verified = 0;
    for (const index of this.acknowledged) {
      const instance = this.corpus[index];
      if (!instance) continue;
      let good = 0;
      for (const replica of REPLICAS) {
        const file = path.join(dataDir, replica, objectKey(instance.sha256));
        if (!fs.existsSync(file) || !fs.existsSync(`${file}.lock.json`)) continue;
        const content = await readStoredFile(file, systemStorageKeyFile(dataDir)).catch(() => null);
        if (content !== null && createHash('sha256').update(content).digest('hex') === instance.sha256) good += 1;
      }
      if (good === 3) verified += 1;
      else this.problems.push(`acknowledged instance ${index}: ${good}/3 replica files verify`);
    }
    // Objects on disk: after the retries every corpus object is in the catalog, so the copies written
    // before a kill were re-used by content address, not duplicated or left as orphans.
    const known = new Set((await pool.query<{ sha256: string }>('SELECT sha256 FROM objects')).rows.map((r) => r.sha256));
    let orphans = 0;
    let temps = 0;
    for (const replica of REPLICAS) {
      const stack = [path.join(dataDir, replica, 'sha256')];
      while (stack.length > 0) {
        const dir = stack.pop() ?? '';
        if (!fs.existsSync(dir)) continue;
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
          if (entry.isDirectory()) stack.push(path.join(dir, entry.name));
          else if (entry.name.includes('.tmp-')) temps += 1;
          else if (/^[0-9a-f]{64}$/.test(entry.name) && !known.has(entry.name)) orphans += 1;
        }
      }
    }
    if (orphans > 0) this.problems.push(`${orphans} objects on disk without a catalog row after every instance was acknowledged`);
    // The relay publishes what was left unpublished at each kill, after the restart.
    const published = await waitFor(
      'the outbox relay to publish every row',
      async () => {
        const r = await pool.query<{ total: string; unpublished: string }>('SELECT count(*) AS total, count(*) FILTER (WHERE published_at IS NULL) AS unpublished FROM outbox');
        return Number(r.rows[0]?.unpublished) === 0 ? Number(r.rows[0]?.total) : null;
      },
      60_000,
    ).catch((error: unknown) => {
      this.problems.push(String(error));
      return -1;
    });
    let leftoversRepublished = 0;
    if (this.leftoverIds.size > 0) {
      const r = await pool.query<{ n: string }>('SELECT count(*) AS n FROM outbox WHERE id = ANY($1::bigint[]) AND published_at IS NOT NULL', [[...this.leftoverIds]]);
      leftoversRepublished = Number(r.rows[0]?.n);
      if (leftoversRepublished !== this.leftoverIds.size) this.problems.push(`${this.leftoverIds.size - leftoversRepublished} outbox rows left at a kill were never published`);
    }
    const outboxRows = Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM outbox')).rows[0]?.n);
    return {
      instances: this.corpus.length,
      rounds: [],
      acknowledged: this.acknowledged.size,
      verified,
      orphansOnDisk: orphans,
      tempFilesOnDisk: temps,
      outboxRows,
      outboxPublished: published,
      leftoversRepublished,
      problems: this.problems,
    };
  }

  /** Stops the current process (SIGTERM), so that RunningSystem.stop() can drop the schema and files. */
  async stopProcess(): Promise<void> {
    if (this.launcher !== this.options.system.launcher) await this.launcher.stop('SIGTERM');
  }
}

/** Kills and restarts `rounds` times while uploading, then completes the upload and verifies. */
export async function runCrashRounds(options: CrashRunOptions): Promise<CrashRunReport> {
  const run = new CrashRun(options);
  try {
    const rounds: RoundReport[] = [];
    // Every round kills, even one whose uploads are all re-sends of acknowledged instances.
    for (let r = 1; r <= options.rounds; r += 1) rounds.push(await run.round(r, true, options.rounds - r));
    const report = await run.finish();
    return { ...report, rounds: [...rounds, ...report.finalRounds] };
  } finally {
    await run.stopProcess();
  }
}
