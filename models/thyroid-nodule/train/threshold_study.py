"""How the segmentation threshold of the candidates changes the served-path score, on one set of
out-of-fold nodule maps (train_triage.py --frame-cache DIR writes them): for each threshold the case AUC
of the cross-fitted combiner (the served rule: max over confident candidates), the paired
case-bootstrap difference against 0.5 (3.1.0's rule), and a nested choice (each outer fold's threshold
picked by inner cross-validation on the other four folds) so the chosen figure is not optimistic.

    /usr/bin/python3 models/thyroid-nodule/train/threshold_study.py --frame-cache DIR [--data DIR]

The single-threshold figures in the model card come from this script (3.3.0 then keeps 0.5 for the candidates and reads the score at 0.1).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import descriptors as DS  # noqa: E402
import geometry as G  # noqa: E402
import served as S  # noqa: E402
import train_triage as T  # noqa: E402
import triage_data as D  # noqa: E402
from metrics import auc  # noqa: E402

THRESHOLDS = (0.1, 0.15, 0.2, 0.3, 0.5)


def main():
    ap = argparse.ArgumentParser()
    root = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument('--data', default=os.path.abspath(os.path.join(root, '../../../../shared/data')))
    ap.add_argument('--frame-cache', required=True)
    args = ap.parse_args()
    frames = D.load_frames(os.path.join(args.data, 'thyroid/ddti-frames'))
    others = D.load_others(os.path.join(args.data, 'ultrasound-other'))
    ffold, _ = T.make_folds(frames, others)
    maps = {}
    for k in range(T.K):
        z = np.load(os.path.join(args.frame_cache, f'fold{k}.npz'))
        for j, i in enumerate(np.where(ffold == k)[0]):
            maps[i] = z['maps'][j]
    lab = np.array([f['label'] is not None for f in frames])
    y = np.array([f['label'] if f['label'] is not None else -1 for f in frames])
    cases = np.array([f['case'] for f in frames])
    cache = {}

    def candidates(thr):
        if thr not in cache:
            rows = []
            for i, f in enumerate(frames):
                g = f['gray']
                h, w = g.shape
                comps = sorted((c for c in G.components(maps[i], thr) if len(c[0]) >= S.MIN_CELLS), key=lambda c: -c[1])
                out = []
                for cells, conf in comps[:S.MAX_CANDIDATES]:
                    box = G.cells_box(cells, w, h)
                    region = DS.ellipse_mask(w, h, box) if box[2] - box[0] >= 1 and box[3] - box[1] >= 1 else None
                    if region is not None and region.any():
                        # One threshold for everything: the candidate's box is also its score region.
                        d = DS.describe(g, region)
                        out.append({'confidence': conf, 'box': box, 'descriptors': d, 'score_descriptors': d})
                rows.append({'candidates': out})
            cache[thr] = {'frames': rows, 'others': []}
        return cache[thr]

    def scores(thr, train_folds, test_folds):
        oof = candidates(thr)
        out = {}
        for k in test_folds:
            tr = np.array([i for i in range(len(frames)) if ffold[i] in train_folds and ffold[i] != k])
            _, comb = S.fit_models(frames, oof, tr)
            for i in np.where(ffold == k)[0]:
                if not lab[i]:
                    continue
                cs = [c for c in oof['frames'][i]['candidates'] if c['confidence'] >= S.CONFIDENCE_THRESHOLD]
                out[i] = float(S.apply_logreg(comb, np.array([c['descriptors'] for c in cs])).max()) if cs else -1e9
        return out

    def by_case(sc):
        best = {}
        for i, s in sc.items():
            best[cases[i]] = max(best.get(cases[i], -1e9), s)
        keys = sorted(best)
        return np.array([best[c] for c in keys]), np.array([y[np.where(cases == c)[0][0]] for c in keys])

    folds = list(range(T.K))
    full = {t: by_case(scores(t, set(folds), folds)) for t in THRESHOLDS}
    base, yc = full[0.5]
    rng = np.random.RandomState(0)
    boots = [b for b in (rng.randint(0, len(yc), len(yc)) for _ in range(2000)) if 0 < yc[b].sum() < len(b)]
    for t in THRESHOLDS:
        p = full[t][0]
        d = [auc(p[b], yc[b]) - auc(base[b], yc[b]) for b in boots]
        a = [auc(p[b], yc[b]) for b in boots]
        print(f'threshold {t:4}: case AUC {auc(p, yc):.3f} ({np.percentile(a, 2.5):.3f}-{np.percentile(a, 97.5):.3f}), '
              f'paired difference against 0.5 {auc(p, yc) - auc(base, yc):+.3f} ({np.percentile(d, 2.5):+.3f} to {np.percentile(d, 97.5):+.3f})', flush=True)
    outer = {}
    for k in folds:
        inner = [f for f in folds if f != k]
        inner_auc = {t: auc(*by_case(scores(t, set(inner), inner))) for t in THRESHOLDS}
        pick = max(THRESHOLDS, key=lambda t: inner_auc[t])
        print(f'outer fold {k}: inner case AUC ' + ', '.join(f'{t}: {a:.3f}' for t, a in inner_auc.items()) + f' -> {pick}', flush=True)
        outer.update(scores(pick, set(folds), [k]))
    print(f'nested (threshold chosen inside each training split): case AUC {auc(*by_case(outer)):.3f}')


if __name__ == '__main__':
    main()
