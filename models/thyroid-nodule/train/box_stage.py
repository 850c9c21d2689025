"""The named-box path (3.4.0): the score of a nodule someone has boxed, a reader in the viewer
(reader-guided scoring) or a crop's mask (`eval:model`).

Up to 3.3.0 a named box was scored like an automatic candidate: the suspicion combiner, fitted on the
frame network's large score regions (the map component at 0.1, most of a lobe), read the box grown
1.37x per side. Measured on the radiologists' own boxes (the bounding box of each outline, case-level,
folds of train_triage.py) that gives case AUC 0.48: the combiner had learned the surroundings of a
lobe, not a nodule. This stage fits a second logistic model, the box combiner, on the descriptors of
the ellipse inscribed in each outlined nodule's box (the region `descriptors` already measures for the
lexicon heads), cross-fitted by case for the figures, and chooses the named-box thresholds on those
cross-fitted case scores by the served path's rules.

    /usr/bin/python3 models/thyroid-nodule/train/box_stage.py [--data ../shared/data] [--out models/thyroid-nodule]

updates manifest.json (boxCombiner, version), cv-served.json (box_path) and parity.json (readerBox) in
place; train_triage.py runs the same after its own stages. Minutes on one core; no network trained.
"""
import argparse
import json
import os
import sys
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import descriptors as DS  # noqa: E402
import served as S  # noqa: E402
import triage_data as D  # noqa: E402
from metrics import bootstrap  # noqa: E402

VERSION = '3.6.0'
# The synthetic frame's reader box in parity.json (also in packages/nodule-model's parity test).
PARITY_BOX = (100.0, 80.0, 190.0, 160.0)


def box_rows(frames):
    """One row per outlined nodule of every labelled frame: its box's inscribed-ellipse descriptors."""
    rows = []
    for i, f in enumerate(frames):
        if f['label'] is None:
            continue
        h, w = f['gray'].shape
        for b in S.gt_boxes(f):
            rows.append({'frame': i, 'case': f['case'], 'label': f['label'], 'box': b,
                         'x': DS.describe(f['gray'], DS.ellipse_mask(w, h, b))})
    return rows


def case_scores(p, rows):
    cases = np.array([r['case'] for r in rows])
    kc, p_case = S.case_max(p, cases)
    y_case = np.array([next(r['label'] for r in rows if r['case'] == c) for c in kc])
    return np.array(kc), p_case, y_case


def fit_box_stage(frames, ffold, old_combiner=None, old_scale=None):
    """Cross-fitted figures, thresholds and the final box combiner (fitted on every labelled nodule)."""
    rows = box_rows(frames)
    X = np.stack([r['x'] for r in rows])
    y = np.array([r['label'] for r in rows], dtype=np.float64)
    fold = np.array([ffold[r['frame']] for r in rows])
    offset = S.prevalence_offset(S.STATED_PREVALENCE)
    z = np.zeros(len(rows))
    for k in range(int(ffold.max()) + 1):
        tr, te = fold != k, fold == k
        z[te] = S.apply_logreg(S.fit_logreg(X[tr], y[tr], S.L2, S.balanced_weights(y[tr])), X[te])
    p = S.sigmoid(z + offset)
    kc, p_case, y_case = case_scores(p, rows)
    triage = S.threshold_for_sensitivity(p_case, y_case, 0.95)
    urgent = S.threshold_for_specificity(p_case, y_case, 0.90)
    report = {
        'what': 'the box combiner on the radiologists\' boxes (bounding box of each outline), cross-fitted by case',
        'nodules': len(rows),
        'case': bootstrap(p_case, y_case, kc, [triage, urgent]),
        'image_nodule': bootstrap(p, y.astype(int), np.array([r['case'] for r in rows]), [triage, urgent]),
    }
    if old_combiner is not None:
        # The 3.3.0 named-box path on the same boxes: the frame combiner on the box grown old_scale per side.
        mu, sd, coef, bias = (np.array(old_combiner['mean']), np.array(old_combiner['std']), np.array(old_combiner['coef']), old_combiner['bias'])
        zo = []
        for r in rows:
            g = frames[r['frame']]['gray']
            h, w = g.shape
            sb = S.reader_score_box(r['box'], w, h, old_scale)
            zo.append(float(((DS.describe(g, DS.ellipse_mask(w, h, sb)) - mu) / sd) @ coef + bias))
        okc, op_case, oy_case = case_scores(S.sigmoid(np.array(zo) + offset), rows)
        report['previous_path_same_boxes'] = {
            'what': f'3.3.0: the frame combiner (fitted on all frames) on the box grown {old_scale} per side',
            'case': bootstrap(op_case, oy_case, okc, [])}
    model = S.fit_logreg(X, y, S.L2, S.balanced_weights(y))
    report['thresholds'] = {'triage': triage, 'urgent': urgent}
    return report, {'model': model, 'offset': offset, 'triage': triage, 'urgent': urgent}


