"""Whole-frame triage: one command trains, cross-validates the served path and writes the shipped model.

    nice /usr/bin/python3 models/thyroid-nodule/train/train_triage.py [--data ../shared/data] [--out models/thyroid-nodule]

1. FrameNet (scope gate + nodule map) on whole DDTI frames (positives, outlines) and non-thyroid
   ultrasound (negatives).
2. K-fold cross-validation split by ddti_case (negatives by source clip): each held-out frame runs the
   served path (served.py, mirrored by the TypeScript worker): gate, candidates, each candidate's
   region on the full-resolution frame, its measured descriptors (descriptors.py).
3. The lexicon heads and the suspicion combiner (linear models on the descriptors) are cross-fitted on
   the out-of-fold candidates; calibration and thresholds come from the cross-fitted case scores.
4. The final FrameNet on all data -> frame.onnx; heads and combiner on all out-of-fold candidates ->
   manifest.json; parity.json; cv-served.json.
5. box_stage.py: the box combiner for named boxes (a reader's box, a crop), fitted on the radiologists'
   outlined nodules, cross-fitted by case for its figures and thresholds.
Fixed seeds; CPU only. `--frame-cache DIR` keeps each fold's held-out maps and the final network, so
a rerun that changes only the descriptor stage takes minutes instead of the FrameNet trainings.
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
# 40 since 3.6.0 (14 before): at 312x192 the longer run finds the nodule more often (the card, "40 epochs at 312x192").
FRAME_EPOCHS = int(os.environ.get('TRIAGE_FRAME_EPOCHS', '40'))
# FrameNets per map: the served graph averages the networks of these members of one recipe (nets.FrameExport).
# Member j's networks are seeded by fold_seed and final_seed below. 3.6.0 ships member 1
# alone: member 0's 40-epoch held-out maps were on a machine that is gone, and both seeds met the rule (the card).
# TRIAGE_FRAME_MEMBERS=0,1,2 for an ensemble; TRIAGE_FRAME_SEEDS=N is members 0 .. N-1.
if os.environ.get('TRIAGE_FRAME_MEMBERS'):
    FRAME_MEMBERS = [int(v) for v in os.environ['TRIAGE_FRAME_MEMBERS'].split(',')]
elif os.environ.get('TRIAGE_FRAME_SEEDS'):
    FRAME_MEMBERS = list(range(int(os.environ['TRIAGE_FRAME_SEEDS'])))
else:
    FRAME_MEMBERS = [1]
T0 = time.time()


def fold_seed(k, j):
    return SEED + k + 100 * j


def final_seed(j):
    return SEED + 1000 + 100 * j


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


# ---------------------------------------------------------------- training
def train_frame(frames, others, seed, device='cpu', epochs=None, make_net=nets.FrameNet, extra_loss=None):
    """The FrameNet recipe. Side experiments (learned_channels.py) pass a network with more map channels
    (the first is the nodule map) and `extra_loss(out, batch, m)`: the map output, the batch's item indices
    (frames first, then others) and the target map, added to the loss; the sampling is unchanged."""
    epochs = epochs or FRAME_EPOCHS
    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    net = make_net().to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    items = [(f['gray'], f['mask'], 1.0) for f in frames] + [(o['gray'], None, 0.0) for o in others]
    steps = epochs * ((len(items) + 15) // 16)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.15)
    net.train()
    for ep in range(epochs):
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
            x, m, y = x.to(device), m.to(device), y.to(device)
            out, gate = net.forward_one(x)
            seg = out[:, :1]
            pos = (y[:, 0] > 0.5)
            l_gate = F.binary_cross_entropy_with_logits(gate, y)
            l_seg = F.binary_cross_entropy_with_logits(seg, m, pos_weight=torch.tensor(4.0, device=device))
            if pos.any():
                p = torch.sigmoid(seg[pos])
                inter = (p * m[pos]).sum(dim=(1, 2, 3))
                dice = 1 - (2 * inter + 1) / (p.sum(dim=(1, 2, 3)) + m[pos].sum(dim=(1, 2, 3)) + 1)
                l_seg = l_seg + dice.mean()
            loss = l_seg + l_gate
            if extra_loss is not None:
                loss = loss + extra_loss(out, order[b:b + 16], m)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += float(loss)
        log(f'  frame epoch {ep + 1}/{epochs} loss {tot / max(1, len(order) // 16):.3f}')
    net.eval()
    return net.cpu()


def make_folds(frames, others):
    """DDTI by case, stratified by label (labelled negatives are scarce); others by clip."""
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
    return ffold, ofold


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser()
    root = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument('--data', default=os.path.abspath(os.path.join(root, '../../../../shared/data')))
    ap.add_argument('--out', default=os.path.abspath(os.path.join(root, '..')))
    ap.add_argument('--frame-cache', default=None, help='keep (and reuse) each fold\'s held-out maps and the final FrameNet here')
    ap.add_argument('--seed-index', type=int, default=None,
                    help='only train (or load) ensemble member J: its held-out maps and final network into --frame-cache, then stop '
                         '(run each member J of TRIAGE_FRAME_MEMBERS in parallel processes, then the full command reads them all)')
    ap.add_argument('--folds-only', action='store_true', help='with --seed-index: the held-out maps only, no final network')
    ap.add_argument('--final-only', action='store_true', help='with --seed-index: the final network only (in parallel with --folds-only)')
    ap.add_argument('--cv-only', action='store_true', help='stop after the cross-validated figures (no final network, nothing written to --out)')
    ap.add_argument('--fold', type=int, default=None, help='with --seed-index --folds-only: only fold K (0-based), so folds can run in parallel too')
    args = ap.parse_args()
    if args.seed_index is not None and not args.frame_cache:
        ap.error('--seed-index needs --frame-cache')
    if args.fold is not None and (args.seed_index is None or not args.folds_only or not 0 <= args.fold < K):
        ap.error(f'--fold needs --seed-index and --folds-only, and 0 <= K < {K}')
    torch.set_num_threads(int(os.environ.get('TRIAGE_THREADS', '2')))
    np.random.seed(SEED)
    torch.manual_seed(SEED)

    frames = D.load_frames(os.path.join(args.data, 'thyroid/ddti-frames'))
    others = D.load_others(os.path.join(args.data, 'ultrasound-other'))
    log(f'{len(frames)} DDTI frames, {len(others)} non-thyroid frames')

    ffold, ofold = make_folds(frames, others)

    oof = {'frames': [None] * len(frames), 'others': [None] * len(others)}
    cache = args.frame_cache
    if cache:
        os.makedirs(cache, exist_ok=True)
    members = [args.seed_index] if args.seed_index is not None else FRAME_MEMBERS
    loaded = 0
    for k in range(0 if args.final_only else K):
        if args.fold is not None and k != args.fold:
            continue
        log(f'fold {k + 1}/{K}')
        held_f, held_o = np.where(ffold == k)[0], np.where(ofold == k)[0]
        per_member = []
        for j in members:
            maps, gates, from_cache = fold_maps(frames, others, ffold, ofold, k, j, cache)
            loaded += from_cache
            per_member.append((maps, gates))
        if args.seed_index is not None:
            continue
        # The mean of the members' probabilities, as the exported graph computes it.
        maps = np.mean([m for m, _ in per_member], axis=0)
        gates = np.mean([g for _, g in per_member], axis=0)
        for j, i in enumerate(held_f):
            oof['frames'][i] = served.analyse_map(maps[j], float(gates[j]), frames[i]['gray'])
        for j, i in enumerate(held_o):
            oof['others'][i] = {'gate': float(gates[len(held_f) + j]), 'candidates': []}
        log(f'fold {k + 1} done')
    if args.seed_index is not None:
        if not args.folds_only:
            final_net(frames, others, args.seed_index, cache)
        log(f'member {args.seed_index}: held-out maps and final network in {cache}')
        return

    report, comb = served.fit_and_report(frames, others, oof, ffold)
    log(json.dumps(report['summary'], indent=1))
    if args.cv_only:
        log(f"locator {json.dumps(report['locator'])}")
        return

    fnets = []
    for j in members:
        fnet, from_cache = final_net(frames, others, j, cache)
        loaded += from_cache
        fnets.append(fnet)
    export(fnets, args.out)
    networks = 'trained in this run' if loaded == 0 else (
        f'{loaded} of {(K + 1) * len(members)} FrameNets (or their held-out maps) loaded from --frame-cache (trained by this script or cv_device.py; '
        'seconds counts only this run)')
    recipe = {'frame_epochs': FRAME_EPOCHS, 'frame_members': members,
              'frame_seeds': {'folds': [[fold_seed(k, j) for k in range(K)] for j in members], 'final': [final_seed(j) for j in members]}}
    served.write_manifest(args.out, report, comb, time.time() - T0, len(frames), len(others), networks, recipe)
    served.write_parity(fnets, comb, frames, args.out)
    with open(os.path.join(args.out, 'cv-served.json'), 'w') as fh:
        json.dump(report, fh, indent=1)
    # Named boxes (a reader's, a crop's) get their own combiner and thresholds: box_stage.py says why.
    import box_stage
    box_stage.update_outputs(args.out, frames, ffold)
    stale = os.path.join(args.out, 'nodule.onnx')
    if os.path.exists(stale):
        os.remove(stale)  # the crop network of 2.x: replaced by the measured descriptors
    log('done')


def member_file(cache, stem, j, ext):
    """Member 0 keeps the single-network names (fold<k>.npz, final.pt), so older caches still load."""
    return os.path.join(cache, f'{stem}.{ext}' if j == 0 else f'{stem}-s{j}.{ext}') if cache else None


def fold_maps(frames, others, ffold, ofold, k, j, cache):
    """Member j's nodule maps and gate outputs for fold k's held-out frames (DDTI, then non-thyroid); 1 if from the cache."""
    held_f, held_o = np.where(ffold == k)[0], np.where(ofold == k)[0]
    names = [frames[i]['image'] for i in held_f] + ['other:' + others[i]['image'] for i in held_o]
    cached = member_file(cache, f'fold{k}', j, 'npz')
    grid = (G.FRAME_H // G.FRAME_STRIDE, G.FRAME_W // G.FRAME_STRIDE)
    if cached and os.path.exists(cached):
        z = np.load(cached)
        if list(z['names']) == names:
            if tuple(z['maps'].shape[1:]) != grid:  # a cache of another TRIAGE_FRAME_SIZE: never read it as this one
                raise SystemExit(f'{cached}: maps of {z["maps"].shape[1:]} cells, this run expects {grid} (TRIAGE_FRAME_SIZE)')
            return z['maps'], z['gates'], 1
    trained = member_file(cache, f'fold{k}', j, 'pt')
    loaded = 0
    if trained and os.path.exists(trained):  # trained elsewhere (cv_device.py), same seeds and folds
        fnet = nets.FrameNet()
        fnet.load_state_dict(torch.load(trained))
        fnet.eval()
        loaded = 1
    else:
        log(f'  member {j}: training')
        fnet = train_frame([frames[i] for i in np.where(ffold != k)[0]], [others[i] for i in np.where(ofold != k)[0]], fold_seed(k, j))
    with torch.no_grad():
        outs = [served.frame_forward(fnet, frames[i]['gray']) for i in held_f] + [served.frame_forward(fnet, others[i]['gray']) for i in held_o]
    maps, gates = np.stack([m for m, _ in outs]), np.array([g for _, g in outs])
    if cached:
        np.savez(cached, maps=maps, gates=gates, names=np.array(names))
    return maps, gates, loaded


def final_net(frames, others, j, cache):
    """Member j of the shipped graph, trained on all data (or from the cache); 1 if from the cache."""
    final = member_file(cache, 'final', j, 'pt')
    fnet = nets.FrameNet()
    if final and os.path.exists(final):
        fnet.load_state_dict(torch.load(final))
        fnet.eval()
        log(f'final FrameNet {j} from the cache')
        return fnet, 1
    log(f'final FrameNet {j} on all data')
    fnet = train_frame(frames, others, final_seed(j))
    if final:
        torch.save(fnet.state_dict(), final)
    return fnet, 0


def export(fnets, out):
    os.makedirs(out, exist_ok=True)
    fx = nets.FrameExport(fnets).eval()
    torch.onnx.export(fx, torch.zeros(1, 1, G.FRAME_H, G.FRAME_W), os.path.join(out, 'frame.onnx'),
                      input_names=['image'], output_names=['nodule_prob', 'thyroid_prob'],
                      dynamic_axes={'image': {0: 'n'}, 'nodule_prob': {0: 'n'}, 'thyroid_prob': {0: 'n'}}, opset_version=17)


if __name__ == '__main__':
    main()
