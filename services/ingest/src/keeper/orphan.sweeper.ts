import fs from 'node:fs/promises';
import path from 'node:path';
import { appendAuditEvent } from '@yunying/audit';
import { inTransaction, type Pool } from '@yunying/catalog';
import { describeError, type Logger } from '@yunying/core';
import { FsReplicaTarget, type ListedObject, type ReplicaTarget, type ReplicatedStore } from '@yunying/storage';
import { KEEPER_ACTOR } from './keeper.audit';
import type { KeeperMetrics } from './keeper.metrics';
import { cataloguedKeys, countOpenOrphans, listOrphans, recordOrphan, resolveAdoptedOrphans, type OrphanReport } from './orphans.repository';

export interface OrphanSweeperOptions {
  pool: Pool;
  store: ReplicatedStore;
  logger: Logger;
  metrics: KeeperMetrics;
}

export interface SweepSummary {
  listed: number;
  newOrphans: number;
  openOrphans: number;
  resolved: number;
  unreachable: string[];
}

const KEY = /^sha256\/[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{64}$/;
const BATCH = 500;

/**
 * Finds objects present on a replica target but absent from the catalog (`objects`): written, then the
 * process died or the catalog write failed before commit. They are retention-locked, so they are
 * reported (audit 'Security Alert', metric, auditor API), never deleted. A retried upload of the same
 * bytes adopts them by content address; the next sweep then marks the report resolved.
 */
export class OrphanSweeper {
  constructor(private readonly options: OrphanSweeperOptions) {}

  async sweep(): Promise<SweepSummary> {
    const { pool, store, logger } = this.options;
    const summary: SweepSummary = { listed: 0, newOrphans: 0, openOrphans: 0, resolved: 0, unreachable: [] };
    const started = new Date();
    for (const target of store.targets) {
      try {
        let batch: ListedObject[] = [];
        for await (const object of this.list(target)) {
          batch.push(object);
          if (batch.length >= BATCH) {
            await this.check(target.name, batch, summary);
            batch = [];
          }
        }
        if (batch.length > 0) await this.check(target.name, batch, summary);
      } catch (error) {
        summary.unreachable.push(target.name);
        logger.warn({ replica: target.name, err: describeError(error) }, 'keeper: orphan sweep could not list a target');
      }
    }
    // Reports whose object is now in the catalog (a retried upload adopted it) are resolved.
    summary.resolved = await resolveAdoptedOrphans(pool);
    summary.openOrphans = await countOpenOrphans(pool, started);
    return summary;
  }

  async reports(openOnly: boolean, limit: number): Promise<OrphanReport[]> {
    return listOrphans(this.options.pool, openOnly, limit);
  }

  private async check(target: string, batch: ListedObject[], summary: SweepSummary): Promise<void> {
    const { pool, metrics } = this.options;
    summary.listed += batch.length;
    const catalogued = await cataloguedKeys(pool, batch.map((b) => b.key));
    for (const orphan of batch.filter((b) => !catalogued.has(b.key))) {
      const sha256 = orphan.key.slice(orphan.key.lastIndexOf('/') + 1);
      const isNew = await inTransaction(pool, async (client) => {
        const inserted = await recordOrphan(client, target, orphan.key, orphan.size);
        if (inserted) {
          await appendAuditEvent(client, {
            type: 'Security Alert',
            outcome: 4,
            actor: KEEPER_ACTOR,
            details: { event: 'copy.orphan', sha256, target, size: orphan.size, problem: 'object on the replica target is not in the catalog' },
          });
        }
        return inserted;
      });
      if (isNew) {
        summary.newOrphans += 1;
        metrics.orphans.inc({ target });
      }
    }
  }

  private list(target: ReplicaTarget): AsyncIterable<ListedObject> {
    // fs: the sweeper's own walk, which also removes stale temp files (a crash's leftovers); anything
    // else: the target's listing (S3: ListObjectsV2 with the target's own client), as rebuild-catalog uses.
    if (target instanceof FsReplicaTarget) return walkFs(target.root);
    return target.list();
  }

}

const TEMP = /\.tmp-[0-9a-f]{12}$/;
const STALE_TEMP_MS = 60 * 60 * 1000;

/** fs layout: root/sha256/ab/cd/<hex> (+ .lock.json sidecars and .tmp-* leftovers, which are not objects). */
async function* walkFs(root: string): AsyncIterable<ListedObject> {
  // The marker proves the disk is mounted; an unmounted root must not read as "no objects".
  await fs.access(path.join(root, '.yunying-replica.json'));
  const base = path.join(root, 'sha256');
  const level = async (dir: string): Promise<string[]> => {
    try {
      return (await fs.readdir(dir)).filter((n) => /^[0-9a-f]{2}$/.test(n)).sort();
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') return [];
      throw error;
    }
  };
  for (const a of await level(base)) {
    for (const b of await level(path.join(base, a))) {
      const dir = path.join(base, a, b);
      for (const name of (await fs.readdir(dir)).sort()) {
        const key = `sha256/${a}/${b}/${name}`;
        if (TEMP.test(name)) {
          // A temp file that never became a copy: a write cut short by a crash (kill -9 between write and
          // link). It was never linked under an object name, so it holds nothing acknowledged or retained;
          // removed once it is clearly stale, so crashes don't leak disk.
          const st = await fs.stat(path.join(dir, name)).catch(() => null);
          if (st && Date.now() - st.mtimeMs > STALE_TEMP_MS) await fs.unlink(path.join(dir, name)).catch(() => undefined);
          continue;
        }
        if (!KEY.test(key)) continue;
        const st = await fs.stat(path.join(dir, name));
        yield { key, size: st.size };
      }
    }
  }
}
