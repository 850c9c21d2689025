import type { Pool } from '@yunying/catalog';
import { assertObjectKey, type CopyStat, type ListedObject, type ReplicaTarget } from '@yunying/storage';
import { recordCopies, recordedKeys } from './rebuild.repository';

/**
 * Phase 1 of rebuild-catalog: list every target and record what its store says about each copy in
 * rebuild_copies. Resumable: keys already recorded are not asked about again (a stat is one to three
 * requests on S3), so a rerun after a crash costs one listing per target.
 */

const BATCH = 500;
/** Stats in flight per target: enough to hide S3 latency, few enough for a 2-core machine. */
const STAT_CONCURRENCY = 8;

export interface ScanCounts {
  target: string;
  listed: number;
  recorded: number;
}

export async function scanTarget(pool: Pool, target: ReplicaTarget, onBatch?: (counts: ScanCounts) => void): Promise<ScanCounts> {
  const counts: ScanCounts = { target: target.name, listed: 0, recorded: 0 };
  let batch: ListedObject[] = [];
  const flush = async (): Promise<void> => {
    counts.listed += batch.length;
    counts.recorded += await recordBatch(pool, target, batch);
    batch = [];
    onBatch?.({ ...counts });
  };
  for await (const object of target.list()) {
    batch.push(object);
    if (batch.length >= BATCH) await flush();
  }
  if (batch.length > 0) await flush();
  return counts;
}

async function recordBatch(pool: Pool, target: ReplicaTarget, batch: ListedObject[]): Promise<number> {
  const done = await recordedKeys(pool, target.name, batch.map((b) => b.key));
  const fresh = batch.filter((b) => !done.has(b.key));
  const stats: { key: string; stat: CopyStat }[] = [];
  for (let i = 0; i < fresh.length; i += STAT_CONCURRENCY) {
    const slice = fresh.slice(i, i + STAT_CONCURRENCY);
    const got = await Promise.all(slice.map(async (b) => ({ key: b.key, stat: await target.stat(b.key) })));
    // A copy removed between listing and stat (disposal) is simply not there.
    for (const g of got) if (g.stat !== null) stats.push({ key: g.key, stat: g.stat });
  }
  if (stats.length === 0) return 0;
  return recordCopies(
    pool,
    target.name,
    stats.map(({ key, stat }) => ({
      objectKey: key,
      // Listed and stat'ed, so well formed (stat refuses any other key): its SHA-256, never a refusal here.
      sha256: assertObjectKey(key),
      sizeBytes: stat.size,
      versionId: stat.versionId,
      retainUntil: stat.retainUntil,
      lockMode: stat.lockMode,
      legalHold: stat.legalHold,
      clinicId: stat.origin?.clinicId ?? null,
      clinicCode: stat.origin?.clinicCode ?? null,
      receivedAt: stat.origin?.receivedAt ?? null,
    })),
  );
}
