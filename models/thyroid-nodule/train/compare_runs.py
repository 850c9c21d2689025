"""Paired comparison of two served-path cross-validations on the same folds.

    TRIAGE_OOF_SCORES=/tmp/a.json train_triage.py ...   # run A (e.g. TRIAGE_FRAME_SEEDS=1)
    TRIAGE_OOF_SCORES=/tmp/b.json train_triage.py ...   # run B (e.g. TRIAGE_FRAME_SEEDS=3)
    /usr/bin/python3 compare_runs.py /tmp/a.json /tmp/b.json

Prints each run's case AUC and locator hit rate and the difference B - A with a 95 % interval from
2000 bootstrap resamples of cases, drawn once and applied to both runs (paired): two runs of one
recipe differ by about 0.06 in case AUC from training noise alone, so unpaired intervals say little.
The score files hold labels: keep them outside the repository.
"""
import json
import sys
import numpy as np
from metrics import auc


def load(path):
    with open(path) as fh:
        return json.load(fh)


def main(a_path, b_path, n_boot=2000, seed=0):
    a, b = load(a_path), load(b_path)
    cases = sorted(set(a['case']) & set(b['case']))
    ya = np.array([a['case'][c][1] for c in cases])
    pa = np.array([a['case'][c][0] for c in cases])
    pb = np.array([b['case'][c][0] for c in cases])
    images = sorted(set(a['hits']) & set(b['hits']))
    ha = np.array([a['hits'][i] for i in images], dtype=float)
    hb = np.array([b['hits'][i] for i in images], dtype=float)
    image_case = np.array([a['case_of'][i] for i in images])
    rng = np.random.RandomState(seed)
    all_cases = sorted(set(image_case))
    rows = {c: np.where(image_case == c)[0] for c in all_cases}
    d_auc, d_hit = [], []
    for _ in range(n_boot):
        pick = rng.randint(0, len(cases), len(cases))
        if len(set(ya[pick])) == 2:
            d_auc.append(auc(pb[pick], ya[pick]) - auc(pa[pick], ya[pick]))
        drawn = np.concatenate([rows[all_cases[j]] for j in rng.randint(0, len(all_cases), len(all_cases))])
        d_hit.append(hb[drawn].mean() - ha[drawn].mean())
    lo, hi = np.percentile(d_auc, [2.5, 97.5])
    print(f'case AUC: A {auc(pa, ya):.3f}  B {auc(pb, ya):.3f}  B-A {auc(pb, ya) - auc(pa, ya):+.3f} (95% CI {lo:+.3f} to {hi:+.3f}), {len(cases)} cases')
    lo, hi = np.percentile(d_hit, [2.5, 97.5])
    print(f'locator hit rate: A {ha.mean():.3f}  B {hb.mean():.3f}  B-A {hb.mean() - ha.mean():+.3f} (95% CI {lo:+.3f} to {hi:+.3f}), {len(images)} frames')


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
