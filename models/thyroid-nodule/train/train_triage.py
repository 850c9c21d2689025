"""Whole-frame triage: one command trains, cross-validates the served path and writes the shipped model.

    nice /usr/bin/python3 models/thyroid-nodule/train/train_triage.py [--data ../shared/data] [--out models/thyroid-nodule]

1. FrameNet (scope gate + nodule map) on whole DDTI frames (positives, outlines) and non-thyroid
   ultrasound (negatives), NoduleNet (ACR lexicon heads + suspicion) on full-resolution nodule crops.
2. K-fold cross-validation split by ddti_case (negatives by source clip): each held-out fold runs the
   served path (served.py, mirrored by the TypeScript worker): gate, candidates, crops, heads.
3. The combiner (logistic regression on the heads' expected points + learned logit) and the
   calibration are cross-fitted on the out-of-fold served-path predictions; thresholds come from them.
4. Final networks on all data -> frame.onnx, nodule.onnx, triage.json (manifest), parity.json.
Fixed seeds; CPU only.
"""
import argparse
import json
import os
import sys
import time
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import geometry as G  # noqa: E402
import nets  # noqa: E402
import served  # noqa: E402
import triage_data as D  # noqa: E402
from metrics import auc  # noqa: E402

SEED = 20261204
K = int(os.environ.get('TRIAGE_FOLDS', '5'))
FRAME_EPOCHS = int(os.environ.get('TRIAGE_FRAME_EPOCHS', '14'))
NODULE_EPOCHS = int(os.environ.get('TRIAGE_NODULE_EPOCHS', '30'))
T0 = time.time()


def log(*a):
    print(f'[{time.time() - T0:7.1f}s]', *a, flush=True)


# ---------------------------------------------------------------- augmentation
def rand_crop_box(rng, w, h, lo=0.6):
    cw = int(w * rng.uniform(lo, 1.0))
    ch = int(h * rng.uniform(lo, 1.0))
    x = rng.randint(0, w - cw + 1)
    y = rng.randint(0, h - ch + 1)
    return x, y, cw, ch


def photometric(rng, x):
    x = x / 255.0
    x = np.clip(x * rng.uniform(0.75, 1.25), 0, 1) ** rng.uniform(0.75, 1.35)
    x = x * (1 + rng.normal(0, 0.08, x.shape))
    return np.clip(x, 0, 1) * 255.0


