/** Evaluation metrics, defined exactly as in models/thyroid-nodule/train/metrics.py. */

/** ROC AUC via the Mann-Whitney statistic with mid-ranks for ties; NaN when a class is absent. */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (scores[a] ?? 0) - (scores[b] ?? 0) || a - b);
  const ranks = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1] ?? 0] === scores[order[i] ?? 0]) j++;
    for (let k = i; k <= j; k++) ranks[order[k] ?? 0] = (i + j) / 2 + 1;
    i = j + 1;
  }
  let nPos = 0;
  let rankSum = 0;
  for (let k = 0; k < n; k++) {
    if (labels[k] === 1) {
      nPos++;
      rankSum += ranks[k] ?? 0;
    }
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return Number.NaN;
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

export interface SensSpec {
  sensitivity: number;
  specificity: number;
}

/** A score >= threshold counts as positive. */
export function sensSpec(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): SensSpec {
  let tp = 0;
  let pos = 0;
  let tn = 0;
  let neg = 0;
  for (let i = 0; i < scores.length; i++) {
    const predicted = (scores[i] ?? 0) >= threshold;
    if (labels[i] === 1) {
      pos++;
      if (predicted) tp++;
    } else {
      neg++;
      if (!predicted) tn++;
    }
  }
  return { sensitivity: tp / Math.max(pos, 1), specificity: tn / Math.max(neg, 1) };
}

/**
 * Expected calibration error over 10 equal-width bins, weighted by bin size. With `prevalence`, each positive
 * counts prevalence / (observed share) and each negative the complement, so a score calibrated to a stated
 * prevalence is judged at that prevalence rather than at this data's share of positives (as
 * models/thyroid-nodule/train/metrics.py).
 */
export function ece(probs: ArrayLike<number>, labels: ArrayLike<number>, bins = 10, prevalence?: number): number {
  let positives = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === 1) positives++;
  const share = labels.length > 0 ? positives / labels.length : 0;
  const reweight = prevalence !== undefined && share > 0 && share < 1;
  const wPos = reweight ? prevalence / share : 1;
  const wNeg = reweight ? (1 - prevalence) / (1 - share) : 1;
  const weight = new Float64Array(bins);
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i] ?? 0;
    const b = Math.min(Math.floor(p * bins), bins - 1);
    const w = labels[i] === 1 ? wPos : wNeg;
    weight[b] = (weight[b] ?? 0) + w;
    sumP[b] = (sumP[b] ?? 0) + w * p;
    sumY[b] = (sumY[b] ?? 0) + (labels[i] === 1 ? w : 0);
  }
  let total = 0;
  let mass = 0;
  for (let b = 0; b < bins; b++) {
    mass += weight[b] ?? 0;
    total += Math.abs((sumP[b] ?? 0) - (sumY[b] ?? 0));
  }
  return mass > 0 ? total / mass : 0;
}

export interface Interval {
  value: number;
  ci95: [number, number];
}

export interface ThresholdReport {
  threshold: number;
  sensitivity: Interval;
  specificity: Interval;
}

export interface MetricsReport {
  n: number;
  groups: number;
  auc: Interval;
  ece: Interval;
  thresholds: ThresholdReport[];
}

/** Small seeded PRNG (mulberry32) so that CIs are reproducible run to run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function percentile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  // Linear interpolation between closest ranks, as numpy.percentile's default.
  const pos = (q / 100) * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (s[lo] ?? 0) + ((s[hi] ?? 0) - (s[lo] ?? 0)) * (pos - lo);
}

/**
 * Point estimates with 95% percentile CIs from resampling whole groups (cases) with replacement:
 * crops of one case are correlated, so resampling crops would understate the uncertainty.
 */
export function bootstrapMetrics(
  probs: ArrayLike<number>,
  labels: ArrayLike<number>,
  groups: readonly string[],
  thresholds: readonly number[],
  resamples = 2000,
  seed = 20240604,
): MetricsReport {
  const members = new Map<string, number[]>();
  groups.forEach((g, i) => {
    const list = members.get(g);
    if (list) list.push(i);
    else members.set(g, [i]);
  });
  const keys = [...members.keys()].sort();
  const random = mulberry32(seed);
  const aucs: number[] = [];
  const eces: number[] = [];
  const sens: number[][] = thresholds.map(() => []);
  const spec: number[][] = thresholds.map(() => []);
  for (let r = 0; r < resamples; r++) {
    const p: number[] = [];
    const y: number[] = [];
    for (let k = 0; k < keys.length; k++) {
      const key = keys[Math.floor(random() * keys.length)] ?? '';
      for (const i of members.get(key) ?? []) {
        p.push(probs[i] ?? 0);
        y.push(labels[i] ?? 0);
      }
    }
    const a = auc(p, y);
    if (!Number.isNaN(a)) {
      aucs.push(a);
      thresholds.forEach((t, j) => {
        const s = sensSpec(p, y, t);
        sens[j]?.push(s.sensitivity);
        spec[j]?.push(s.specificity);
      });
    }
    eces.push(ece(p, y));
  }
  const interval = (value: number, samples: number[]): Interval => ({
    value,
    ci95: [percentile(samples, 2.5), percentile(samples, 97.5)],
  });
  return {
    n: probs.length,
    groups: keys.length,
    auc: interval(auc(probs, labels), aucs),
    ece: interval(ece(probs, labels), eces),
    thresholds: thresholds.map((t, j) => {
      const s = sensSpec(probs, labels, t);
      return {
        threshold: t,
        sensitivity: interval(s.sensitivity, sens[j] ?? []),
        specificity: interval(s.specificity, spec[j] ?? []),
      };
    }),
  };
}
