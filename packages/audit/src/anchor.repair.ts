import type crypto from 'node:crypto';
import { inTransaction, type Pool } from '@yunying/catalog';
import type { WormRecordTarget } from '@yunying/storage';
import { appendAuditEvent } from './audit.repository';
import { checkpointSignatureValid, parseCheckpoint, type CheckpointSigner } from './checkpoint';
import { exportAuditSegment, segmentPrefix, segmentRetainUntil, type SegmentExportOutcome } from './segment';
import { parseSegment } from './segment.verify';
import { auditRecordPrefix, retainUntilFrom } from './worm';

const SYSTEM_ACTOR = { username: 'system', role: 'system' };

/**
 * Completes the copies of the audit's write-once records (checkpoints, segments) under `prefix`: a name that
 * some reachable target lacks entirely (no version, no delete marker) is copied there from a target that holds
 * a copy `accept` vouches for (a valid signature), so a copy that failed at write time (a target down, a bucket
 * not yet there) does not stay missing for ever. Only lists, and reads only what it copies: cheap enough for
 * every keeper tick. A name hidden by a delete marker is not "missing" and is left for the verifier to report;
 * the caller records every restored copy (on fs a missing file may have been deleted by hand).
 */
export interface RestoredCopy {
  key: string;
  target: string;
}

export async function completeRecordCopies(
  targets: readonly WormRecordTarget[],
  prefix: string,
  accept: (key: string, bytes: Buffer) => boolean,
  retainUntil: (key: string, bytes: Buffer) => Promise<Date>,
): Promise<RestoredCopy[]> {
  const names = new Map<string, Set<string>>();
  const reachable: WormRecordTarget[] = [];
  for (const target of targets) {
    try {
      for (const v of await target.listRecords(prefix)) names.set(target.name, (names.get(target.name) ?? new Set()).add(v.key));
      reachable.push(target);
    } catch {
      // An unreachable target is completed on a later tick.
    }
  }
  const all = new Set(reachable.flatMap((t) => [...(names.get(t.name) ?? [])]));
  const restored: RestoredCopy[] = [];
  for (const key of [...all].sort()) {
    const lacking = reachable.filter((t) => !(names.get(t.name)?.has(key) ?? false));
    if (lacking.length === 0) continue;
    let source: Buffer | null = null;
    for (const t of reachable) {
      if (!(names.get(t.name)?.has(key) ?? false)) continue;
      // The current version: a hidden or replaced original is the verifier's business, not something to copy.
      const bytes = await t.readRecord(key, null).then(
        (b) => Buffer.from(b),
        () => null,
      );
      if (bytes !== null && accept(key, bytes)) {
        source = bytes;
        break;
      }
    }
    if (source === null) continue;
    const until = await retainUntil(key, source);
    for (const t of lacking) {
      try {
        await t.putRecord(key, source, until);
        restored.push({ key, target: t.name });
      } catch {
        // Left missing: reported by verification, retried on the next tick.
      }
    }
  }
  return restored;
}

export interface AnchorCopyRepair {
  pool: Pool;
  targets: readonly WormRecordTarget[];
  chain: string;
  publicKey: crypto.KeyObject;
  retentionDays: number;
}

/**
 * Completes the checkpoint and segment copies (see completeRecordCopies) and, when it restored any, appends one
 * Security Alert naming them (target and object name, no content): a copy that reappears is never silent.
 */
export async function completeAuditAnchorCopies(options: AnchorCopyRepair, now = new Date()): Promise<RestoredCopy[]> {
  const { pool, targets, chain, publicKey, retentionDays } = options;
  const checkpointPrefix = `${auditRecordPrefix(chain)}checkpoints/`;
  const restored = [
    ...(await completeRecordCopies(
      targets,
      checkpointPrefix,
      (key, bytes) => {
        const parsed = parseCheckpoint(key.slice(checkpointPrefix.length), bytes.toString('utf8'), chain);
        return parsed.checkpoint !== undefined && checkpointSignatureValid(parsed.checkpoint, [publicKey]);
      },
      () => Promise.resolve(retainUntilFrom(now, retentionDays)),
    )),
    ...(await completeRecordCopies(
      targets,
      segmentPrefix(chain),
      (_key, bytes) => typeof parseSegment(bytes, chain, [publicKey]) !== 'string',
      (_key, bytes) => {
        const parsed = parseSegment(bytes, chain, [publicKey]);
        const records = typeof parsed === 'string' ? [] : parsed.lines.map((l) => JSON.parse(l) as { studyInstanceUid?: string | null });
        return segmentRetainUntil(pool, records.map((r) => ({ studyInstanceUid: r.studyInstanceUid ?? null })), retentionDays, now);
      },
    )),
  ];
  if (restored.length > 0) {
    await inTransaction(pool, (client) =>
      appendAuditEvent(client, {
        type: 'Security Alert',
        action: 'E',
        outcome: 4,
        actor: SYSTEM_ACTOR,
        details: {
          kind: 'audit-anchor-copies-restored',
          count: restored.length,
          copies: restored.slice(0, 50).map((r) => ({ target: r.target, name: r.key.slice(auditRecordPrefix(chain).length) })),
        },
      }),
    );
  }
  return restored;
}

/**
 * The keeper's segment step, after each checkpoint: exports the backlog (a few segments per tick, so a first
 * run on a large trail catches up without one huge read), then completes copies a target lacks. When no recent
 * segment verifies it exports nothing and appends one Security Alert (`audit-segment-invalid`) per episode: a
 * broken chain is already alarmed by AuditAnchor.
 */
export class AuditSegmentKeeper {
  private alarmed = false;

  constructor(
    private readonly options: Omit<AnchorCopyRepair, 'publicKey'> & { signer: () => CheckpointSigner; maxSegmentsPerTick?: number },
  ) {}

  async tick(now = new Date()): Promise<{ exported: SegmentExportOutcome[]; restored: RestoredCopy[] }> {
    const { pool, targets, chain, retentionDays } = this.options;
    const signer = this.options.signer();
    const exported: SegmentExportOutcome[] = [];
    for (let i = 0; i < (this.options.maxSegmentsPerTick ?? 10); i += 1) {
      const outcome = await exportAuditSegment(pool, signer, targets, chain, { retentionDays }, now);
      exported.push(outcome);
      if (!outcome.exported) break;
    }
    const last = exported[exported.length - 1];
    if (last !== undefined && !last.exported && last.reason === 'last-segment-invalid') {
      if (!this.alarmed) {
        await inTransaction(pool, (client) =>
          appendAuditEvent(client, { type: 'Security Alert', action: 'E', outcome: 12, actor: SYSTEM_ACTOR, details: { kind: 'audit-segment-invalid' } }),
        );
        this.alarmed = true;
      }
    } else {
      this.alarmed = false;
    }
    const restored = await completeAuditAnchorCopies({ pool, targets, chain, publicKey: signer.publicKey, retentionDays }, now);
    return { exported, restored };
  }
}
