"""The served path in Python (mirrored by packages/nodule-model/src/triage.model.ts), the combiner fit,
the served-path metrics and the manifest."""
import hashlib
import json
import math
import os
import numpy as np
import torch

import geometry as G
import nets
import triage_data as D
from metrics import auc, bootstrap, ece, reliability_bins

SEG_THRESHOLD = 0.5      # nodule map cells at or above this form candidates
MIN_CELLS = 2            # smaller components are speckle
MAX_CANDIDATES = 3       # per frame, most confident first
COLOUR_FRACTION_MAX = 0.01
FEATURES = ['suspicion_logit', 'composition_points', 'echogenicity_points', 'margin_points', 'echogenicFoci_points', 'shape_points']
STATED_PREVALENCE = 0.30


def frame_forward(fnet, gray):
    x = torch.from_numpy(G.normalise(G.letterbox(gray))[None, None])
    m, g = nets.FrameExport(fnet)(x)
    return m[0, 0].numpy().astype(np.float64), float(g[0, 0])


def nodule_forward(nnet, gray, box):
    x = torch.from_numpy(G.normalise(G.crop(gray.astype(np.float64), box))[None, None])
    outs = nets.NoduleExport(nnet)(x)
    probs = {k: outs[i][0].numpy().astype(np.float64).tolist() for i, k in enumerate(nets.HEADS)}
    return probs, float(outs[-1][0, 0])


def candidate_features(c):
    f = [c['suspicion_logit']]
    for k in nets.HEADS:
        f.append(float(np.dot(c['probs'][k], nets.POINTS[k])))
    f.append(3.0 if c['taller'] else 0.0)
    return f


def analyse_frame(fnet, nnet, gray):
    h, w = gray.shape
    prob, gate = frame_forward(fnet, gray)
    comps = [c for c in G.components(prob, SEG_THRESHOLD) if len(c[0]) >= MIN_CELLS]
    comps.sort(key=lambda c: -c[1])
    cands = []
    for cells, conf in comps[:MAX_CANDIDATES]:
        box = G.cells_box(cells, w, h)
        if box[2] - box[0] < 1 or box[3] - box[1] < 1:
            continue
        probs, susp = nodule_forward(nnet, gray, box)
        c = {'confidence': conf, 'box': box, 'probs': probs, 'suspicion_logit': susp,
             'taller': (box[3] - box[1]) > (box[2] - box[0])}
        c['features'] = candidate_features(c)
        cands.append(c)
    return {'gate': gate, 'candidates': cands, 'width': w, 'height': h}


# ---------------------------------------------------------------- combiner
def fit_logreg(X, y, l2=1.0, w=None):
    """L2 logistic regression (Newton), standardised features; returns (mean, std, coef, bias)."""
    mu, sd = X.mean(0), X.std(0) + 1e-6
    Z = (X - mu) / sd
    n, d = Z.shape
    w = np.ones(n) if w is None else w
    A = np.hstack([Z, np.ones((n, 1))])
    beta = np.zeros(d + 1)
    reg = np.eye(d + 1) * l2
    reg[d, d] = 0
    for _ in range(50):
        p = 1 / (1 + np.exp(-A @ beta))
        g = A.T @ (w * (p - y)) + reg @ beta
        H = (A * (w * p * (1 - p))[:, None]).T @ A + reg
        step = np.linalg.solve(H, g)
        beta -= step
        if np.abs(step).max() < 1e-9:
            break
    return mu, sd, beta[:d], beta[d]


def apply_logreg(m, X):
    mu, sd, coef, bias = m
    return ((X - mu) / sd) @ coef + bias


def balanced_weights(y):
    pos = y.mean()
    return np.where(y == 1, 0.5 / pos, 0.5 / (1 - pos))


def prevalence_offset(p):
    return math.log(p / (1 - p))


def frame_score(cands, conf_thr, combiner, how):
    confident = [c for c in cands if c['confidence'] >= conf_thr]
    if not confident:
        return None
    z = apply_logreg(combiner, np.array([c['features'] for c in confident]))
    if how == 'most-confident':
        return float(z[0])
    return float(z.max())


def sigmoid(z):
    return 1 / (1 + np.exp(-np.asarray(z, dtype=np.float64)))


def case_max(scores, cases):
    best = {}
    for s, c in zip(scores, cases):
        best[c] = max(best.get(c, -1.0), s)
    keys = sorted(best)
    return keys, np.array([best[k] for k in keys])


