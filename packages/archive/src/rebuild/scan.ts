import type { Pool } from '@yunying/catalog';
import { sha256OfKey, type CopyStat, type ListedObject, type ReplicaTarget } from '@yunying/storage';

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
  const known = await pool.query<{ object_key: string }>('SELECT object_key FROM rebuild_copies WHERE target = $1 AND object_key = ANY($2::text[])', [
    target.name,
    batch.map((b) => b.key),
  ]);
  const done = new Set(known.rows.map((r) => r.object_key));
  const fresh = batch.filter((b) => !done.has(b.key));
  const stats: { key: string; stat: CopyStat }[] = [];
  for (let i = 0; i < fresh.length; i += STAT_CONCURRENCY) {
    const slice = fresh.slice(i, i + STAT_CONCURRENCY);
    const got = await Promise.all(slice.map(async (b) => ({ key: b.key, stat: await target.stat(b.key) })));
    // A copy removed between listing and stat (disposal) is simply not there.
    for (const g of got) if (g.stat !== null) stats.push({ key: g.key, stat: g.stat });
  }
  if (stats.length === 0) return 0;
  const result = await pool.query(
    `INSERT INTO rebuild_copies (target, object_key, sha256, size_bytes, version_id, retain_until, lock_mode, legal_hold, clinic_id, clinic_code, received_at)
     SELECT $1, c.object_key, c.sha256, c.size_bytes, c.version_id, c.retain_until, c.lock_mode, c.legal_hold, c.clinic_id, c.clinic_code, c.received_at
     FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::timestamptz[], $7::text[], $8::boolean[], $9::uuid[], $10::text[], $11::timestamptz[])
       AS c(object_key, sha256, size_bytes, version_id, retain_until, lock_mode, legal_hold, clinic_id, clinic_code, received_at)
     ON CONFLICT (target, object_key) DO NOTHING`,
    [
      target.name,
      stats.map((s) => s.key),
      stats.map((s) => sha256OfKey(s.key)),
      stats.map((s) => s.stat.size),
      stats.map((s) => s.stat.versionId),
      stats.map((s) => s.stat.retainUntil),
      stats.map((s) => s.stat.lockMode),
      stats.map((s) => s.stat.legalHold),
      stats.map((s) => s.stat.origin?.clinicId ?? null),
      stats.map((s) => s.stat.origin?.clinicCode ?? null),
      stats.map((s) => s.stat.origin?.receivedAt ?? null),
    ],
  );
  return result.rowCount ?? 0;
}
