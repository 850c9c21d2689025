"""Side experiment of session 19 (not shipped; the model card, "Learned channels on the frame network"):
does a FrameNet that also learns, per map cell inside the outline, the case's suspicion (TI-RADS >= 4) and
"any calcification" (the lexicon reading) give the suspicion combiner a feature the seven measured
descriptors lack?

    # the five held-out folds' maps (one process per core, TRIAGE_THREADS=1), then the served-path figures
    /usr/bin/python3 learned_channels.py train K DIR        # K = 0..4
    TRIAGE_OOF_SCORES=/tmp/a.json /usr/bin/python3 learned_channels.py eval DIR none
    TRIAGE_OOF_SCORES=/tmp/b.json /usr/bin/python3 learned_channels.py eval DIR susp_tight   # or calc_tight, susp_ctx, ...
    /usr/bin/python3 compare_runs.py /tmp/a.json /tmp/b.json

Answer (shipped seeds, 14 epochs, 312x192): no. Each channel alone ranks cases at 0.49-0.59 and, on the
frames where the finder hit the nodule, the suspicion channel ranks TI-RADS >= 4 at 0.496 and the
calcification channel "any calcification" at 0.535; added to the combiner they change the served case AUC
by +0.001 (-0.019 to +0.019) and -0.001 (-0.027 to +0.027).
"""
import os
import sys
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import geometry as G  # noqa: E402
import nets  # noqa: E402
import served  # noqa: E402
import triage_data as D  # noqa: E402
import train_triage as T  # noqa: E402
from metrics import auc  # noqa: E402