def fit_and_report(frames, others, oof, ffold):
    K = int(ffold.max()) + 1
    rep = {}
    # ---- gate (image level; the study gate takes the median over a study's B-mode images)
    g_pos = np.array([r['gate'] for r in oof['frames']])
    g_neg = np.array([r['gate'] for r in oof['others']])
    colour_neg = np.array([o['colour'] > COLOUR_FRACTION_MAX for o in others])
    y_gate = np.r_[np.ones(len(g_pos)), np.zeros(len(g_neg))]
    rep['gate_auc'] = auc(np.r_[g_pos, g_neg], y_gate)
    # Threshold: reject every out-of-fold non-thyroid image if that keeps >= 90 % of thyroid frames;
    # otherwise the threshold at 90 % thyroid sensitivity.
    cand = np.sort(g_neg[~colour_neg])[-1] + 1e-4 if (~colour_neg).any() else 0.5
    gate_thr = float(min(cand, np.quantile(g_pos, 0.10))) if (g_pos >= cand).mean() < 0.90 else float(cand)
    gate_thr = float(max(gate_thr, 0.5))
    passed_neg = (g_neg >= gate_thr) & ~colour_neg
    by_source = {}
    for o, p in zip(others, passed_neg):
        s = by_source.setdefault(o['source'], {'n': 0, 'passed': 0})
        s['n'] += 1
        s['passed'] += int(p)
    rep['gate'] = {'threshold': round(gate_thr, 4), 'auc': round(rep['gate_auc'], 4),
                   'thyroid_frames_passed': round(float((g_pos >= gate_thr).mean()), 4),
                   'others_passed': int(passed_neg.sum()), 'others_n': len(others), 'by_source': by_source}

    # ---- locator hit rate (top candidate, box IoU >= 0.3 with an outlined nodule)
    hits, confident_top = [], []
    for f, r in zip(frames, oof['frames']):
        gt = D.components_of(f['mask'])
        top = r['candidates'][0] if r['candidates'] else None
        hits.append(bool(top and gt and max(G.box_iou(top['box'], b) for b in gt) >= 0.3))
        confident_top.append(top['confidence'] if top else 0.0)
    hits = np.array(hits)
    confident_top = np.array(confident_top)

    # ---- combiner, cross-fitted; choose the confidence threshold and the aggregation on OOF
    lab = np.array([f['label'] is not None for f in frames])
    y = np.array([f['label'] if f['label'] is not None else -1 for f in frames])
    cases = np.array([f['case'] for f in frames])
    best = None
    for conf_thr in (0.5, 0.6, 0.7, 0.8):
        for how in ('most-confident', 'max-score'):
            logits = np.full(len(frames), np.nan)
            for k in range(K):
                tr = [i for i in np.where(lab & (ffold != k))[0] if oof['frames'][i]['candidates']]
                X = np.array([oof['frames'][i]['candidates'][0]['features'] for i in tr])
                yy = y[tr].astype(float)
                m = fit_logreg(X, yy, 1.0, balanced_weights(yy))
                for i in np.where(lab & (ffold == k))[0]:
                    s = frame_score(oof['frames'][i]['candidates'], conf_thr, m, how)
                    logits[i] = s if s is not None else -np.inf
            idx = np.where(lab)[0]
            kc, sc = case_max(logits[idx], cases[idx])
            yc = np.array([y[idx][cases[idx] == c][0] for c in kc])
            a = auc(np.where(np.isfinite(sc), sc, -1e9), yc)
            if best is None or a > best[0] + 1e-9:
                best = (a, conf_thr, how, logits.copy())
    a_case, conf_thr, how, logits = best
    # Final combiner on all OOF top candidates, with the stated prevalence.
    tr = [i for i in np.where(lab)[0] if oof['frames'][i]['candidates']]
    X = np.array([oof['frames'][i]['candidates'][0]['features'] for i in tr])
    yy = y[tr].astype(float)
    combiner = fit_logreg(X, yy, 1.0, balanced_weights(yy))
    offset = prevalence_offset(STATED_PREVALENCE)
    idx = np.where(lab)[0]
    p_img = np.where(np.isfinite(logits[idx]), sigmoid(logits[idx] + offset), 0.0)
    y_img = y[idx]
    kc, p_case = case_max(p_img, cases[idx])
    y_case = np.array([y_img[cases[idx] == c][0] for c in kc])
    triage_thr = threshold_for_sensitivity(p_case, y_case, 0.95)
    urgent_thr = threshold_for_specificity(p_case, y_case, 0.90)
    no_nodule = int((~np.isfinite(logits[idx])).sum())

    rep['served'] = {
        'aggregation': how, 'confidence_threshold': conf_thr,
        'image': bootstrap(p_img, y_img, cases[idx], [triage_thr, urgent_thr]),
        'case': bootstrap(p_case, y_case, np.array(kc), [triage_thr, urgent_thr]),
        'no_nodule_found_labelled_frames': no_nodule,
        'reliability_case': reliability_bins(p_case, y_case),
    }
    rep['thresholds'] = {'triage': triage_thr, 'urgent': urgent_thr}
    rep['locator'] = {'hit_rate': round(float(hits.mean()), 4), 'n': int(len(hits)),
                      'hit_rate_labelled': round(float(hits[lab].mean()), 4),
                      'confident_top': round(float((confident_top >= conf_thr).mean()), 4),
                      'hit_rate_ci95': boot_mean(hits, cases)}
    # learned-only and lexicon-only views of the same OOF (what drives the score)
    rep['heads'] = head_metrics(frames, oof, hits)
    rep['combiner'] = {'features': FEATURES, 'coef': [round(float(c), 4) for c in combiner[2]]}
    rep['summary'] = {
        'case_auc': rep['served']['case']['auc'], 'image_auc': rep['served']['image']['auc'],
        'locator_hit_rate': rep['locator']['hit_rate'], 'gate': {k: rep['gate'][k] for k in ('threshold', 'auc', 'thyroid_frames_passed', 'others_passed', 'others_n')},
        'thresholds': rep['served']['case']['thresholds'], 'aggregation': how, 'confidence_threshold': conf_thr,
        'no_nodule_found_labelled_frames': no_nodule,
    }
    return rep, {'model': combiner, 'offset': offset, 'conf_thr': conf_thr, 'how': how,
                 'gate_thr': gate_thr, 'triage': triage_thr, 'urgent': urgent_thr}


