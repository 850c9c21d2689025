import { AppError, describeError } from '@yunying/core';
import type { WormRecordTarget } from '@yunying/storage';
import { checkpointName, parseCheckpoint, type CheckpointCopyProblem, type CheckpointStore, type ParsedCheckpoint, type SignedAuditCheckpoint } from './checkpoint';
import { auditRecordPrefix, retainUntilFrom, readAllVersions, type RecordCopy } from './worm';

/**
 * Checkpoints as write-once records in every replica target (the three Object-Locked buckets, or the three fs
 * replica roots), under `audit/<chain>/checkpoints/` (issue #17). A database superuser cannot reach them; on S3
 * nobody can delete or overwrite a locked version before its retain-until, so a rewritten chain is caught up to
 * the last checkpoint. Reading is "any valid copy": every distinct content of a name is returned (the verifier
 * keeps the ones whose SM2 signature verifies) and each copy that is missing, hidden or overwritten is reported.
 */
export class ReplicaCheckpointStore implements CheckpointStore {
  private readonly prefix: string;

  constructor(
    private readonly targets: readonly WormRecordTarget[],
    readonly chain: string,
    /** Days each checkpoint stays locked: at least as long as the records it covers are kept. */
    private readonly retentionDays: number,
  ) {
    if (targets.length === 0) throw new AppError('config_invalid', 'audit checkpoints: no replica targets');
    this.prefix = `${auditRecordPrefix(chain)}checkpoints/`;
  }

  /** Written to every target; throws (after writing what it can) unless all copies were written, so the
   * keeper logs it, and the verifier reports the copy that is missing until one is. */
  async put(checkpoint: SignedAuditCheckpoint): Promise<void> {
    const key = this.prefix + checkpointName(checkpoint);
    const bytes = Buffer.from(`${JSON.stringify(checkpoint, null, 2)}\n`);
    const retainUntil = retainUntilFrom(new Date(checkpoint.createdAt), this.retentionDays);
    const results = await Promise.allSettled(this.targets.map((t) => t.putRecord(key, bytes, retainUntil)));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${this.targets[i]?.name ?? '?'}: ${describeError(r.reason)}`] : []));
    if (failed.length > 0) {
      throw new AppError('unavailable', `audit checkpoint ${checkpoint.seq} written to ${results.length - failed.length} of ${results.length} copies (${failed.join('; ')})`, {
        retryable: true,
      });
    }
  }

  async list(): Promise<ParsedCheckpoint[]> {
    const copies = await readAllVersions(this.targets, this.prefix);
    const out: ParsedCheckpoint[] = [];
    for (const [key, byTarget] of copies.byKey) {
      const name = key.slice(this.prefix.length);
      const problems: CheckpointCopyProblem[] = copyProblems(this.targets, byTarget, copies.unreachable);
      const contents = new Map<string, string[]>();
      for (const [target, versions] of byTarget) {
        for (const v of versions) {
          const text = v.bytes.toString('utf8');
          contents.set(text, [...(contents.get(text) ?? []), target]);
        }
      }
      let first = true;
      for (const [text, foundOn] of contents) {
        out.push({ ...parseCheckpoint(name, text, this.chain), foundOn, ...(first ? { copyProblems: problems } : {}) });
        first = false;
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Lists names only (cheap), then reads the newest `count` names from the first target that holds each;
   * the caller keeps those whose signature verifies, so a forged newer name on one target is passed over. */
  async newest(count: number): Promise<ParsedCheckpoint[]> {
    const holders = new Map<string, WormRecordTarget>();
    let reached = 0;
    for (const target of this.targets) {
      try {
        for (const v of await target.listRecords(this.prefix)) if (!v.deleteMarker && !holders.has(v.key)) holders.set(v.key, target);
        reached += 1;
      } catch {
        // Another target may answer; the verifier reports this one.
      }
    }
    if (reached === 0) throw new AppError('unavailable', 'audit checkpoints: no replica target could be listed', { retryable: true });
    const keys = [...holders.keys()].sort().reverse().slice(0, count);
    const out: ParsedCheckpoint[] = [];
    for (const key of keys) {
      const bytes = await holders.get(key)?.readRecord(key, null).catch(() => null);
      if (bytes) out.push(parseCheckpoint(key.slice(this.prefix.length), Buffer.from(bytes).toString('utf8'), this.chain));
    }
    return out;
  }
}

/** Per target: missing, hidden by a delete marker, several versions, or not listable. */
export function copyProblems(
  targets: readonly WormRecordTarget[],
  byTarget: ReadonlyMap<string, RecordCopy[]>,
  unreachable: ReadonlySet<string>,
): CheckpointCopyProblem[] {
  const problems: CheckpointCopyProblem[] = [];
  for (const t of targets) {
    if (unreachable.has(t.name)) {
      problems.push({ problem: 'unreachable', target: t.name });
      continue;
    }
    const versions = byTarget.get(t.name);
    if (versions === undefined || versions.length === 0) problems.push({ problem: 'missing', target: t.name });
    else {
      if (versions.some((v) => v.hiddenByDeleteMarker)) problems.push({ problem: 'deleted', target: t.name });
      if (versions.length > 1) problems.push({ problem: 'overwritten', target: t.name });
    }
  }
  return problems;
}
