import { auc, bootstrapMetrics, ece, sensSpec } from './metrics';

describe('metrics', () => {
  it('computes AUC with mid-ranks for ties', () => {
    expect(auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
    expect(auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1])).toBe(0.5);
    // One positive tied with one negative: (1 + 0.5 + 1 + 1) / 4
    expect(auc([0.1, 0.5, 0.5, 0.9], [0, 0, 1, 1])).toBeCloseTo(0.875, 12);
    expect(auc([0.1, 0.2], [1, 1])).toBeNaN();
  });

  it('counts p >= threshold as positive', () => {
    expect(sensSpec([0.2, 0.5, 0.5, 0.9], [0, 0, 1, 1], 0.5)).toEqual({ sensitivity: 1, specificity: 0.5 });
  });

  it('computes ECE over 10 equal-width bins', () => {
    expect(ece([0.05, 0.95], [0, 1])).toBeCloseTo(0.05, 12);
    // Bin [0.7, 0.8): mean p 0.75, observed 0.5 -> |0.25| * 4/4
    expect(ece([0.75, 0.75, 0.75, 0.75], [1, 1, 0, 0])).toBeCloseTo(0.25, 12);
    expect(ece([1, 1], [1, 1])).toBe(0);
  });

  it('computes ECE at a stated prevalence: each class reweighted to it, as the training code does', () => {
    // Four positives of five at 0.75: observed 0.8, so 0.05 off; at a stated prevalence of 0.5 the four positives
    // weigh 0.5/0.8 each and the negative 0.5/0.2: observed share 0.5, 0.25 off.
    expect(ece([0.75, 0.75, 0.75, 0.75, 0.75], [1, 1, 1, 1, 0])).toBeCloseTo(0.05, 12);
    expect(ece([0.75, 0.75, 0.75, 0.75, 0.75], [1, 1, 1, 1, 0], 10, 0.5)).toBeCloseTo(0.25, 12);
    // At the observed share it is the plain ECE; the same vector as models/thyroid-nodule/train/metrics.py gives.
    const p = [0.05, 0.15, 0.32, 0.38, 0.55, 0.62, 0.91, 0.97, 0.45, 0.12];
    const y = [0, 1, 1, 0, 1, 1, 1, 1, 0, 1];
    expect(ece(p, y, 10, 0.7)).toBeCloseTo(ece(p, y), 12);
    expect(ece(p, y)).toBeCloseTo(0.348, 12);
    expect(ece(p, y, 10, 0.3)).toBeCloseTo(0.29104761904761905, 12);
  });

  it('bootstraps over groups with CIs around the point estimate', () => {
    const p: number[] = [];
    const y: number[] = [];
    const g: string[] = [];
    for (let i = 0; i < 60; i++) {
      y.push(i % 3 === 0 ? 0 : 1);
      p.push(((i * 37) % 60) / 60 + (i % 3 === 0 ? 0 : 0.3));
      g.push(String(Math.floor(i / 2)));
    }
    const r = bootstrapMetrics(p, y, g, [0.5], 500, 1);
    expect(r.groups).toBe(30);
    expect(r.auc.ci95[0]).toBeLessThanOrEqual(r.auc.value);
    expect(r.auc.ci95[1]).toBeGreaterThanOrEqual(r.auc.value);
    expect(r.thresholds[0]?.sensitivity.value).toBe(sensSpec(p, y, 0.5).sensitivity);
    expect(bootstrapMetrics(p, y, g, [0.5], 500, 1)).toEqual(r);
  });
});