def boot_mean(v, groups, n=2000, seed=0):
    rng = np.random.RandomState(seed)
    uniq = np.array(sorted(set(groups)))
    members = {g: np.where(groups == g)[0] for g in uniq}
    means = []
    for _ in range(n):
        pick = rng.randint(0, len(uniq), len(uniq))
        idx = np.concatenate([members[uniq[i]] for i in pick])
        means.append(v[idx].mean())
    return [round(float(np.percentile(means, 2.5)), 4), round(float(np.percentile(means, 97.5)), 4)]


def head_metrics(frames, oof, hits):
    """Per lexicon head on the served path's top candidate where it hit the outlined nodule."""
    out = {}
    for k, cats in nets.HEADS.items():
        P, T = [], []
        for f, r, h in zip(frames, oof['frames'], hits):
            t = f['lexicon'][k]
            if t is None or not h:
                continue
            P.append(r['candidates'][0]['probs'][k])
            T.append(t)
        if not T:
            continue
        P, T = np.array(P), np.array(T)
        acc = float((P.argmax(1) == T).mean())
        per = {}
        for j, c in enumerate(cats):
            yb = (T == j).astype(int)
            per[c] = {'n': int(yb.sum()), 'auc_one_vs_rest': round(auc(P[:, j], yb), 4) if 0 < yb.sum() < len(yb) else None}
        majority = float(np.bincount(T, minlength=len(cats)).max() / len(T))
        out[k] = {'n': int(len(T)), 'accuracy': round(acc, 4), 'majority_class_accuracy': round(majority, 4), 'categories': per}
    return out


def threshold_for_sensitivity(p, y, target):
    pos = np.sort(p[y == 1])
    k = int(math.floor((1 - target) * len(pos)))
    return float(pos[k]) if len(pos) else 0.5


def threshold_for_specificity(p, y, target):
    neg = np.sort(p[y == 0])
    k = int(math.ceil(target * len(neg))) - 1
    return float(min(1.0, neg[min(max(k, 0), len(neg) - 1)] + 1e-6)) if len(neg) else 0.9


