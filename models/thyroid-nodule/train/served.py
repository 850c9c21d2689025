"""The served path in Python (mirrored by packages/nodule-model/src/triage.model.ts), the fits of the
lexicon heads and the suspicion combiner on measured descriptors, the served-path metrics and the manifest.

Served path: FrameNet -> gate and nodule map -> candidates (connected components of the map, most
confident first) -> each candidate's region on the full-resolution frame -> descriptors.py -> the
lexicon heads (one multinomial logistic model per ACR item) and the suspicion combiner (a logistic
model on the same descriptors) -> the study's most suspicious confident nodule.
"""
import hashlib
import json
import math
import os
import numpy as np
import torch

import descriptors as DS
import geometry as G
import nets
import triage_data as D
from metrics import auc, bootstrap, ece, reliability_bins

SEG_THRESHOLD = 0.5      # nodule map cells at or above this form candidates: the box a reader is shown, the lexicon heads
# The score reads a larger region: the component at this level that contains the candidate (3.3.0; see the card).
SCORE_THRESHOLD = 0.1
MIN_CELLS = 2            # smaller components are speckle
MAX_CANDIDATES = 3       # per frame, most confident first
CONFIDENCE_THRESHOLD = 0.5
AGGREGATION = 'max-score'
COLOUR_FRACTION_MAX = 0.01
STATED_PREVALENCE = 0.30
L2 = 1.0

# ACR categories of each head (tirads.ts codes) and their points. DDTI readings map to them in triage_data.
HEADS = {
    'composition': ['cystic', 'spongiform', 'mixed', 'solid'],
    'echogenicity': ['hyper-iso', 'hypo', 'very-hypo'],
    'margin': ['smooth', 'ill-defined', 'lobulated-irregular'],
    'echogenicFoci': ['none', 'macro', 'punctate'],
}
POINTS = {
    'composition': [0, 0, 1, 2],
    'echogenicity': [1, 2, 3],
    'margin': [0, 0, 2],
    'echogenicFoci': [0, 1, 3],
}


def frame_forward(fnet, gray):
    x = torch.from_numpy(G.normalise(G.letterbox(gray))[None, None])
    m, g = nets.FrameExport(fnet)(x)
    return m[0, 0].numpy().astype(np.float64), float(g[0, 0])


def analyse_map(prob, gate, gray):
    """Candidates of one frame from its nodule map: box, region, descriptors (no fitted parts)."""
    h, w = gray.shape
    comps = [c for c in G.components(prob, SEG_THRESHOLD) if len(c[0]) >= MIN_CELLS]
    comps.sort(key=lambda c: -c[1])
    # Every cell of a candidate lies in one component at the lower level (connected, and above it).
    owner = {}
    context = G.components(prob, SCORE_THRESHOLD)
    for j, (cells, _) in enumerate(context):
        for rc in cells:
            owner[rc] = j
    cands = []
    for cells, conf in comps[:MAX_CANDIDATES]:
        box = G.cells_box(cells, w, h)
        if box[2] - box[0] < 1 or box[3] - box[1] < 1:
            continue
        # Measured on the ellipse inscribed in the candidate's box, as a reader's box is: on out-of-fold
        # maps the cells themselves (about 10 source pixels each) outline the nodule worse than that.
        region = DS.ellipse_mask(w, h, box)
        if not region.any():
            continue
        score_box = G.cells_box(context[owner[cells[0]]][0], w, h)
        cands.append({'confidence': conf, 'box': box, 'descriptors': DS.describe(gray, region),
                      'score_box': score_box, 'score_descriptors': DS.describe(gray, DS.ellipse_mask(w, h, score_box))})
    return {'gate': gate, 'candidates': cands, 'width': w, 'height': h}


