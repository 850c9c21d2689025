import { isAppError, type Logger } from '@yunying/core';
import { inTransaction, recordInstance, type Pool, type PoolClient, type RecordOutcome, type StoredCopy } from '@yunying/catalog';
import { isDicomRejection, parseInstance, type ParsedInstance } from '@yunying/dicom';
import { GLOBAL_MINIMUM_RETENTION_YEARS, computeRetainUntil, isStorageKeyError, sha256Hex, type ReplicaTarget } from '@yunying/storage';
import { datasetDigest } from '../ingest.pipeline';
import { recordedOfParsed } from '../instance-record';
import { ClinicResolver } from './clinics';
import {
  holdObjectAndStudy,
  isCatalogued,
  markCopiesCorrupt,
  recordDecision,
  recordDigests,
  recordedCopiesOf,
  undecidedObjects,
  type RebuildOutcome,
  type RecordedCopy,
} from './rebuild.repository';

/**
 * Phase 2 of rebuild-catalog: every object found by the scan, oldest arrival first (so versions of one
 * SOP Instance UID are numbered as they arrived), is read from each of its copies, checked against its
 * content address, parsed, and written to the catalog by recordInstance, the ingest path's own catalog
 * write. The decision about each object is recorded with its rows in one transaction: a rerun resumes
 * after the last decided object, and deciding twice cannot happen.
 */

interface CheckedCopy extends RecordedCopy {
  /** Null when the copy could not be read (its target unreachable): neither good nor corrupt. */
  good: boolean | null;
}

export interface IndexProgress {
  decided: number;
  outcomes: Partial<Record<RebuildOutcome, number>>;
}

export interface IndexOptions {
  pool: Pool;
  targets: readonly ReplicaTarget[];
  logger: Logger;
  /** Targets not to read (they could not be listed); a target that fails a read joins them. */
  unreachable: Set<string>;
  /** Decide at most this many objects, then stop (a bounded run; the next run continues). */
  maxObjects?: number;
  onProgress?: (progress: IndexProgress) => void;
}

export async function indexObjects(options: IndexOptions): Promise<IndexProgress> {
  const { pool, targets, logger } = options;
  const byName = new Map(targets.map((t) => [t.name, t]));
  const clinics = new ClinicResolver(pool);
  const progress: IndexProgress = { decided: 0, outcomes: {} };
  for await (const { sha256 } of undecidedObjects(pool)) {
    // Leaving the loop ends the cursor's transaction (streamRows' finally).
    if (options.maxObjects !== undefined && progress.decided >= options.maxObjects) break;
    const outcome = await indexOne(pool, byName, options.unreachable, clinics, sha256);
    progress.decided += 1;
    progress.outcomes[outcome] = (progress.outcomes[outcome] ?? 0) + 1;
    if (outcome !== 'indexed' && outcome !== 'same_instance' && outcome !== 'catalogued') logger.warn({ sha256, outcome }, 'rebuild-catalog: object not indexed');
    if (progress.decided % 1000 === 0) {
      logger.info({ decided: progress.decided }, 'rebuild-catalog: objects decided');
      options.onProgress?.({ ...progress, outcomes: { ...progress.outcomes } });
    }
  }
  return progress;
}