DATA = os.environ.get('TRIAGE_DATA', os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../../../shared/data')))
LAMBDA = float(os.environ.get('SUSP_LAMBDA', '0.5'))  # weight of the two learned channels' loss


class FrameNetS(nets.FrameNet):
    def __init__(self):
        super().__init__()
        self.head = nn.Conv2d(24, 3, 1)


def mirrored(net, x):
    m1, g1 = net.forward_one(x)
    m2, g2 = net.forward_one(torch.flip(x, [3]))
    return (m1 + torch.flip(m2, [3])) / 2, (g1 + g2) / 2


def train(frames, others, seed, epochs):
    """train_triage's recipe with FrameNetS; the two learned channels' loss is added on the cells inside the outline."""
    labs = np.array([f['label'] for f in frames if f['label'] is not None])
    calcs = np.array([f['lexicon']['echogenicFoci'] > 0 for f in frames if f['lexicon']['echogenicFoci'] is not None])
    # Per item (frames, then others): the case label and "any calcification", -1 where unknown or not thyroid.
    lab = [-1.0 if f['label'] is None else float(f['label']) for f in frames] + [-1.0] * len(others)
    calc = [-1.0 if f['lexicon']['echogenicFoci'] is None else float(f['lexicon']['echogenicFoci'] > 0) for f in frames] + [-1.0] * len(others)
    channels = ((1, lab, 0.5 / labs.mean(), 0.5 / (1 - labs.mean())), (2, calc, 0.5 / calcs.mean(), 0.5 / (1 - calcs.mean())))

    def extra_loss(out, batch, m):
        l_aux = torch.tensor(0.0)
        for ch, targets, wp, wn in channels:
            t = torch.tensor([targets[i] for i in batch])
            sel = t >= 0
            if sel.any():
                tt = t[sel][:, None, None, None].expand_as(m[sel])
                cw = m[sel] * torch.where(tt > 0.5, torch.tensor(wp), torch.tensor(wn))
                bce = F.binary_cross_entropy_with_logits(out[sel, ch:ch + 1], tt, reduction='none')
                l_aux = l_aux + (bce * cw).sum() / (m[sel].sum() + 1e-6)
        return LAMBDA * l_aux

    return T.train_frame(frames, others, seed, epochs=epochs, make_net=FrameNetS, extra_loss=extra_loss)


def forward(net, gray):
    x = torch.from_numpy(G.normalise(G.letterbox(gray))[None, None])
    with torch.no_grad():
        m, g = mirrored(net, x)
    p = torch.sigmoid(m)[0].numpy().astype(np.float64)
    return p[0], p[1], p[2], float(torch.sigmoid(g)[0, 0])


def train_fold(k, cache):
    epochs = int(os.environ.get('TRIAGE_FRAME_EPOCHS', '14'))
    torch.set_num_threads(int(os.environ.get('TRIAGE_THREADS', '1')))
    frames = D.load_frames(os.path.join(DATA, 'thyroid/ddti-frames'))
    others = D.load_others(os.path.join(DATA, 'ultrasound-other'))
    ffold, ofold = T.make_folds(frames, others)
    os.makedirs(cache, exist_ok=True)
    held_f, held_o = np.where(ffold == k)[0], np.where(ofold == k)[0]
    net = train([frames[i] for i in np.where(ffold != k)[0]], [others[i] for i in np.where(ofold != k)[0]], T.SEED + k, epochs)
    outs = [forward(net, frames[i]['gray']) for i in held_f] + [forward(net, others[i]['gray']) for i in held_o]
    names = [frames[i]['image'] for i in held_f] + ['other:' + others[i]['image'] for i in held_o]
    np.savez(os.path.join(cache, f'fold{k}.npz'), maps=np.stack([o[0] for o in outs]), susp=np.stack([o[1] for o in outs]),
             calc=np.stack([o[2] for o in outs]), gates=np.array([o[3] for o in outs]), names=np.array(names))


def logit(p):
    p = min(max(p, 1e-4), 1 - 1e-4)
    return float(np.log(p / (1 - p)))


def evaluate(cache, mode):
    """The served path on the held-out maps; `mode` names the learned features added to the combiner (none: descriptors only)."""
    frames = D.load_frames(os.path.join(DATA, 'thyroid/ddti-frames'))
    others = D.load_others(os.path.join(DATA, 'ultrasound-other'))
    ffold, ofold = T.make_folds(frames, others)
    oof = {'frames': [None] * len(frames), 'others': [None] * len(others)}
    for k in range(T.K):
        z = np.load(os.path.join(cache, f'fold{k}.npz'))
        held_f, held_o = np.where(ffold == k)[0], np.where(ofold == k)[0]
        for j, i in enumerate(held_f):
            prob, susp, calc = z['maps'][j], z['susp'][j], z['calc'][j]
            r = served.analyse_map(prob, float(z['gates'][j]), frames[i]['gray'])
            h, w = frames[i]['gray'].shape
            comps = [c for c in G.components(prob, served.SEG_THRESHOLD) if len(c[0]) >= served.MIN_CELLS]
            comps.sort(key=lambda c: -c[1])
            by_box = {tuple(np.round(G.cells_box(cells, w, h), 6)): cells for cells, _ in comps}
            context = G.components(prob, served.SCORE_THRESHOLD)
            owner = {rc: n for n, (cells, _) in enumerate(context) for rc in cells}
            for c in r['candidates']:
                cells = by_box[tuple(np.round(c['box'], 6))]
                ctx = context[owner[cells[0]]][0]
                rr, cc = np.array([a for a, _ in cells]), np.array([b for _, b in cells])
                wt = prob[rr, cc]
                rx, cx = np.array([a for a, _ in ctx]), np.array([b for _, b in ctx])
                wx = prob[rx, cx]
                feats = {
                    'susp_tight': logit(float((susp[rr, cc] * wt).sum() / wt.sum())),
                    'calc_tight': logit(float((calc[rr, cc] * wt).sum() / wt.sum())),
                    'susp_ctx': logit(float((susp[rx, cx] * wx).sum() / wx.sum())),
                    'calc_ctx': logit(float((calc[rx, cx] * wx).sum() / wx.sum())),
                    'susp_max': logit(float(susp[rr, cc].max())),
                }
                c['learned'] = feats
                extra = [feats[n] for n in mode.split('+')] if mode != 'none' else []
                c['score_descriptors'] = np.r_[c['score_descriptors'], extra]
            oof['frames'][i] = r
        for j, i in enumerate(held_o):
            oof['others'][i] = {'gate': float(z['gates'][len(held_f) + j]), 'candidates': []}

    rep, _ = served.fit_and_report(frames, others, oof, ffold)
    s = rep['summary']
    print(mode, 'case AUC', s['case_auc'], 'image', s['image_auc'], 'locator', s['locator_hit_rate'], 'gate', s['gate'])
    at95 = rep['served']['case']['thresholds'][0]
    print(f"  at sensitivity {at95['sensitivity']['value']}: specificity {at95['specificity']['value']} {at95['specificity']['ci95']}")
    # each learned feature alone, top confident candidate, case max, labelled frames
    for name in ('susp_tight', 'calc_tight', 'susp_ctx', 'calc_ctx', 'susp_max'):
        sc, yy, cs = [], [], []
        for f, r in zip(frames, oof['frames']):
            if f['label'] is None:
                continue
            conf = [c for c in r['candidates'] if c['confidence'] >= served.CONFIDENCE_THRESHOLD]
            sc.append(max((c['learned'][name] for c in conf), default=-20.0))
            yy.append(f['label'])
            cs.append(f['case'])
        kc, pc = served.case_max(np.array(sc), np.array(cs))
        ycase = np.array([np.array(yy)[np.array(cs) == c][0] for c in kc])
        print(f'  {name} alone: case AUC {auc(pc, ycase):.3f}')

    # On the frames where the finder's top candidate hit the outline: each channel against what it learned.
    lab, cal = [], []
    for f, r in zip(frames, oof['frames']):
        if r['candidates'] and served.hit_of(f, r['candidates'][0]):
            c = r['candidates'][0]['learned']
            if f['label'] is not None:
                lab.append((f['label'], c['susp_tight']))
            if f['lexicon']['echogenicFoci'] is not None:
                cal.append((int(f['lexicon']['echogenicFoci'] > 0), c['calc_tight']))
    print(f'  on hit frames: suspicion channel vs TI-RADS >= 4 {auc(np.array([s for _, s in lab]), np.array([y for y, _ in lab])):.3f} ({len(lab)} frames), '
          f'calcification channel vs any calcification {auc(np.array([s for _, s in cal]), np.array([y for y, _ in cal])):.3f} ({len(cal)})')

if __name__ == '__main__':
    if len(sys.argv) >= 4 and sys.argv[1] == 'train':
        train_fold(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) >= 3 and sys.argv[1] == 'eval':
        evaluate(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else 'none')
    else:
        raise SystemExit(__doc__)