def reader_score_box(box, w, h, scale):
    """A reader's box has no map component around it: the score reads the box grown by `scale` per side
    (the median ratio of score region to candidate box on the training hits), clipped to the frame."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    hw, hh = (box[2] - box[0]) / 2 * scale, (box[3] - box[1]) / 2 * scale
    return (max(0.0, cx - hw), max(0.0, cy - hh), min(float(w), cx + hw), min(float(h), cy + hh))


def analyse_frame(fnet, gray):
    prob, gate = frame_forward(fnet, gray)
    return analyse_map(prob, gate, gray)


# ---------------------------------------------------------------- linear models on descriptors
def standardise(X):
    return X.mean(0), X.std(0) + 1e-6


def fit_logreg(X, y, l2=L2, w=None):
    """L2 logistic regression (Newton), standardised features; returns (mean, std, coef, bias)."""
    mu, sd = standardise(X)
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


def fit_softmax(X, t, n_classes, l2=L2, iters=3000, lr=0.5):
    """Multinomial logistic regression, L2, class weights sqrt-balanced (the rarest categories count
    more without letting five cystic nodules dominate). Full-batch gradient descent: deterministic."""
    mu, sd = standardise(X)
    Z = np.hstack([(X - mu) / sd, np.ones((len(X), 1))])
    counts = np.bincount(t, minlength=n_classes).astype(np.float64)
    cw = np.where(counts > 0, np.sqrt(len(t) / (n_classes * np.maximum(counts, 1))), 0.0)
    w = cw[t]
    Y = np.eye(n_classes)[t]
    B = np.zeros((Z.shape[1], n_classes))
    reg = np.ones_like(B) * l2
    reg[-1] = 0
    for _ in range(iters):
        L = Z @ B
        L -= L.max(1, keepdims=True)
        P = np.exp(L)
        P /= P.sum(1, keepdims=True)
        grad = Z.T @ ((P - Y) * w[:, None]) / w.sum() + reg * B / w.sum()
        B -= lr * grad
    return mu, sd, B[:-1].T, B[-1]


def apply_softmax(m, X):
    mu, sd, W, b = m
    L = ((X - mu) / sd) @ W.T + b
    L -= L.max(1, keepdims=True)
    P = np.exp(L)
    return P / P.sum(1, keepdims=True)


def balanced_weights(y):
    pos = y.mean()
    return np.where(y == 1, 0.5 / pos, 0.5 / (1 - pos))


def prevalence_offset(p):
    return math.log(p / (1 - p))


def sigmoid(z):
    return 1 / (1 + np.exp(-np.asarray(z, dtype=np.float64)))


def case_max(scores, cases):
    best = {}
    for s, c in zip(scores, cases):
        best[c] = max(best.get(c, -1.0), s)
    keys = sorted(best)
    return keys, np.array([best[k] for k in keys])


def gt_boxes(frame):
    """The outlined nodules' boxes of a frame (computed once: the flood fill is slow in Python)."""
    if 'gt_boxes' not in frame:
        frame['gt_boxes'] = D.components_of(frame['mask'])
    return frame['gt_boxes']


def hit_of(frame, cand):
    return max((G.box_iou(cand['box'], b) for b in gt_boxes(frame)), default=0.0) >= 0.3


def fit_models(frames, oof, idx):
    """Heads and combiner from the served-path candidates of frames idx (never the frames they score).
    Heads: every candidate that hit an outlined nodule of a frame with that lexicon reading. Combiner:
    the most confident candidate of every labelled frame (what the served path sees, hit or miss)."""
    heads = {}
    for k, cats in HEADS.items():
        X, T = [], []
        for i in idx:
            t = frames[i]['lexicon'][k]
            if t is None:
                continue
            for c in oof['frames'][i]['candidates']:
                if hit_of(frames[i], c):
                    X.append(c['descriptors'])
                    T.append(t)
        heads[k] = fit_softmax(np.array(X), np.array(T), len(cats))
    tr = [i for i in idx if frames[i]['label'] is not None and oof['frames'][i]['candidates']]
    X = np.array([oof['frames'][i]['candidates'][0]['score_descriptors'] for i in tr])
    yy = np.array([frames[i]['label'] for i in tr], dtype=np.float64)
    return heads, fit_logreg(X, yy, L2, balanced_weights(yy))


