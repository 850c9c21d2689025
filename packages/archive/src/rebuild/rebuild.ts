import { describeError, type Logger } from '@yunying/core';
import type { Pool } from '@yunying/catalog';
import type { ReplicaTarget } from '@yunying/storage';
import { indexObjects } from './index-objects';
import { rebuildState } from './rebuild.repository';
import { rebuildReport, type RebuildReport } from './report';
import { scanTarget } from './scan';

export interface RebuildOptions {
  /** The destination catalog, migrated: empty, or holding an unfinished rebuild to resume. */
  pool: Pool;
  targets: readonly ReplicaTarget[];
  logger: Logger;
  /** Decide at most this many objects in this run (the report's `pending` says how many remain). */
  maxObjects?: number;
  /** Into a catalog that holds instances (after a point-in-time restore): objects it already holds are
   * left as they are, only the others (ingested after the restore point) are indexed. */
  adopt?: boolean;
}

/**
 * rebuild-catalog (#18): studies, series, instances, objects and copies from the replica targets alone.
 * Reads the targets and never writes, locks or deletes anything there. Idempotent and resumable: the
 * scan and every object's decision are recorded in the destination (rebuild_copies, rebuild_objects).
 */
export async function rebuildCatalog(options: RebuildOptions): Promise<RebuildReport> {
  const { pool, targets, logger } = options;
  if (options.adopt !== true) await assertRebuildable(pool);
  // A target that cannot be listed (a site lost with the catalog) does not stop the rebuild: the others
  // are the archive too. Its copies are recorded as missing and the report names it; a later run, once it
  // is back, lists it again and indexes what only it holds.
  const unreachable = new Set<string>();
  for (const target of targets) {
    try {
      const counts = await scanTarget(pool, target);
      logger.info({ replica: target.name, listed: counts.listed, recorded: counts.recorded }, 'rebuild-catalog: target listed');
    } catch (error) {
      unreachable.add(target.name);
      logger.warn({ replica: target.name, err: describeError(error) }, 'rebuild-catalog: target could not be listed');
    }
  }
  const progress = await indexObjects({ pool, targets, logger, unreachable, ...(options.maxObjects === undefined ? {} : { maxObjects: options.maxObjects }) });
  logger.info({ decided: progress.decided, outcomes: progress.outcomes }, 'rebuild-catalog: objects decided');
  return rebuildReport(pool, targets.map((t) => t.name), [...unreachable].sort());
}

export class NotEmptyError extends Error {
  constructor() {
    super('the destination catalog already holds instances that no rebuild wrote; rebuild into an empty database or schema (--schema)');
  }
}

/** A rebuild writes only into an empty catalog or one it started itself: merging into a live catalog
 * would hide exactly the differences a rebuild is there to show. */
async function assertRebuildable(pool: Pool): Promise<void> {
  const state = await rebuildState(pool);
  if (state.instances && !state.rebuilt) throw new NotEmptyError();
}
