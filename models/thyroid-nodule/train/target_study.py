"""Side experiment (session 33, not shipped): does a denser training target rank TI-RADS >= 4 better?

The box combiner is fitted on the binary label (TI-RADS >= 4 against 2-3), with 41 of 233 cases negative.
DDTI also records the level (2, 3, 4a, 4b, 4c, 5: Kwak's count of suspicious features) and the four lexicon
readings, which say which of those features the radiologist saw. This fits the same seven descriptors on
the radiologists' boxes (the named-box path, box_stage.py) to each target, cross-fitted on the same case
folds, and ranks cases by the fitted value (case maximum); each against the shipped binary fit, paired by
case (one set of 2000 resamples):

    /usr/bin/python3 models/thyroid-nodule/train/target_study.py [--data ../shared/data]

Under a minute on one core; nothing is written.
"""
import argparse
import os
import sys
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import box_stage as B  # noqa: E402
import served as S  # noqa: E402
import train_triage as TT  # noqa: E402
import triage_data as D  # noqa: E402
from metrics import auc  # noqa: E402

LEVEL = {'2': 0, '3': 1, '4a': 2, '4b': 3, '4c': 4, '5': 5}


def ridge(X, t, w, alpha=1.0):
    """Weighted ridge regression on standardised features; returns a scorer."""
    mu, sd = X.mean(0), X.std(0) + 1e-6
    A = np.hstack([(X - mu) / sd, np.ones((len(X), 1))])
    reg = np.eye(A.shape[1]) * alpha
    reg[-1, -1] = 0
    beta = np.linalg.solve((A * w[:, None]).T @ A + reg, (A * w[:, None]).T @ t)
    return lambda Z: np.hstack([(Z - mu) / sd, np.ones((len(Z), 1))]) @ beta


def main():
    root = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=os.path.abspath(os.path.join(root, '../../../../shared/data')))
    args = ap.parse_args()
    frames = D.load_frames(os.path.join(args.data, 'thyroid/ddti-frames'))
    ffold, _ = TT.make_folds(frames, [])
    rows = B.box_rows(frames)
    X = np.stack([r['x'] for r in rows])
    y = np.array([r['label'] for r in rows], dtype=np.float64)
    level = np.array([LEVEL[frames[r['frame']]['tirads']] for r in rows], dtype=np.float64)
    lex = [frames[r['frame']]['lexicon'] for r in rows]
    # Kwak's suspicious features that DDTI's readings name (taller-than-wide is not recorded).
    count = np.array([(x['composition'] == 3) + (x['echogenicity'] in (1, 2)) + (x['margin'] in (1, 2)) + (x['echogenicFoci'] == 2) for x in lex], dtype=np.float64)
    fold = np.array([ffold[r['frame']] for r in rows])
    cases = np.array([r['case'] for r in rows])

    def binary(tr, te):
        return S.apply_logreg(S.fit_logreg(X[tr], y[tr], S.L2, S.balanced_weights(y[tr])), X[te])

    def cumulative(tr, te):
        # One balanced logistic model per cut of the level, their probabilities summed (expected level).
        total = np.zeros(int(te.sum()))
        for cut in range(1, 6):
            t = (level[tr] >= cut).astype(np.float64)
            total += S.sigmoid(S.apply_logreg(S.fit_logreg(X[tr], t, S.L2, S.balanced_weights(t)), X[te]))
        return total

    def regress(target):
        return lambda tr, te: ridge(X[tr], target[tr], S.balanced_weights(y[tr]))(X[te])

    fits = {
        'binary logistic (the shipped box combiner)': binary,
        'ridge on the binary label (a control: the loss alone)': regress(y),
        'ridge on the TI-RADS level (0-5)': regress(level),
        'cumulative logistic on the level': cumulative,
        'ridge on the count of suspicious lexicon readings': regress(count),
    }
    keys = sorted(set(cases))
    y_case = np.array([y[cases == c][0] for c in keys])
    scores = {}
    for name, fit in fits.items():
        z = np.zeros(len(rows))
        for k in range(int(fold.max()) + 1):
            tr, te = fold != k, fold == k
            z[te] = fit(tr, te)
        scores[name] = np.array([z[cases == c].max() for c in keys])
    rng = np.random.RandomState(0)
    picks = [p for p in (rng.randint(0, len(keys), len(keys)) for _ in range(2000)) if len(set(y_case[p])) == 2]
    base = scores['binary logistic (the shipped box combiner)']
    print(f'{len(rows)} outlined nodules, {len(keys)} cases ({int((y_case == 0).sum())} TI-RADS 2-3)')
    for name, s in scores.items():
        d = [auc(s[p], y_case[p]) - auc(base[p], y_case[p]) for p in picks]
        lo, hi = np.percentile(d, [2.5, 97.5])
        print(f'{name:55s} case AUC {auc(s, y_case):.3f}   paired {auc(s, y_case) - auc(base, y_case):+.3f} ({lo:+.3f} to {hi:+.3f})')


if __name__ == '__main__':
    main()