def frame_logit(cands, combiner):
    confident = [c for c in cands if c['confidence'] >= CONFIDENCE_THRESHOLD]
    if not confident:
        return None
    z = apply_logreg(combiner, np.array([c['score_descriptors'] for c in confident]))
    return float(z[0]) if AGGREGATION == 'most-confident' else float(z.max())


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
    hits = np.array([bool(r['candidates']) and hit_of(f, r['candidates'][0]) for f, r in zip(frames, oof['frames'])])
    confident_top = np.array([r['candidates'][0]['confidence'] if r['candidates'] else 0.0 for r in oof['frames']])

    # ---- heads and combiner cross-fitted: fold k's frames are scored by models fitted on the others
    lab = np.array([f['label'] is not None for f in frames])
    y = np.array([f['label'] if f['label'] is not None else -1 for f in frames])
    cases = np.array([f['case'] for f in frames])
    logits = np.full(len(frames), np.nan)
    head_probs = [None] * len(frames)
    for k in range(K):
        heads_k, comb_k = fit_models(frames, oof, np.where(ffold != k)[0])
        for i in np.where(ffold == k)[0]:
            cands = oof['frames'][i]['candidates']
            if lab[i]:
                s = frame_logit(cands, comb_k)
                logits[i] = s if s is not None else -np.inf
            if cands:
                head_probs[i] = {h: apply_softmax(m, cands[0]['descriptors'][None])[0] for h, m in heads_k.items()}
    heads, combiner = fit_models(frames, oof, np.arange(len(frames)))
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
        'aggregation': AGGREGATION, 'confidence_threshold': CONFIDENCE_THRESHOLD,
        'image': bootstrap(p_img, y_img, cases[idx], [triage_thr, urgent_thr], prevalence=STATED_PREVALENCE),
        'case': bootstrap(p_case, y_case, np.array(kc), [triage_thr, urgent_thr], prevalence=STATED_PREVALENCE),
        'no_nodule_found_labelled_frames': no_nodule,
        'reliability_case': reliability_bins(p_case, y_case),
        'reliability_case_at_prevalence': reliability_bins(p_case, y_case, prevalence=STATED_PREVALENCE),
    }
    rep['thresholds'] = {'triage': triage_thr, 'urgent': urgent_thr}
    side = os.environ.get('TRIAGE_OOF_SCORES')
    if side:  # for paired comparisons of two runs (compare_runs.py); holds labels, so never under the repository
        with open(side, 'w') as fh:
            json.dump({'case': {str(c): [float(p), int(t)] for c, p, t in zip(kc, p_case, y_case)},
                       'hits': {f['image']: bool(h) for f, h in zip(frames, hits)},
                       'case_of': {f['image']: str(f['case']) for f in frames}}, fh)
    rep['locator'] = {'hit_rate': round(float(hits.mean()), 4), 'n': int(len(hits)),
                      'hit_rate_labelled': round(float(hits[lab].mean()), 4),
                      'confident_top': round(float((confident_top >= CONFIDENCE_THRESHOLD).mean()), 4),
                      'hit_rate_ci95': boot_mean(hits, cases)}
    rep['heads'] = head_metrics(frames, head_probs, hits)
    rep['descriptors'] = descriptor_metrics(frames, oof, hits)
    rep['combiner'] = {'features': DS.NAMES, 'coef': [round(float(c), 4) for c in combiner[2]]}
    rep['summary'] = {
        'case_auc': rep['served']['case']['auc'], 'image_auc': rep['served']['image']['auc'],
        'locator_hit_rate': rep['locator']['hit_rate'], 'gate': {k: rep['gate'][k] for k in ('threshold', 'auc', 'thyroid_frames_passed', 'others_passed', 'others_n')},
        'thresholds': rep['served']['case']['thresholds'], 'aggregation': AGGREGATION, 'confidence_threshold': CONFIDENCE_THRESHOLD,
        'no_nodule_found_labelled_frames': no_nodule,
    }
    area = lambda b: max(b[2] - b[0], 1e-9) * max(b[3] - b[1], 1e-9)  # noqa: E731
    ratios = [math.sqrt(area(r['candidates'][0]['score_box']) / area(r['candidates'][0]['box'])) for r in oof['frames'] if r['candidates']]
    reader_scale = round(float(np.median(ratios)), 4) if ratios else 1.0
    rep['score_region'] = {'threshold': SCORE_THRESHOLD, 'median_side_ratio_to_candidate_box': reader_scale}
    return rep, {'heads': heads, 'model': combiner, 'offset': offset, 'gate_thr': gate_thr,
                 'triage': triage_thr, 'urgent': urgent_thr, 'reader_scale': reader_scale}


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