def box_threshold_rules(report, fit):
    urgent = S.urgent_threshold({'served': {'case': report['case']}}, fit['urgent'])
    return {
        'triage': {'value': round(fit['triage'], 6), 'rule': 'largest case-level threshold with sensitivity >= 0.95 on the cross-fitted named-box scores'},
        'urgent': {**urgent, 'rule': urgent['rule'].replace('served-path cross-validation', 'the cross-fitted named-box scores')},
    }


def manifest_entry(report, fit):
    mu, sd, coef, bias = fit['model']
    return {'features': DS.NAMES, 'mean': [float(v) for v in mu], 'std': [float(v) for v in sd],
            'coef': [float(v) for v in coef], 'bias': float(bias),
            'prevalence': S.STATED_PREVALENCE, 'prevalenceOffset': fit['offset'],
            'region': 'the ellipse inscribed in the named box (a reader\'s box, a crop\'s mask box), the lexicon heads\' region',
            'thresholds': box_threshold_rules(report, fit),
            'metrics': {'case_auc': report['case']['auc'], 'nodules': report['nodules']}}


def apply_to_manifest(man, report, fit):
    man['version'] = VERSION
    man['boxCombiner'] = manifest_entry(report, fit)
    man['candidates'].pop('readerBoxScoreScale', None)
    man['candidates']['scoreRegion'] = ('the ellipse inscribed in the box of the map component at scoreThreshold that contains the candidate; '
                                        'a named box (reader, crop) is scored on its own ellipse by boxCombiner')
    return man


def parity_reader_box(fit, previous):
    """The synthetic frame's reader box through the named-box path (packages/nodule-model parity test):
    write_parity's entry (box, descriptors, heads) with the score region and score of this path."""
    g = S.synthetic_frame()
    h, w = g.shape
    d = DS.describe(g, DS.ellipse_mask(w, h, PARITY_BOX))
    named = {n: float(v) for n, v in zip(DS.NAMES, d)}
    return {**previous, 'box': list(PARITY_BOX), 'descriptors': named, 'scoreBox': list(PARITY_BOX), 'scoreDescriptors': named,
            'score': float(S.sigmoid(S.apply_logreg(fit['model'], d[None])[0] + fit['offset']))}


def update_outputs(out, frames, ffold):
    """Rewrite the box-path parts of manifest.json, cv-served.json and parity.json in `out`."""
    mpath = os.path.join(out, 'manifest.json')
    man = json.load(open(mpath))
    cv_path = os.path.join(out, 'cv-served.json')
    cv = json.load(open(cv_path))
    previous = cv.get('box_path', {}).get('previous_path_same_boxes')
    old_scale = man['candidates'].get('readerBoxScoreScale')
    report, fit = fit_box_stage(frames, ffold, man['combiner'] if old_scale else None, old_scale)
    if previous and 'previous_path_same_boxes' not in report:
        report['previous_path_same_boxes'] = previous  # measured when 3.3.0's manifest was still there
    cv['box_path'] = report
    with open(cv_path, 'w') as fh:
        json.dump(cv, fh, indent=1)
    with open(mpath, 'w') as fh:
        json.dump(apply_to_manifest(man, report, fit), fh, indent=2)
        fh.write('\n')
    ppath = os.path.join(out, 'parity.json')
    parity = json.load(open(ppath))
    parity['readerBox'] = parity_reader_box(fit, parity['readerBox'])
    with open(ppath, 'w') as fh:
        json.dump(parity, fh, indent=1)
    return report


def main():
    import train_triage as TT
    root = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=os.path.abspath(os.path.join(root, '../../../../shared/data')))
    ap.add_argument('--out', default=os.path.abspath(os.path.join(root, '..')))
    args = ap.parse_args()
    frames = D.load_frames(os.path.join(args.data, 'thyroid/ddti-frames'))
    ffold, _ = TT.make_folds(frames, [])
    report = update_outputs(args.out, frames, ffold)
    print(json.dumps({k: report[k] for k in ('nodules', 'case')}, indent=1))
    if 'previous_path_same_boxes' in report:
        print('3.3.0 path on the same boxes:', json.dumps(report['previous_path_same_boxes']['case']['auc']))


if __name__ == '__main__':
    main()
