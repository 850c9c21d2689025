import { assessGrowth, type GrowthAssessment } from './growth.rule';
import { buildTracks } from './nodule-match';
import type { VisitFinding } from './follow-up.findings';

/** One nodule across visits: the history (one entry per visit, oldest first) and what it says now. */
export interface NoduleTrack {
  label: string;
  history: (VisitFinding | null)[];
  /**
   * grown: significant growth by the ACR rule against the previous or the first measurement;
   * stable: measured now and before, not grown; new: not seen before; gone: seen before, not now;
   * unmeasured: seen now and before, but a size is missing (frame not calibrated).
   */
  status: 'grown' | 'stable' | 'new' | 'gone' | 'unmeasured';
  growth: { sincePrevious: GrowthAssessment | null; sinceFirst: GrowthAssessment | null };
}

const RANK: Record<NoduleTrack['status'], number> = { grown: 0, new: 1, unmeasured: 2, stable: 3, gone: 4 };

function dims(f: VisitFinding): number[] {
  return f.sizeMm ? [f.sizeMm.long, f.sizeMm.short] : [];
}

function trackOf(history: (VisitFinding | null)[]): Omit<NoduleTrack, 'label'> {
  const now = history.at(-1) ?? null;
  const earlier = history.slice(0, -1).filter((f): f is VisitFinding => f !== null);
  const none = { sincePrevious: null, sinceFirst: null };
  if (!now) return { history, status: 'gone', growth: none };
  if (earlier.length === 0) return { history, status: 'new', growth: none };
  const measured = earlier.filter((f) => f.sizeMm !== null);
  const previous = measured.at(-1);
  const first = measured[0];
  if (!now.sizeMm || !previous || !first) return { history, status: 'unmeasured', growth: none };
  const sincePrevious = assessGrowth(dims(previous), dims(now));
  const sinceFirst = first === previous ? null : assessGrowth(dims(first), dims(now));
  const grown = sincePrevious.significant || (sinceFirst?.significant ?? false);
  return { history, status: grown ? 'grown' : 'stable', growth: { sincePrevious, sinceFirst } };
}

/** Tracks over `visits` (oldest first, the current visit last), grown first, then larger first. */
export function noduleTracks(visits: readonly (readonly VisitFinding[])[]): NoduleTrack[] {
  const tracks = buildTracks(visits).map(trackOf);
  const size = (t: Omit<NoduleTrack, 'label'>): number => t.history.reduce((m, f) => Math.max(m, f?.sizeMm?.long ?? 0), 0);
  tracks.sort((a, b) => RANK[a.status] - RANK[b.status] || size(b) - size(a));
  return tracks.map((t, i) => ({ label: `N${i + 1}`, ...t }));
}