def head_metrics(frames, head_probs, hits):
    """Per lexicon head, cross-fitted, on the served path's top candidate where it hit the outline."""
    out = {}
    for k, cats in HEADS.items():
        P, T = [], []
        for f, hp, h in zip(frames, head_probs, hits):
            t = f['lexicon'][k]
            if t is None or not h or hp is None:
                continue
            P.append(hp[k])
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
        # Ordinal view: expected points against the reading's points (what the TR level adds up).
        exp_pts = P @ np.array(POINTS[k], dtype=np.float64)
        pts = np.array(POINTS[k])[T]
        hi = pts >= np.median(pts) if len(set(pts)) > 1 else None
        out[k] = {'n': int(len(T)), 'accuracy': round(acc, 4), 'majority_class_accuracy': round(majority, 4), 'categories': per,
                  'balanced_accuracy': round(float(np.mean([(P.argmax(1)[T == j] == j).mean() for j in range(len(cats)) if (T == j).any()])), 4),
                  'points_auc': round(auc(exp_pts, (pts > pts.min()).astype(int)), 4) if hi is not None else None}
    return out


def descriptor_metrics(frames, oof, hits):
    """Each descriptor alone against the lexicon reading it stands for (top candidate, hits only)."""
    pairs = {'echo': ('echogenicity', lambda t: t >= 1, 'hypo or very hypo'), 'dark': ('composition', lambda t: t <= 2, 'not solid'),
             'het': ('composition', lambda t: t <= 2, 'not solid'), 'foci': ('echogenicFoci', lambda t: t >= 1, 'any calcification'),
             'bright': ('echogenicFoci', lambda t: t >= 1, 'any calcification'), 'edge': ('margin', lambda t: t >= 1, 'not smooth'),
             'taller': (None, None, 'TI-RADS >= 4')}
    out = {}
    for j, name in enumerate(DS.NAMES):
        item, pos, what = pairs[name]
        v, t = [], []
        for f, r, h in zip(frames, oof['frames'], hits):
            if not h:
                continue
            lab = f['label'] if item is None else f['lexicon'][item]
            if lab is None:
                continue
            v.append(r['candidates'][0]['descriptors'][j])
            t.append(int(lab) if item is None else int(pos(lab)))
        out[name] = {'against': f"{item or 'tirads'}: {what}", 'n': len(t), 'auc': round(auc(np.array(v), np.array(t)), 4)}
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


def urgent_threshold(rep, at_spec90):
    """The specificity-0.90 threshold, unless the case AUC's CI includes 0.5: then an urgent flag would
    be chance pushing other patients down, so none is set (1.0 is never reached) and the rule says why."""
    a = rep['served']['case']['auc']
    if a['ci95'][0] > 0.5:
        return {'value': round(at_spec90, 6), 'rule': 'smallest case-level threshold with specificity >= 0.90 on served-path cross-validation'}
    return {'value': 1.0, 'rule': f"not set: the served-path case-level AUC {a['value']:.3f} (95% CI {a['ci95'][0]:.3f}-{a['ci95'][1]:.3f}) "
                                  f"includes 0.5, so an urgent flag would be chance; the specificity-0.90 threshold would have been {at_spec90:.4f}"}