def sha256(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


def write_manifest(out, rep, comb, seconds, n_frames, n_others):
    mu, sd, coef, bias = comb['model']
    man = {
        'id': 'thyroid-triage-whole-frame',
        'version': '2.0.0',
        'task': 'Triage of thyroid ultrasound studies by P(radiologist TI-RADS >= 4) of the most suspicious confident nodule; reading order, not diagnosis',
        'files': {'frame': {'file': 'frame.onnx', 'sha256': sha256(os.path.join(out, 'frame.onnx'))},
                  'nodule': {'file': 'nodule.onnx', 'sha256': sha256(os.path.join(out, 'nodule.onnx'))}},
        'opset': 17,
        'frame': {'input': 'image', 'width': G.FRAME_W, 'height': G.FRAME_H, 'stride': G.FRAME_STRIDE,
                  'normalisation': {'mean': G.MEAN, 'std': G.STD, 'formula': '(gray / 255 - mean) / std'},
                  'geometry': 'letterbox: box-filter resize by min(width/w, height/h), centred, padding 0',
                  'outputs': {'noduleMap': 'nodule_prob', 'thyroid': 'thyroid_prob'}},
        'nodule': {'input': 'crop', 'size': G.CROP, 'context': G.CROP_CONTEXT,
                   'heads': {k: {'output': k, 'categories': v, 'points': nets.POINTS[k]} for k, v in nets.HEADS.items()},
                   'suspicion': 'suspicion_logit'},
        'candidates': {'segThreshold': SEG_THRESHOLD, 'minCells': MIN_CELLS, 'maxCandidates': MAX_CANDIDATES,
                       'confidenceThreshold': comb['conf_thr'], 'aggregation': comb['how']},
        'gate': {'threshold': round(comb['gate_thr'], 6), 'colourFractionMax': COLOUR_FRACTION_MAX,
                 'studyRule': 'median thyroid probability over the study\'s B-mode images >= threshold'},
        'combiner': {'features': FEATURES, 'mean': [float(v) for v in mu], 'std': [float(v) for v in sd],
                     'coef': [float(v) for v in coef], 'bias': float(bias),
                     'prevalence': STATED_PREVALENCE, 'prevalenceOffset': comb['offset']},
        'thresholds': {
            'triage': {'value': round(comb['triage'], 6), 'rule': 'largest case-level threshold with sensitivity >= 0.95 on served-path cross-validation'},
            'urgent': {'value': round(comb['urgent'], 6), 'rule': 'smallest case-level threshold with specificity >= 0.90 on served-path cross-validation'},
        },
        'metrics': rep['summary'],
        'training': {'seconds': round(seconds), 'frames': n_frames, 'non_thyroid_frames': n_others,
                     'data': 'DDTI whole frames (thyroid/ddti-frames), ultrasound-other', 'folds': 'by ddti_case; negatives by source clip'},
    }
    with open(os.path.join(out, 'manifest.json'), 'w') as fh:
        json.dump(man, fh, indent=2)
        fh.write('\n')


def synthetic_frame(w=320, h=240):
    """Deterministic test frame (also built by packages/nodule-model/src/synthetic.ts)."""
    y, x = np.mgrid[0:h, 0:w]
    base = (x * 7 + y * 13 + (x * y) % 31) % 97 + 60
    dark = ((x - w * 0.45) / (w * 0.12)) ** 2 + ((y - h * 0.5) / (h * 0.14)) ** 2 < 1
    img = np.where(dark, base * 0.35, base)
    img[(x % 40 == 0) & (y < 12)] = 250
    return np.floor(img).astype(np.uint8)


def write_parity(fnet, nnet, frames, out):
    cases = [('synthetic', synthetic_frame())] + [(f['image'], f['gray']) for f in frames[:3]]
    rows = []
    with torch.no_grad():
        for name, g in cases:
            prob, gate = frame_forward(fnet, g)
            r = analyse_frame(fnet, nnet, g)
            rows.append({'image': name, 'width': int(g.shape[1]), 'height': int(g.shape[0]), 'thyroid': gate,
                         'mapSum': float(prob.sum()), 'mapMax': float(prob.max()),
                         'candidates': [{'confidence': c['confidence'], 'box': list(c['box']), 'probs': c['probs'],
                                         'suspicionLogit': c['suspicion_logit']} for c in r['candidates']]})
    with open(os.path.join(out, 'parity.json'), 'w') as fh:
        json.dump({'note': 'PyTorch served-path outputs for the TypeScript parity test', 'cases': rows}, fh, indent=1)
