"""Train, cross-validate and export the thyroid-nodule triage model.

    nice -n 10 /usr/bin/python3 models/thyroid-nodule/train/train.py [--data DIR]

One command: case-level stratified 5-fold CV (every network and classifier refit inside each fold,
outlines PREDICTED by the fold's network, as at serving time), model selection on the out-of-fold
(OOF) predictions, then a final fit on all data, ONNX export, parity fixture, manifest, report and
reliability plot. Seeds are fixed; torch runs with 2 CPU threads.
"""
import argparse
import csv
import hashlib
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodule  # noqa: E402
from metrics import auc, bootstrap, ece, reliability_bins, sens_spec  # noqa: E402
from synthetic import synthetic_images  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_DIR = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(MODEL_DIR))
SEED = 20240604
FOLDS = 5
EPOCHS = int(os.environ.get('NODULE_EPOCHS', '30'))
MODEL_ID = 'thyroid-nodule-tirads4plus'
MODEL_VERSION = '1.0.0'


def log(*args):
    print(f'[{time.strftime("%H:%M:%S")}]', *args, flush=True)


def load(data_dir):
    rows = list(csv.DictReader(open(os.path.join(data_dir, 'labels.csv'))))
    xs, ms, labels, cases, names = [], [], [], [], []
    for r in rows:
        gray = np.array(Image.open(os.path.join(data_dir, r['image'])).convert('L'))
        mask = (np.array(Image.open(os.path.join(data_dir, r['mask'])).convert('L')) > 0).astype(np.float32)
        xs.append(nodule.preprocess(gray))
        ms.append(nodule.resize_mask(mask))
        lab = r['tirads_binary_4plus'].strip()
        labels.append(int(lab) if lab else -1)
        cases.append(r['ddti_case'])
        names.append(r['image'])
    return (np.stack(xs)[:, None], np.stack(ms)[:, None], np.array(labels), np.array(cases), names)


def case_folds(labels, cases, k, seed):
    """Stratified k-fold over labelled cases (a case's label is the same on all its crops)."""
    rng = np.random.RandomState(seed)
    case_label = {}
    for lab, c in zip(labels, cases):
        if lab >= 0:
            case_label[c] = max(case_label.get(c, 0), lab)
    fold_of = {}
    for cls in (0, 1):
        cs = sorted(c for c, lab in case_label.items() if lab == cls)
        rng.shuffle(cs)
        for i, c in enumerate(cs):
            fold_of[c] = i % k
    return np.array([fold_of.get(c, -1) for c in cases])