def write_manifest(out, rep, comb, seconds, n_frames, n_others, networks='trained in this run', recipe=None):
    mu, sd, coef, bias = comb['model']
    man = {
        'id': 'thyroid-triage-whole-frame',
        'version': '3.3.0',
        'task': 'Triage of thyroid ultrasound studies by P(radiologist TI-RADS >= 4) of the most suspicious confident nodule; reading order, not diagnosis',
        'files': {'frame': {'file': 'frame.onnx', 'sha256': sha256(os.path.join(out, 'frame.onnx'))}},
        'opset': 17,
        'frame': {'input': 'image', 'width': G.FRAME_W, 'height': G.FRAME_H, 'stride': G.FRAME_STRIDE,
                  'normalisation': {'mean': G.MEAN, 'std': G.STD, 'formula': '(gray / 255 - mean) / std'},
                  'geometry': 'letterbox: box-filter resize by min(width/w, height/h), centred, padding 0',
                  'outputs': {'noduleMap': 'nodule_prob', 'thyroid': 'thyroid_prob'}},
        'candidates': {'segThreshold': SEG_THRESHOLD, 'minCells': MIN_CELLS, 'maxCandidates': MAX_CANDIDATES,
                       'confidenceThreshold': CONFIDENCE_THRESHOLD, 'aggregation': AGGREGATION,
                       'scoreThreshold': SCORE_THRESHOLD, 'readerBoxScoreScale': comb['reader_scale'],
                       'scoreRegion': 'the ellipse inscribed in the box of the map component at scoreThreshold that contains the candidate; '
                                      'for a reader\'s box, the box grown by readerBoxScoreScale per side'},
        'descriptors': {'names': DS.NAMES,
                        'region': 'the ellipse inscribed in the candidate\'s (or the reader\'s) box, on the full-resolution frame'},
        'heads': {k: {'categories': cats, 'points': POINTS[k],
                      'mean': [float(v) for v in comb['heads'][k][0]], 'std': [float(v) for v in comb['heads'][k][1]],
                      'weights': [[float(v) for v in row] for row in comb['heads'][k][2]],
                      'bias': [float(v) for v in comb['heads'][k][3]]} for k, cats in HEADS.items()},
        'gate': {'threshold': round(comb['gate_thr'], 6), 'colourFractionMax': COLOUR_FRACTION_MAX,
                 'studyRule': 'median thyroid probability over the study\'s B-mode images >= threshold'},
        'combiner': {'features': DS.NAMES, 'mean': [float(v) for v in mu], 'std': [float(v) for v in sd],
                     'coef': [float(v) for v in coef], 'bias': float(bias),
                     'prevalence': STATED_PREVALENCE, 'prevalenceOffset': comb['offset']},
        'thresholds': {
            'triage': {'value': round(comb['triage'], 6), 'rule': 'largest case-level threshold with sensitivity >= 0.95 on served-path cross-validation'},
            'urgent': urgent_threshold(rep, comb['urgent']),
        },
        'metrics': rep['summary'],
        'training': {'seconds': round(seconds), 'frame_networks': networks, 'frames': n_frames, 'non_thyroid_frames': n_others,
                     'data': 'DDTI whole frames (thyroid/ddti-frames), ultrasound-other', 'folds': 'by ddti_case; negatives by source clip',
                     **(recipe or {})},
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


def candidate_outputs(c, comb):
    d = c['descriptors'][None]
    probs = {k: [float(v) for v in apply_softmax(m, d)[0]] for k, m in comb['heads'].items()}
    score = float(sigmoid(apply_logreg(comb['model'], c['score_descriptors'][None])[0] + comb['offset']))
    return {'confidence': c['confidence'], 'box': list(c['box']), 'scoreBox': list(c['score_box']),
            'descriptors': {n: float(v) for n, v in zip(DS.NAMES, c['descriptors'])},
            'scoreDescriptors': {n: float(v) for n, v in zip(DS.NAMES, c['score_descriptors'])}, 'probs': probs, 'score': score}


def write_parity(fnet, comb, frames, out):
    """The served path's outputs in Python (PyTorch + descriptors + fitted models) for the TypeScript
    parity test: a synthetic frame, three DDTI frames, and a reader's box on the synthetic frame."""
    cases = [('synthetic', synthetic_frame())] + [(f['image'], f['gray']) for f in frames[:3]]
    rows = []
    with torch.no_grad():
        for name, g in cases:
            prob, gate = frame_forward(fnet, g)
            r = analyse_map(prob, gate, g)
            rows.append({'image': name, 'width': int(g.shape[1]), 'height': int(g.shape[0]), 'thyroid': gate,
                         'mapSum': float(prob.sum()), 'mapMax': float(prob.max()),
                         'candidates': [candidate_outputs(c, comb) for c in r['candidates']]})
    g = synthetic_frame()
    box = (100.0, 80.0, 190.0, 160.0)
    sbox = reader_score_box(box, g.shape[1], g.shape[0], comb['reader_scale'])
    reader = candidate_outputs({'confidence': 1.0, 'box': box, 'descriptors': DS.describe(g, DS.ellipse_mask(g.shape[1], g.shape[0], box)),
                                'score_box': sbox, 'score_descriptors': DS.describe(g, DS.ellipse_mask(g.shape[1], g.shape[0], sbox))}, comb)
    with open(os.path.join(out, 'parity.json'), 'w') as fh:
        json.dump({'note': 'Python served-path outputs for the TypeScript parity test', 'cases': rows, 'readerBox': reader}, fh, indent=1)
