import type { Pool } from '@yunying/catalog';
import { catalogTotals, copiesFailingDigest, copiesPerTarget, objectsDecided, objectsWithFewerGoodCopies, outcomeCounts, type Sampled } from './report.repository';

/**
 * What a rebuild found, from its own tables (so a resumed run reports the whole rebuild, not only its
 * last part). Objects are named by SHA-256 only: no UIDs, no patient data.
 */
export interface RebuildReport {
  targets: { name: string; copies: number }[];
  /** Targets this run could not list or read: their copies are recorded missing until verified. */
  unreachable: string[];
  objects: number;
  /** Objects listed but not decided yet (a bounded or interrupted run): run again to continue. */
  pending: number;
  outcomes: Record<string, number>;
  catalog: { clinics: number; studies: number; series: number; instances: number; objects: number; copies: number };
  mismatches: {
    /** Objects with fewer good copies than there are targets (missing or not hashing to their address). */
    fewerCopies: Mismatch<{ sha256: string; goodOn: string[] }>;
    /** Copies whose bytes do not hash to their address. */
    digestMismatch: Mismatch<{ sha256: string; target: string }>;
    /** Objects whose copies carry no clinic (written before #18) or disagree about it: not indexed. */
    unattributed: Mismatch<{ sha256: string; outcome: string }>;
    /** Objects that are not DICOM, have no good copy, or whose UIDs clash with an indexed instance. */
    notIndexed: Mismatch<{ sha256: string; outcome: string }>;
  };
}

export type Mismatch<T> = Sampled<T>;

const SAMPLE = 20;

export async function rebuildReport(pool: Pool, targetNames: readonly string[], unreachable: string[] = []): Promise<RebuildReport> {
  const counted = await copiesPerTarget(pool);
  const outcomes = await outcomeCounts(pool);
  const { listed, pending, ...catalog } = await catalogTotals(pool);
  return {
    targets: targetNames.map((name) => ({ name, copies: counted.get(name) ?? 0 })),
    unreachable,
    objects: listed,
    pending,
    outcomes,
    catalog,
    mismatches: {
      fewerCopies: await objectsWithFewerGoodCopies(pool, targetNames.length, SAMPLE),
      digestMismatch: await copiesFailingDigest(pool, SAMPLE),
      unattributed: await objectsDecided(pool, ['unattributed', 'clinic_disagrees'], SAMPLE),
      notIndexed: await objectsDecided(pool, ['not_dicom', 'no_good_copy', 'conflict'], SAMPLE),
    },
  };
}

/** True when the rebuild found nothing to worry about. */
export function reportIsClean(report: RebuildReport): boolean {
  const m = report.mismatches;
  return report.unreachable.length === 0 && m.fewerCopies.count + m.digestMismatch.count + m.unattributed.count + m.notIndexed.count === 0;
}

/** The report for a person at a terminal: counts first, then each kind of mismatch with its sample. */
export function formatReport(report: RebuildReport): string {
  const lines = [
    `objects found: ${report.objects}, not decided yet: ${report.pending}  (${report.targets.map((t) => `${t.name}: ${t.copies} copies`).join(', ')})`,
    ...(report.unreachable.length > 0 ? [`UNREACHABLE targets (copies there recorded missing; run again once they are back): ${report.unreachable.join(', ')}`] : []),
    `decided: ${Object.entries(report.outcomes).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
    `catalog now: ${Object.entries(report.catalog).map(([k, v]) => `${k} ${v}`).join(', ')}`,
  ];
  const m = report.mismatches;
  const section = <T>(title: string, mismatch: Mismatch<T>, line: (item: T) => string): void => {
    lines.push(`${title}: ${mismatch.count}`);
    for (const item of mismatch.sample) lines.push(`  ${line(item)}`);
    if (mismatch.count > mismatch.sample.length) lines.push(`  … and ${mismatch.count - mismatch.sample.length} more`);
  };
  section('objects with fewer good copies than targets', m.fewerCopies, (i) => `${i.sha256} good on: ${i.goodOn.join(', ') || 'none'}`);
  section('copies whose bytes do not match their SHA-256', m.digestMismatch, (i) => `${i.sha256} on ${i.target}`);
  section('objects without a clinic (not indexed)', m.unattributed, (i) => `${i.sha256} ${i.outcome}`);
  section('objects not indexed for another reason', m.notIndexed, (i) => `${i.sha256} ${i.outcome}`);
  return lines.join('\n');
}
