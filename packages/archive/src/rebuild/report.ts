import type { Pool } from '@yunying/catalog';

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

export interface Mismatch<T> {
  count: number;
  /** The first few, in SHA-256 order. */
  sample: T[];
}

const SAMPLE = 20;

export async function rebuildReport(pool: Pool, targetNames: readonly string[], unreachable: string[] = []): Promise<RebuildReport> {
  const perTarget = await pool.query<{ target: string; n: string }>('SELECT target, count(*) AS n FROM rebuild_copies GROUP BY target');
  const counted = new Map(perTarget.rows.map((r) => [r.target, Number(r.n)]));
  const outcomes = await pool.query<{ outcome: string; n: string }>('SELECT outcome, count(*) AS n FROM rebuild_objects GROUP BY outcome ORDER BY outcome');
  const totals = await pool.query<Record<'clinics' | 'studies' | 'series' | 'instances' | 'objects' | 'copies' | 'listed' | 'pending', string>>(
    `SELECT (SELECT count(*) FROM clinics) AS clinics, (SELECT count(*) FROM studies) AS studies, (SELECT count(*) FROM series) AS series,
            (SELECT count(*) FROM instances) AS instances, (SELECT count(*) FROM objects) AS objects, (SELECT count(*) FROM copies) AS copies,
            (SELECT count(DISTINCT sha256) FROM rebuild_copies) AS listed,
            (SELECT count(DISTINCT sha256) FROM rebuild_copies rc WHERE NOT EXISTS (SELECT 1 FROM rebuild_objects ro WHERE ro.sha256 = rc.sha256)) AS pending`,
  );
  const t = totals.rows[0];
  const fewer = await pool.query<{ sha256: string; good_on: string[] | null; total: string }>(
    `SELECT sha256, array_agg(target ORDER BY target) FILTER (WHERE digest_ok IS NOT FALSE) AS good_on, count(*) OVER () AS total
     FROM rebuild_copies GROUP BY sha256 HAVING count(*) FILTER (WHERE digest_ok IS NOT FALSE) < $1 ORDER BY sha256 LIMIT $2`,
    [targetNames.length, SAMPLE],
  );
  const digest = await pool.query<{ sha256: string; target: string; total: string }>(
    'SELECT sha256, target, count(*) OVER () AS total FROM rebuild_copies WHERE digest_ok = false ORDER BY sha256, target LIMIT $1',
    [SAMPLE],
  );
  const decided = async (which: string[]): Promise<Mismatch<{ sha256: string; outcome: string }>> => {
    const { rows } = await pool.query<{ sha256: string; outcome: string; total: string }>(
      'SELECT sha256, outcome, count(*) OVER () AS total FROM rebuild_objects WHERE outcome = ANY($1::text[]) ORDER BY sha256 LIMIT $2',
      [which, SAMPLE],
    );
    return { count: Number(rows[0]?.total ?? 0), sample: rows.map((r) => ({ sha256: r.sha256, outcome: r.outcome })) };
  };
  return {
    targets: targetNames.map((name) => ({ name, copies: counted.get(name) ?? 0 })),
    unreachable,
    objects: Number(t?.listed ?? 0),
    pending: Number(t?.pending ?? 0),
    outcomes: Object.fromEntries(outcomes.rows.map((r) => [r.outcome, Number(r.n)])),
    catalog: {
      clinics: Number(t?.clinics ?? 0),
      studies: Number(t?.studies ?? 0),
      series: Number(t?.series ?? 0),
      instances: Number(t?.instances ?? 0),
      objects: Number(t?.objects ?? 0),
      copies: Number(t?.copies ?? 0),
    },
    mismatches: {
      fewerCopies: { count: Number(fewer.rows[0]?.total ?? 0), sample: fewer.rows.map((r) => ({ sha256: r.sha256, goodOn: r.good_on ?? [] })) },
      digestMismatch: { count: Number(digest.rows[0]?.total ?? 0), sample: digest.rows.map((r) => ({ sha256: r.sha256, target: r.target })) },
      unattributed: await decided(['unattributed', 'clinic_disagrees']),
      notIndexed: await decided(['not_dicom', 'no_good_copy', 'conflict']),
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
