import { AppError } from '@yunying/core';
import type { RecordVersion, WormRecordTarget } from '@yunying/storage';

/**
 * Reading the audit's write-once records (checkpoints, exported segments) back from every replica target,
 * every version of every name: what was written first is still there on S3 even when someone put a newer
 * version over it or "deleted" it (a delete marker), and those attempts are what a verifier must report.
 */
export interface RecordCopy {
  versionId: string | null;
  bytes: Buffer;
  /** A delete marker is the newest entry of this name on this target. */
  hiddenByDeleteMarker: boolean;
}

export interface AllVersions {
  /** key -> target name -> data versions, oldest first. */
  byKey: Map<string, Map<string, RecordCopy[]>>;
  /** Targets that could not be listed or read: their copies are unknown, not missing. */
  unreachable: Set<string>;
}

/** `audit/<chain>/` with the chain's `/` and other unsafe characters made `_` (as the checkpoint directory does). */
export function auditRecordPrefix(chain: string): string {
  return `audit/${chain.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^\./, '_')}/`;
}

/** `from` plus whole days, rounded up to the second (S3 Object Lock dates have second precision). */
export function retainUntilFrom(from: Date, days: number): Date {
  return new Date(Math.ceil((from.getTime() + days * 86_400_000) / 1000) * 1000);
}

function dataVersions(versions: RecordVersion[]): { data: RecordVersion[]; hidden: boolean } {
  const data = versions.filter((v) => !v.deleteMarker).sort((a, b) => (a.lastModified?.getTime() ?? 0) - (b.lastModified?.getTime() ?? 0));
  return { data, hidden: versions.some((v) => v.deleteMarker && v.latest) };
}

export async function readAllVersions(targets: readonly WormRecordTarget[], prefix: string): Promise<AllVersions> {
  const byKey = new Map<string, Map<string, RecordCopy[]>>();
  const unreachable = new Set<string>();
  await Promise.all(
    targets.map(async (target) => {
      const found = new Map<string, RecordCopy[]>();
      try {
        const byName = new Map<string, RecordVersion[]>();
        for (const v of await target.listRecords(prefix)) byName.set(v.key, [...(byName.get(v.key) ?? []), v]);
        for (const [key, versions] of byName) {
          const { data, hidden } = dataVersions(versions);
          const copies: RecordCopy[] = [];
          for (const v of data) copies.push({ versionId: v.versionId, bytes: Buffer.from(await target.readRecord(key, v.versionId)), hiddenByDeleteMarker: hidden });
          if (copies.length > 0) found.set(key, copies);
        }
      } catch {
        // The reason is logged by the target; the verifier reports the target as unreachable.
        unreachable.add(target.name);
        return;
      }
      for (const [key, copies] of found) {
        const entry = byKey.get(key) ?? new Map<string, RecordCopy[]>();
        entry.set(target.name, copies);
        byKey.set(key, entry);
      }
    }),
  );
  if (unreachable.size === targets.length) throw new AppError('unavailable', 'audit records: no replica target could be read', { retryable: true });
  return { byKey: new Map([...byKey].sort(([a], [b]) => a.localeCompare(b))), unreachable };
}