def frame_sample(rng, gray, mask):
    h, w = gray.shape
    if rng.rand() < 0.7:
        x, y, cw, ch = rand_crop_box(rng, w, h)
        gray = gray[y:y + ch, x:x + cw]
        mask = mask[y:y + ch, x:x + cw] if mask is not None else None
    img = photometric(rng, G.letterbox(gray))
    if mask is not None:
        m = G.letterbox(mask.astype(np.float32) * 255.0) / 255.0
        m = m.reshape(G.FRAME_H // G.FRAME_STRIDE, G.FRAME_STRIDE, G.FRAME_W // G.FRAME_STRIDE, G.FRAME_STRIDE).mean(axis=(1, 3))
    else:
        m = np.zeros((G.FRAME_H // G.FRAME_STRIDE, G.FRAME_W // G.FRAME_STRIDE), dtype=np.float32)
    if rng.rand() < 0.5:
        img, m = img[:, ::-1], m[:, ::-1]
    return G.normalise(img), m.astype(np.float32)


def jitter_box(rng, box, w, h):
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    s = rng.uniform(0.85, 1.2)
    cx = (x0 + x1) / 2 + rng.uniform(-0.12, 0.12) * bw
    cy = (y0 + y1) / 2 + rng.uniform(-0.12, 0.12) * bh
    bw, bh = bw * s * rng.uniform(0.9, 1.1), bh * s * rng.uniform(0.9, 1.1)
    return (max(0, cx - bw / 2), max(0, cy - bh / 2), min(w, cx + bw / 2), min(h, cy + bh / 2))


# ---------------------------------------------------------------- training
def train_frame(frames, others, seed):
    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    net = nets.FrameNet()
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    items = [(f['gray'], f['mask'], 1.0) for f in frames] + [(o['gray'], None, 0.0) for o in others]
    steps = FRAME_EPOCHS * ((len(items) + 15) // 16)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.15)
    net.train()
    for ep in range(FRAME_EPOCHS):
        order = rng.permutation(len(items))
        tot = 0.0
        for b in range(0, len(order), 16):
            xs, ms, ys = [], [], []
            for i in order[b:b + 16]:
                g, m, y = items[i]
                x, mm = frame_sample(rng, g, m)
                xs.append(x)
                ms.append(mm)
                ys.append(y)
            x = torch.from_numpy(np.stack(xs)[:, None].copy())
            m = torch.from_numpy(np.stack(ms)[:, None].copy())
            y = torch.tensor(ys)[:, None]
            seg, gate = net.forward_one(x)
            pos = (y[:, 0] > 0.5)
            l_gate = F.binary_cross_entropy_with_logits(gate, y)
            l_seg = F.binary_cross_entropy_with_logits(seg, m, pos_weight=torch.tensor(4.0))
            if pos.any():
                p = torch.sigmoid(seg[pos])
                inter = (p * m[pos]).sum(dim=(1, 2, 3))
                dice = 1 - (2 * inter + 1) / (p.sum(dim=(1, 2, 3)) + m[pos].sum(dim=(1, 2, 3)) + 1)
                l_seg = l_seg + dice.mean()
            loss = l_seg + l_gate
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += float(loss)
        log(f'  frame epoch {ep + 1}/{FRAME_EPOCHS} loss {tot / max(1, len(order) // 16):.3f}')
    net.eval()
    return net


def nodule_items(frames):
    items = []
    for f in frames:
        if f['label'] is None:
            continue
        for box in D.components_of(f['mask']):
            items.append((f['gray'], box, f['lexicon'], f['label']))
    return items


def train_nodule(frames, seed):
    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    net = nets.NoduleNet()
    items = nodule_items(frames)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=5e-4)
    steps = NODULE_EPOCHS * ((len(items) + 15) // 16)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.15)
    npos = sum(1 for it in items if it[3] == 1)
    pos_weight = torch.tensor((len(items) - npos) / max(npos, 1))
    net.train()
    for ep in range(NODULE_EPOCHS):
        order = rng.permutation(len(items))
        tot = 0.0
        for b in range(0, len(order), 16):
            xs, lex, ys = [], [], []
            for i in order[b:b + 16]:
                g, box, lx, y = items[i]
                h, w = g.shape
                c = photometric(rng, G.crop(g.astype(np.float64), jitter_box(rng, box, w, h)))
                if rng.rand() < 0.5:
                    c = c[:, ::-1]
                xs.append(G.normalise(c))
                lex.append(lx)
                ys.append(float(y))
            x = torch.from_numpy(np.stack(xs)[:, None].copy())
            heads, susp = net.forward_one(x)
            loss = F.binary_cross_entropy_with_logits(susp, torch.tensor(ys)[:, None], pos_weight=pos_weight)
            for k in nets.HEADS:
                t = torch.tensor([l[k] if l[k] is not None else -100 for l in lex])
                if (t >= 0).any():
                    loss = loss + F.cross_entropy(heads[k], t, ignore_index=-100, label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += float(loss)
        if (ep + 1) % 5 == 0 or ep == 0:
            log(f'  nodule epoch {ep + 1}/{NODULE_EPOCHS} loss {tot / max(1, len(order) // 16):.3f}')
    net.eval()
    return net


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser()
    root = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument('--data', default=os.path.abspath(os.path.join(root, '../../../../shared/data')))
    ap.add_argument('--out', default=os.path.abspath(os.path.join(root, '..')))
    ap.add_argument('--folds-out', default=None, help='also export each fold\'s networks here (served-path CV in TypeScript)')
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get('TRIAGE_THREADS', '2')))
    np.random.seed(SEED)
    torch.manual_seed(SEED)

    frames = D.load_frames(os.path.join(args.data, 'thyroid/ddti-frames'))
    others = D.load_others(os.path.join(args.data, 'ultrasound-other'))
    log(f'{len(frames)} DDTI frames, {len(others)} non-thyroid frames')

    # Folds: DDTI by case, stratified by label (labelled negatives are scarce); others by clip.
    case_label = {}
    for f in frames:
        case_label[f['case']] = f['label'] if f['label'] is not None else -1
    strata = {}
    for c, l in case_label.items():
        strata.setdefault(l, []).append(c)
    case_fold = {}
    for l, cs in strata.items():
        cs = sorted(cs, key=lambda s: (D.stable_hash(f'{SEED}:{s}'), s))
        for i, c in enumerate(cs):
            case_fold[c] = i % K
    ffold = np.array([case_fold[f['case']] for f in frames])
    ofold = D.assign_folds([o['group'] for o in others], K, SEED)

    oof = {'frames': [None] * len(frames), 'others': [None] * len(others)}
    for k in range(K):
        log(f'fold {k + 1}/{K}')
        tr_f = [f for f, fk in zip(frames, ffold) if fk != k]
        tr_o = [o for o, ok in zip(others, ofold) if ok != k]
        fnet = train_frame(tr_f, tr_o, SEED + k)
        nnet = train_nodule(tr_f, SEED + 100 + k)
        if args.folds_out:
            export(fnet, nnet, os.path.join(args.folds_out, f'fold{k}'))
            with open(os.path.join(args.folds_out, f'fold{k}', 'heldout.json'), 'w') as fh:
                json.dump({'frames': [f['image'] for f, fk in zip(frames, ffold) if fk == k],
                           'others': [o['image'] for o, ok in zip(others, ofold) if ok == k]}, fh)
        with torch.no_grad():
            for i in np.where(ffold == k)[0]:
                oof['frames'][i] = served.analyse_frame(fnet, nnet, frames[i]['gray'])
            for i in np.where(ofold == k)[0]:
                oof['others'][i] = served.analyse_frame(fnet, nnet, others[i]['gray'])
        log(f'fold {k + 1} done')

    report, combiner = served.fit_and_report(frames, others, oof, ffold)
    log(json.dumps(report['summary'], indent=1))

    log('final networks on all data')
    fnet = train_frame(frames, others, SEED + 1000)
    nnet = train_nodule(frames, SEED + 1100)
    export(fnet, nnet, args.out)
    served.write_manifest(args.out, report, combiner, time.time() - T0, len(frames), len(others))
    served.write_parity(fnet, nnet, frames, args.out)
    with open(os.path.join(args.out, 'cv-served.json'), 'w') as fh:
        json.dump(report, fh, indent=1)
    log('done')


def export(fnet, nnet, out):
    os.makedirs(out, exist_ok=True)
    fx = nets.FrameExport(fnet).eval()
    torch.onnx.export(fx, torch.zeros(1, 1, G.FRAME_H, G.FRAME_W), os.path.join(out, 'frame.onnx'),
                      input_names=['image'], output_names=['nodule_prob', 'thyroid_prob'],
                      dynamic_axes={'image': {0: 'n'}, 'nodule_prob': {0: 'n'}, 'thyroid_prob': {0: 'n'}}, opset_version=17)
    nx = nets.NoduleExport(nnet).eval()
    torch.onnx.export(nx, torch.zeros(1, 1, G.CROP, G.CROP), os.path.join(out, 'nodule.onnx'),
                      input_names=['crop'], output_names=list(nets.HEADS) + ['suspicion_logit'],
                      dynamic_axes={'crop': {0: 'n'}, **{k: {0: 'n'} for k in list(nets.HEADS) + ['suspicion_logit']}},
                      opset_version=17)


if __name__ == '__main__':
    main()