async function indexOne(pool: Pool, targets: Map<string, ReplicaTarget>, unreachable: Set<string>, clinics: ClinicResolver, sha256: string): Promise<RebuildOutcome> {
  // Already in the catalog (--adopt after a restore): its rows and copy states are the catalog's; not read.
  // In an empty catalog an object row exists only with its decision, so this never hides work there.
  if (await isCatalogued(pool, sha256)) return decide(pool, sha256, 'catalogued');
  const rows = await recordedCopiesOf(pool, sha256);
  // Every copy is read in full: the only way to know that the copies agree with their address.
  const checked: CheckedCopy[] = [];
  let bytes: Uint8Array | null = null;
  // The copies are read in parallel (one per target): on S3 a read is mostly latency.
  const reads = await Promise.all(
    rows.map((row) => {
      const target = targets.get(row.target);
      return target === undefined || unreachable.has(row.target) ? Promise.resolve('unreachable' as const) : readCopy(target, row.objectKey, row.versionId);
    }),
  );
  for (const [i, row] of rows.entries()) {
    const read = reads[i] ?? null;
    if (read === 'unreachable') {
      unreachable.add(row.target);
      checked.push({ ...row, good: null });
      continue;
    }
    if (read === 'corrupt') {
      checked.push({ ...row, good: false });
      continue;
    }
    const good = read !== null && read.length === Number(row.sizeBytes) && sha256Hex(read) === sha256;
    if (good && bytes === null) bytes = read;
    checked.push({ ...row, good });
  }
  const read = checked.filter((c) => c.good !== null);
  await recordDigests(pool, sha256, read.flatMap((c) => (c.good === null ? [] : [{ target: c.target, good: c.good }])));
  const good = checked.filter((c) => c.good === true);
  if (bytes === null) return decide(pool, sha256, 'no_good_copy');

  const origins = new Set(good.flatMap((c) => (c.clinicId === null ? [] : [c.clinicId])));
  if (origins.size === 0) return decide(pool, sha256, 'unattributed');
  if (origins.size > 1) return decide(pool, sha256, 'clinic_disagrees');
  const origin = good.find((c) => c.clinicId !== null);
  if (origin?.clinicId == null || origin.clinicCode === null) return decide(pool, sha256, 'unattributed');

  let parsed: ParsedInstance;
  try {
    parsed = parseInstance(bytes, { maxBytes: bytes.length });
  } catch (error) {
    if (isDicomRejection(error)) return decide(pool, sha256, 'not_dicom');
    throw error;
  }
  const clinic = await clinics.resolve(origin.clinicId, origin.clinicCode);
  const receivedAt = origin.receivedAt ?? new Date();
  const retainUntil = earliest(good.map((c) => c.retainUntil)) ?? computeRetainUntil({
    studyDate: parsed.attributes.StudyDate,
    receivedAt,
    policyYears: clinic.retentionYears,
    minimumYears: GLOBAL_MINIMUM_RETENTION_YEARS,
  });
  const locked = good.filter((c) => c.lockMode !== null && c.retainUntil !== null);
  const present = new Set(checked.filter((c) => c.good !== null).map((c) => c.target));
  const failed = [
    ...good.filter((c) => !locked.includes(c)).map((c) => ({ target: c.target, reason: 'copy not retention-locked (found at rebuild)' })),
    ...checked.filter((c) => c.good === false).map((c) => ({ target: c.target, reason: 'copy does not hash to its address (found at rebuild)' })),
    // Not verified is not good: recorded missing, so the scrubber or repair worker looks at it once the target is back.
    ...[...targets.keys()].filter((t) => !present.has(t)).map((target) => ({ target, reason: unreachable.has(target) ? 'target unreachable at rebuild' : 'copy missing (found at rebuild)' })),
  ];
  const copies: StoredCopy[] = locked.map((c) => ({
    target: c.target,
    key: c.objectKey,
    versionId: c.versionId,
    size: Number(c.sizeBytes),
    retainUntil: c.retainUntil ?? retainUntil,
    lockMode: c.lockMode === 'COMPLIANCE' ? 'COMPLIANCE' : 'FS_READONLY',
  }));
  const corrupt = checked.filter((c) => c.good === false).map((c) => c.target);

  return inTransaction(pool, async (client) => {
    const recorded: RecordOutcome = await recordInstance(client, {
      clinicId: clinic.id,
      ...recordedOfParsed(parsed),
      sha256,
      datasetSha256: datasetDigest(bytes),
      objectKey: origin.objectKey,
      size: bytes.length,
      retainUntil,
      copies,
      failedCopies: failed,
      receivedAt,
    });
    if (recorded.kind === 'conflict') {
      // Nothing of a refused instance stays: undo its rows, keep only the decision (in a new transaction).
      throw new Conflict();
    }
    // A copy that exists but is bad is 'corrupt', not 'missing': the repair worker rewrites it either way.
    if (corrupt.length > 0) await markCopiesCorrupt(client, sha256, corrupt);
    if (good.some((c) => c.legalHold)) await holdObjectAndStudy(client, sha256, recorded.studyRef);
    return decide(client, sha256, recorded.kind === 'already_stored' ? 'same_instance' : 'indexed');
  }).catch((error: unknown) => {
    if (error instanceof Conflict) return decide(pool, sha256, 'conflict');
    throw error;
  });
}

class Conflict extends Error {}

/** A copy's bytes; null when the copy is gone (deleted since the listing); 'unreachable' when its target
 * does not answer. Anything else stops the run, which resumes where it stopped. The version read is the
 * one the scan's stat saw and recorded (#17): a version written at the key in between is not what the
 * rebuilt catalog describes. */
async function readCopy(target: ReplicaTarget, key: string, versionId: string | null): Promise<Uint8Array | null | 'unreachable' | 'corrupt'> {
  try {
    return await target.read(key, versionId);
  } catch (error) {
    if (isAppError(error) && error.code === 'not_found') return null;
    // A sealed copy that does not authenticate is a bad copy; a key missing from the key file stops the run.
    if (isStorageKeyError(error) && error.problem !== 'key_unavailable') return 'corrupt';
    if (isAppError(error) && error.code === 'unavailable') return 'unreachable';
    throw error;
  }
}

async function decide(db: Pool | PoolClient, sha256: string, outcome: RebuildOutcome): Promise<RebuildOutcome> {
  await recordDecision(db, sha256, outcome);
  return outcome;
}

function earliest(dates: (Date | null)[]): Date | null {
  let min: Date | null = null;
  for (const d of dates) if (d !== null && (min === null || d.getTime() < min.getTime())) min = d;
  return min;
}