def augment(x, m, gen):
    """Ultrasound-minded augmentation: left-right flip (never up-down: depth has a direction and
    taller-than-wide depends on it), small affine, gain/gamma changes, multiplicative speckle."""
    n = x.shape[0]
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    m = torch.where(flip[:, None, None, None], m.flip(-1), m)
    ang = (torch.rand(n, generator=gen) - 0.5) * 2 * 0.17
    sc = 1 + (torch.rand(n, generator=gen) - 0.5) * 0.2
    tx = (torch.rand(n, generator=gen) - 0.5) * 0.12
    ty = (torch.rand(n, generator=gen) - 0.5) * 0.12
    theta = torch.stack([
        torch.stack([torch.cos(ang) / sc, -torch.sin(ang) / sc, tx], 1),
        torch.stack([torch.sin(ang) / sc, torch.cos(ang) / sc, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    inten = x * nodule.NORM_STD + nodule.NORM_MEAN
    inten = F.grid_sample(inten, grid, align_corners=False, padding_mode='zeros')
    m = F.grid_sample(m, grid, align_corners=False, padding_mode='zeros')
    gamma = torch.exp((torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 0.6)
    gain = 1 + (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 0.3
    inten = torch.clamp(inten, 0, 1) ** gamma * gain
    speckle = 1 + 0.08 * torch.randn(inten.shape, generator=gen)
    inten = torch.clamp(inten * speckle, 0, 1)
    return (inten - nodule.NORM_MEAN) / nodule.NORM_STD, m


def train_seg(x, m, y, seed):
    """x, m: all training images and outlines; y: -1 where unlabelled."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = nodule.SegNet()
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=EPOCHS * ((len(x) + 31) // 32))
    xt, mt, yt = torch.from_numpy(x), torch.from_numpy(m), torch.from_numpy(y).float()
    has_mask = (mt.sum((1, 2, 3)) > 0).float()
    npos = float((yt == 1).sum())
    nneg = float((yt == 0).sum())
    pos_weight = torch.tensor(nneg / max(npos, 1.0))
    for epoch in range(EPOCHS):
        net.train()
        perm = torch.randperm(len(xt), generator=gen)
        tot = 0.0
        for i in range(0, len(perm), 32):
            idx = perm[i:i + 32]
            xb, mb = augment(xt[idx], mt[idx], gen)
            yb, hb = yt[idx], has_mask[idx]
            seg_logit, prob, _, aux = net(xb)
            bce = F.binary_cross_entropy_with_logits(seg_logit, mb, reduction='none').mean((1, 2, 3))
            inter = (prob * mb).sum((1, 2, 3))
            dice = 1 - (2 * inter + 1) / (prob.sum((1, 2, 3)) + mb.sum((1, 2, 3)) + 1)
            seg_loss = ((bce + dice) * hb).sum() / (hb.sum() + 1e-6)
            lab = yb >= 0
            if lab.any():
                # Balanced weighting: each class contributes equally to the auxiliary loss.
                w = torch.where(yb[lab] == 1, torch.ones(1), pos_weight)
                aux_loss = (F.binary_cross_entropy_with_logits(aux[lab, 0], yb[lab], reduction='none') * w).sum() / w.sum()
            else:
                aux_loss = torch.zeros(())
            loss = seg_loss + 0.5 * aux_loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += float(loss) * len(idx)
        if epoch % 10 == 9 or epoch == EPOCHS - 1:
            log(f'  epoch {epoch + 1}/{EPOCHS} loss {tot / len(xt):.4f}')
    net.eval()
    return net


@torch.no_grad()
def extract(net, x):
    out_d, out_f, out_m = [], [], []
    for i in range(0, len(x), 64):
        xb = torch.from_numpy(x[i:i + 64])
        mask, feats, _ = nodule.with_flip(net, xb)
        out_d.append(nodule.descriptors(xb, mask))
        out_f.append(feats)
        out_m.append(mask)
    return torch.cat(out_d).numpy(), torch.cat(out_f).numpy(), torch.cat(out_m).numpy()


def fit_logreg(f, y, l2):
    """Balanced, L2-penalised logistic regression on standardised features (torch LBFGS)."""
    mean = f.mean(0)
    std = f.std(0) + 1e-6
    z = torch.from_numpy((f - mean) / std).double()
    yt = torch.from_numpy(y).double()
    w_pos = len(y) / (2 * max(y.sum(), 1))
    w_neg = len(y) / (2 * max((1 - y).sum(), 1))
    sw = torch.where(yt == 1, torch.tensor(w_pos), torch.tensor(w_neg)).double()
    w = torch.zeros(z.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=500, tolerance_grad=1e-9, line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        logit = z @ w + b
        loss = (F.binary_cross_entropy_with_logits(logit, yt, reduction='none') * sw).mean() + 0.5 * l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return mean, std, w.detach().numpy(), float(b.detach())


def logit_of(f, params):
    mean, std, w, b = params
    return ((f - mean) / std) @ w + b


def fit_platt(z, y):
    """Recalibrate balanced-weight logits to the training prevalence: p = sigmoid(a z + b)."""
    zt = torch.from_numpy(z).double()
    yt = torch.from_numpy(y).double()
    a = torch.ones(1, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([a, b], lr=1, max_iter=200, line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(a * zt + b, yt)
        loss.backward()
        return loss

    opt.step(closure)
    return float(a.detach()), float(b.detach())


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


CANDIDATES = [
    {'name': 'descriptors', 'desc': True, 'cnn': False, 'l2': 0.01},
    {'name': 'descriptors', 'desc': True, 'cnn': False, 'l2': 0.1},
    {'name': 'cnn', 'desc': False, 'cnn': True, 'l2': 0.1},
    {'name': 'cnn', 'desc': False, 'cnn': True, 'l2': 1.0},
    {'name': 'descriptors+cnn', 'desc': True, 'cnn': True, 'l2': 0.1},
    {'name': 'descriptors+cnn', 'desc': True, 'cnn': True, 'l2': 1.0},
]


def features_for(cand, d, f):
    parts = []
    if cand['desc']:
        parts.append(d)
    if cand['cnn']:
        parts.append(f)
    return np.concatenate(parts, 1)


def dice_score(pred, true):
    p = pred > 0.5
    t = true > 0.5
    return 2 * (p & t).sum() / max(p.sum() + t.sum(), 1)


def threshold_for_sensitivity(p, y, target):
    """Largest threshold (p >= t is positive) whose sensitivity is still >= target."""
    pos = np.sort(p[y == 1])
    k = int(np.floor((1 - target) * len(pos) + 1e-9))
    return float(pos[k])


def threshold_for_specificity(p, y, target):
    """Smallest threshold (p >= t is positive) whose specificity is >= target."""
    neg = np.sort(p[y == 0])
    k = int(np.ceil(target * len(neg) - 1e-9))
    if k >= len(neg):
        return float(neg[-1]) + 1e-6
    return float(np.nextafter(neg[k - 1], 1.0)) if k > 0 else float(neg[0])


def reliability_png(p, y, path):
    bins = reliability_bins(p, y, 10)
    size, pad = 320, 40
    img = Image.new('L', (size, size), 255)
    d = ImageDraw.Draw(img)
    plot = size - 2 * pad

    def to_px(a, b):
        return pad + a * plot, size - pad - b * plot

    d.rectangle([pad, pad, size - pad, size - pad], outline=0)
    d.line([to_px(0, 0), to_px(1, 1)], fill=160)
    for b in bins:
        if b['n'] == 0:
            continue
        x0, _ = to_px(b['lo'], 0)
        x1, y1 = to_px(b['hi'], b['frac_pos'])
        d.rectangle([x0 + 2, y1, x1 - 2, size - pad], fill=200, outline=80)
        cx, cy = to_px(b['mean_p'], b['frac_pos'])
        d.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=0)
        d.text((x0 + 3, size - pad + 4), str(b['n']), fill=0)
    d.text((pad, 8), 'Reliability (OOF, 10 bins): bar = observed rate, dot = mean predicted', fill=0)
    d.text((pad, size - 16), 'predicted P(TI-RADS>=4); n per bin below axis', fill=0)
    img.save(path, optimize=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=os.path.join(REPO, '..', 'shared', 'data', 'thyroid', 'ddti'))
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    t0 = time.time()
    x, m, y, cases, names = load(args.data)
    log(f'loaded {len(x)} crops; labelled {int((y >= 0).sum())} (pos {int((y == 1).sum())}, neg {int((y == 0).sum())})')
    fold = case_folds(y, cases, FOLDS, SEED)
    lab = y >= 0

    # ---- cross-validation: everything refit inside each fold, outlines predicted ----
    oof_z = {i: np.zeros(len(x)) for i in range(len(CANDIDATES))}
    oof_aux = np.zeros(len(x))
    oof_desc = np.zeros((len(x), len(nodule.DESCRIPTORS)))
    dices, dices_true_mask_z = [], {i: np.zeros(len(x)) for i in range(len(CANDIDATES))}
    for k in range(FOLDS):
        test = fold == k
        train = ~test  # includes all unlabelled crops (outline supervision only)
        log(f'fold {k + 1}/{FOLDS}: train {int(train.sum())} crops, test {int(test.sum())}')
        net = train_seg(x[train], m[train], y[train], SEED + k)
        d, f, pm = extract(net, x)
        with torch.no_grad():
            _, _, aux = nodule.with_flip(net, torch.from_numpy(x[test]))
        oof_aux[test] = aux[:, 0].numpy()
        oof_desc[test] = d[test]
        dices.extend(dice_score(pm[i, 0], m[i, 0]) for i in np.where(test & lab)[0] if m[i].sum() > 0)
        # Oracle condition: descriptors from the radiologist's outline (train and test), to show what
        # predicting the outline costs. Not available at serving time.
        with torch.no_grad():
            d_true = nodule.descriptors(torch.from_numpy(x), torch.from_numpy(m)).numpy()
        tr_lab = train & lab
        for ci, cand in enumerate(CANDIDATES):
            params = fit_logreg(features_for(cand, d[tr_lab], f[tr_lab]), y[tr_lab].astype(np.float64), cand['l2'])
            oof_z[ci][test] = logit_of(features_for(cand, d[test], f[test]), params)
            params_true = fit_logreg(features_for(cand, d_true[tr_lab], f[tr_lab]), y[tr_lab].astype(np.float64), cand['l2'])
            dices_true_mask_z[ci][test] = logit_of(features_for(cand, d_true[test], f[test]), params_true)
    t_cv = time.time() - t0

    yl = y[lab]
    results = []
    for ci, cand in enumerate(CANDIDATES):
        a = auc(oof_z[ci][lab], yl)
        results.append({**cand, 'oof_auc': a, 'oof_auc_true_outline': auc(dices_true_mask_z[ci][lab], yl)})
        log(f"candidate {cand['name']} l2={cand['l2']}: OOF AUC {a:.4f} (oracle outline {results[-1]['oof_auc_true_outline']:.4f})")
    aux_auc = auc(oof_aux[lab], yl)
    log(f'auxiliary CNN head alone: OOF AUC {aux_auc:.4f}; mean Dice of predicted outline {np.mean(dices):.3f}')
    # Selection rule: the best OOF AUC, except that a candidate whose score uses the descriptors wins
    # when it is within 0.01 of the best: the viewer can then show what drove a score.
    top = max(r['oof_auc'] for r in results)
    explainable = [i for i, c in enumerate(CANDIDATES) if c['desc'] and results[i]['oof_auc'] >= top - 0.01]
    pool = explainable if explainable else list(range(len(CANDIDATES)))
    best = max(pool, key=lambda i: results[i]['oof_auc'])
    cand = CANDIDATES[best]
    log(f"selected {cand['name']} l2={cand['l2']}")

    # Cross-fitted calibration: each fold's logits are recalibrated with a Platt fit on the other folds.
    z = oof_z[best]
    p_oof = np.zeros(len(x))
    for k in range(FOLDS):
        te = (fold == k) & lab
        tr = (fold != k) & lab
        a_k, b_k = fit_platt(z[tr], y[tr].astype(np.float64))
        p_oof[te] = sigmoid(a_k * z[te] + b_k)
    cal_a, cal_b = fit_platt(z[lab], yl.astype(np.float64))

    pl = p_oof[lab]
    t_triage = threshold_for_sensitivity(pl, yl, 0.95)
    t_urgent = threshold_for_specificity(pl, yl, 0.90)
    case_l = cases[lab]
    boot = bootstrap(pl, yl, case_l, [t_triage, t_urgent], n_boot=2000, seed=SEED)
    # Case-level view: one score per case (mean over its crops).
    ucases = sorted(set(case_l))
    cp = np.array([pl[case_l == c].mean() for c in ucases])
    cy = np.array([yl[case_l == c].max() for c in ucases])
    case_boot = bootstrap(cp, cy, np.array(ucases), [t_triage, t_urgent], n_boot=2000, seed=SEED)
    log(f"OOF AUC {boot['auc']}; triage t={t_triage:.4f} {boot['thresholds'][0]}; urgent t={t_urgent:.4f} {boot['thresholds'][1]}; ECE {boot['ece']}")
    os.makedirs(os.path.join(REPO, 'docs'), exist_ok=True)
    reliability_png(pl, yl, os.path.join(REPO, 'docs', 'model-card-reliability.png'))

    # Failure cases: most confident errors, named by file (no pixels).
    order = np.argsort(-np.abs(pl - yl))
    lab_idx = np.where(lab)[0]
    failures = [{'image': names[lab_idx[i]], 'case': str(case_l[i]), 'label': int(yl[i]), 'p_oof': round(float(pl[i]), 4),
                 'descriptors': {n[0]: round(float(v), 4) for n, v in zip(nodule.DESCRIPTORS, oof_desc[lab_idx[i]])}}
                for i in order[:8]]

    # ---- final fit on all data ----
    log('final fit on all crops')
    torch.manual_seed(SEED)
    net = train_seg(x, m, y, SEED + 100)
    d, f, _ = extract(net, x)
    feats = features_for(cand, d[lab], f[lab])
    mean, std, w, b = fit_logreg(feats, yl.astype(np.float64), cand['l2'])
    model = nodule.NoduleModel(net, torch.from_numpy(mean), torch.from_numpy(std), torch.from_numpy(w), b,
                               cand['desc'], cand['cnn'], cal_a, cal_b).eval()
    with torch.no_grad():
        p_fit, _, _, _ = model(torch.from_numpy(x))
    p_fit = p_fit[:, 0].numpy().astype(np.float64)
    fit_auc = auc(p_fit[lab], yl)
    log(f'training-set fit AUC {fit_auc:.4f} (optimistic; the OOF figure above is the honest one)')

    onnx_path = os.path.join(MODEL_DIR, 'model.onnx')
    dummy = torch.from_numpy(x[:2])
    torch.onnx.export(model, dummy, onnx_path, input_names=['image'], output_names=['probability', 'descriptors', 'mask', 'contributions'],
                      dynamic_axes={'image': {0: 'batch'}, 'probability': {0: 'batch'}, 'descriptors': {0: 'batch'}, 'mask': {0: 'batch'}, 'contributions': {0: 'batch'}},
                      opset_version=17, do_constant_folding=True)
    import onnx
    onnx.checker.check_model(onnx.load(onnx_path))
    sha = hashlib.sha256(open(onnx_path, 'rb').read()).hexdigest()

    # Parity fixture: synthetic images only (never pixels derived from the shared data).
    parity = {'note': 'Synthetic images from models/thyroid-nodule/train/synthetic.py (mirrored in packages/nodule-model/src/synthetic.ts). Expected outputs computed by the PyTorch model.', 'cases': []}
    for spec, gray in synthetic_images():
        inp = nodule.preprocess(gray)
        with torch.no_grad():
            pp, dd, _, cc = model(torch.from_numpy(inp)[None, None])
        parity['cases'].append({'spec': spec, 'input_checksum': float(inp.astype(np.float64).sum()),
                                'input_first': [float(v) for v in inp.reshape(-1)[:8]],
                                'probability': float(pp[0, 0]), 'descriptors': [float(v) for v in dd[0]],
                                'contributions': [float(v) for v in cc[0]]})
    # Real-data parity: names and PyTorch outputs only; the TS test re-reads the PNGs when present.
    parity['ddti'] = [{'image': names[i], 'probability': float(p_fit[i])} for i in range(0, len(names), 70)]
    json.dump(parity, open(os.path.join(MODEL_DIR, 'parity.json'), 'w'), indent=1)

    t_total = time.time() - t0
    fmt = lambda v: round(float(v), 4)  # noqa: E731
    metrics = {
        'evaluation': f'{FOLDS}-fold cross-validation stratified by case (ddti_case); every network, classifier and calibration refit inside each fold; outlines predicted by the fold network (serving condition); 95% CIs from 2000 bootstrap resamples of cases',
        'n_images': int(lab.sum()), 'n_cases': len(ucases), 'n_positive_images': int(yl.sum()), 'n_negative_images': int((1 - yl).sum()),
        'image_level': boot, 'case_level_mean_score': case_boot,
        'training_set_fit_auc': fmt(fit_auc),
        'segmentation_dice_oof': fmt(np.mean(dices)),
        'candidates': [{k2: (fmt(v) if isinstance(v, float) else v) for k2, v in r.items()} for r in results],
        'aux_cnn_head_oof_auc': fmt(aux_auc),
        'selected': f"{cand['name']} (l2={cand['l2']})",
        'selection_rule': 'highest OOF AUC; a candidate using descriptors wins if within 0.01 of the highest',
        'oracle_outline_note': 'oof_auc_true_outline: classifier trained and tested on descriptors from the radiologist outline (not available at serving time)',
    }
    manifest = {
        'id': MODEL_ID,
        'version': MODEL_VERSION,
        'file': 'model.onnx',
        'sha256': sha,
        'opset': 17,
        'task': 'P(radiologist TI-RADS >= 4) for a thyroid nodule crop; triage of reading order, not diagnosis',
        'input': {
            'name': 'image', 'shape': [None, 1, nodule.INPUT_SIZE, nodule.INPUT_SIZE], 'channels': 1, 'dtype': 'float32',
            'colour': 'grayscale (single channel, 8-bit brightness 0..255)',
            'geometry': 'pad to a centred square with 0, then area-average resize to size x size',
            'normalisation': {'scale': 1 / 255, 'mean': nodule.NORM_MEAN, 'std': nodule.NORM_STD,
                              'formula': '(pixel / 255 - mean) / std'},
            'expects': 'a crop around one nodule with some surrounding tissue (like the DDTI crops); whole frames need a nodule locator first',
        },
        'outputs': {
            'probability': {'shape': [None, 1], 'range': [0, 1], 'meaning': 'calibrated P(TI-RADS >= 4)'},
            'descriptors': {'shape': [None, len(nodule.DESCRIPTORS)],
                            'names': [{'name': n, 'tirads_feature': t, 'meaning': mm} for n, t, mm in nodule.DESCRIPTORS]},
            'mask': {'shape': [None, 1, nodule.INPUT_SIZE, nodule.INPUT_SIZE], 'range': [0, 1], 'meaning': 'predicted nodule outline (soft), in model input coordinates; threshold 0.5'},
            'contributions': {'shape': [None, len(nodule.DESCRIPTORS)],
                              'meaning': "each descriptor's additive share of the calibrated logit (positive = towards TI-RADS >= 4); all zero when the selected classifier does not use descriptors. The rest of the logit comes from CNN features."},
        },
        'thresholds': {
            'triage': {'value': fmt(t_triage), 'rule': 'largest threshold with OOF sensitivity >= 0.95', 'cv': boot['thresholds'][0]},
            'urgent': {'value': fmt(t_urgent), 'rule': 'smallest threshold with OOF specificity >= 0.90', 'cv': boot['thresholds'][1]},
        },
        'training_data': {
            'source': 'DDTI (Pedraza et al., SPIE 9287, 2015) nodule crops as preprocessed by xuao575/DDTI_preprocessing',
            'images': int(len(x)), 'labelled': int(lab.sum()), 'unlabelled_outline_only': int((~lab).sum()),
            'cases': int(len(set(cases))), 'positives': int(yl.sum()), 'negatives': int((1 - yl).sum()),
            'labels': 'radiologist TI-RADS category (2-3 -> 0, 4a-5 -> 1), not pathology',
        },
        'metrics': metrics,
        'training': {'command': 'nice -n 10 /usr/bin/python3 models/thyroid-nodule/train/train.py', 'seed': SEED,
                     'epochs': EPOCHS, 'seconds': round(t_total), 'cv_seconds': round(t_cv), 'torch': torch.__version__},
        'failure_cases_oof': failures,
    }
    json.dump(manifest, open(os.path.join(MODEL_DIR, 'manifest.json'), 'w'), indent=2)
    import card
    card.main()
    log(f'done in {t_total:.0f}s; model {os.path.getsize(onnx_path)} bytes sha256 {sha}')


if __name__ == '__main__':
    main()
