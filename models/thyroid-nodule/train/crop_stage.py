"""The crop stage of the served path: each FrameNet candidate is looked at again on the full-resolution
frame, in the square window geometry.crop cuts around its box (160 px, 1.5x the box's longer side).

CropNet reads that window twice: the first look regresses the nodule's box (FrameNet's boxes are often
several times too large: out of fold, 82 of the top candidates that missed held the nodule's centre),
the second look, on the refined box, says whether a nodule is there (objectness, so a box on the carotid
or the trachea is not scored), reads the ACR lexicon items (one softmax per item, supervised by the
radiologist's readings) and gives a suspicion logit (TI-RADS >= 4).

Training data is a bank of proposals cut once from every frame: boxes near each outlined nodule, boxes
much larger or shifted (what FrameNet proposes when it misses), boxes away from any nodule, and boxes on
non-thyroid ultrasound. The bank is built on the CPU (geometry.crop, exactly as served); augmentation
(mirror, gain, gamma, speckle) runs on the device.
"""
import math
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import geometry as G
import triage_data as D

HEADS = {
    'composition': ['cystic', 'spongiform', 'mixed', 'solid'],
    'echogenicity': ['hyper-iso', 'hypo', 'very-hypo'],
    'margin': ['smooth', 'ill-defined', 'lobulated-irregular'],
    'echogenicFoci': ['none', 'macro', 'punctate'],
}
HEAD_NAMES = list(HEADS)
N_LEX = sum(len(v) for v in HEADS.values())
NEAR_IOU = 0.4      # proposals this close to an outline carry the nodule's lexicon and label


def conv(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class CropNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            conv(1, 12, 2), conv(12, 12),      # 80
            conv(12, 24, 2), conv(24, 24),     # 40
            conv(24, 32, 2), conv(32, 32),     # 20
            conv(32, 48, 2), conv(48, 48),     # 10
            conv(48, 64, 2))                   # 5
        self.drop = nn.Dropout(0.3)
        self.obj = nn.Linear(128, 1)
        self.reg = nn.Linear(128, 4)
        self.sus = nn.Linear(128, 1)
        self.lex = nn.Linear(128, N_LEX)

    def forward(self, x):
        f = self.features(x)
        p = self.drop(torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3))], 1))
        return self.obj(p), self.reg(p), self.sus(p), self.lex(p)


class CropExport(nn.Module):
    """ONNX graph: crop (N,1,160,160) -> objectness (N,1), box (N,4: dx, dy, log w, log h in window
    units), suspicion logit (N,1), lexicon probabilities (N,13: the HEADS in order, softmax per item).
    Averages the crop and its mirror image inside the graph (dx changes sign under the mirror)."""

    def __init__(self, nets):
        super().__init__()
        self.nets = nn.ModuleList(nets)

    def forward(self, crop):
        objs, regs, suss, lexs = [], [], [], []
        sign = torch.tensor([-1.0, 1.0, 1.0, 1.0])
        for net in self.nets:
            for flip in (False, True):
                o, r, s, lx = net(torch.flip(crop, [3]) if flip else crop)
                objs.append(o)
                regs.append(r * sign if flip else r)
                suss.append(s)
                lexs.append(lx)
        n = float(len(objs))
        lex = sum(lexs) / n
        parts, i = [], 0
        for cats in HEADS.values():
            parts.append(torch.softmax(lex[:, i:i + len(cats)], 1))
            i += len(cats)
        return torch.sigmoid(sum(objs) / n), sum(regs) / n, sum(suss) / n, torch.cat(parts, 1)


# ---------------------------------------------------------------- proposals and their targets
def window_of(box, w, h):
    left, top, side = G.crop_window(box, w, h)
    return left + side / 2.0, top + side / 2.0, float(side)


def refine(box, reg, w, h):
    """Box regressed by the first look -> the box of the second look (clipped to the image)."""
    cx, cy, side = window_of(box, w, h)
    dx, dy, lw, lh = [float(v) for v in reg]
    bw, bh = math.exp(max(min(lw, 1.0), -4.0)) * side, math.exp(max(min(lh, 1.0), -4.0)) * side
    x, y = cx + dx * side, cy + dy * side
    x0, x1 = min(max(x - bw / 2, 0.0), w), min(max(x + bw / 2, 0.0), w)
    y0, y1 = min(max(y - bh / 2, 0.0), h), min(max(y + bh / 2, 0.0), h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return box
    return (x0, y0, x1, y1)


def centre_in(g, b):
    cx, cy = (g[0] + g[2]) / 2, (g[1] + g[3]) / 2
    return b[0] <= cx <= b[2] and b[1] <= cy <= b[3]


def targets(box, gts, w, h):
    """(objectness target or -1 to ignore, regression target or None, best IoU)."""
    if not gts:
        return 0.0, None, 0.0
    ious = [G.box_iou(box, g) for g in gts]
    j = int(np.argmax(ious))
    inside = [centre_in(g, box) for g in gts]
    if not any(inside) and ious[j] < 0.05:
        return 0.0, None, ious[j]
    if ious[j] < 0.25 and not inside[j]:
        j = int(np.argmax([iou if ins else -1 for iou, ins in zip(ious, inside)]))
    g = gts[j]
    cx, cy, side = window_of(box, w, h)
    area_b = (box[2] - box[0]) * (box[3] - box[1])
    area_g = (g[2] - g[0]) * (g[3] - g[1])
    reg = np.array([((g[0] + g[2]) / 2 - cx) / side, ((g[1] + g[3]) / 2 - cy) / side,
                    math.log(max(g[2] - g[0], 1.0) / side), math.log(max(g[3] - g[1], 1.0) / side)], dtype=np.float32)
    if ious[j] >= 0.25 or (centre_in(g, box) and area_g * 10 >= area_b):
        return 1.0, reg, ious[j]
    return -1.0, reg, ious[j]


def clip_box(b, w, h):
    x0, y0, x1, y1 = b
    x0, x1 = min(max(x0, 0.0), w - 4.0), min(max(x1, 4.0), float(w))
    y0, y1 = min(max(y0, 0.0), h - 4.0), min(max(y1, 4.0), float(h))
    return (x0, y0, max(x1, x0 + 4.0), max(y1, y0 + 4.0))


def jitter(rng, g, w, h, far):
    gw, gh = g[2] - g[0], g[3] - g[1]
    cx, cy = (g[0] + g[2]) / 2, (g[1] + g[3]) / 2
    if far:
        s = math.exp(rng.uniform(math.log(1.3), math.log(3.2)))
        sx, sy = s * math.exp(rng.uniform(-0.25, 0.25)), s * math.exp(rng.uniform(-0.25, 0.25))
        cx += rng.uniform(-0.4, 0.4) * gw * sx / 2
        cy += rng.uniform(-0.4, 0.4) * gh * sy / 2
    else:
        s = math.exp(rng.uniform(math.log(0.8), math.log(1.35)))
        sx, sy = s * math.exp(rng.uniform(-0.12, 0.12)), s * math.exp(rng.uniform(-0.12, 0.12))
        cx += rng.normal(0, 0.07) * gw
        cy += rng.normal(0, 0.07) * gh
    bw, bh = gw * sx, gh * sy
    return clip_box((cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2), w, h)


def random_box(rng, w, h):
    side = rng.uniform(24, 0.7 * min(w, h))
    bw, bh = side * math.exp(rng.uniform(-0.4, 0.4)), side * math.exp(rng.uniform(-0.4, 0.4))
    x, y = rng.uniform(0, max(1.0, w - bw)), rng.uniform(0, max(1.0, h - bh))
    return clip_box((x, y, x + bw, y + bh), w, h)


def frame_proposals(args):
    """Bank rows of one frame: list of (crop uint8, obj, reg, reg_ok, near, kind)."""
    gray, gts, seed, n_near, n_far, n_neg = args
    rng = np.random.RandomState(seed)
    h, w = gray.shape
    rows = []
    boxes = []
    for g in gts:
        boxes += [(jitter(rng, g, w, h, False), 'near') for _ in range(max(1, n_near // len(gts)))]
        boxes += [(jitter(rng, g, w, h, True), 'far') for _ in range(max(1, n_far // len(gts)))]
    tries = 0
    negs = 0
    while negs < n_neg and tries < n_neg * 20:
        tries += 1
        b = random_box(rng, w, h)
        obj, _, _ = targets(b, gts, w, h)
        if obj == 0.0:
            boxes.append((b, 'neg'))
            negs += 1
    for b, kind in boxes:
        obj, reg, iou = targets(b, gts, w, h)
        c = np.clip(np.floor(G.crop(gray, b) + 0.5), 0, 255).astype(np.uint8)
        rows.append((c, obj, reg if reg is not None else np.zeros(4, np.float32), reg is not None, iou >= NEAR_IOU, kind))
    return rows


def lexicon_targets(frame):
    lx = frame['lexicon']
    return [(-1 if lx[k] is None else int(lx[k])) for k in HEAD_NAMES]


def build_bank(frames, others, seed, pool=None, n_near=40, n_far=30, n_neg=30, n_other=12):
    """The proposal bank over every frame. Returns dict of numpy arrays; 'src' indexes frames (>= 0) or
    others (-1 - index), so folds select rows by their frames."""
    jobs, meta = [], []
    for i, f in enumerate(frames):
        gts = D.components_of(f['mask']) if 'gt_boxes' not in f else f['gt_boxes']
        f['gt_boxes'] = gts
        jobs.append((f["gray"], gts, (seed * 1009 + i) % 2**31, n_near, n_far, n_neg))
        meta.append((i, f))
    for i, o in enumerate(others):
        jobs.append((o["gray"], [], (seed * 1009 + 100000 + i) % 2**31, 0, 0, n_other))
        meta.append((-1 - i, None))
    results = pool.map(frame_proposals, jobs, chunksize=4) if pool else [frame_proposals(j) for j in jobs]
    X, obj, reg, reg_ok, near, src, label, lex = [], [], [], [], [], [], [], []
    for (i, f), rows in zip(meta, results):
        lab = f['label'] if f is not None and f['label'] is not None else -1
        lt = lexicon_targets(f) if f is not None else [-1] * len(HEAD_NAMES)
        for c, o, r, ok, nr, _ in rows:
            X.append(c)
            obj.append(o)
            reg.append(r)
            reg_ok.append(ok)
            near.append(nr)
            src.append(i)
            label.append(lab if nr else -1)
            lex.append(lt if nr else [-1] * len(HEAD_NAMES))
    return {'X': np.stack(X), 'obj': np.array(obj, np.float32), 'reg': np.stack(reg).astype(np.float32),
            'reg_ok': np.array(reg_ok), 'near': np.array(near), 'src': np.array(src), 'label': np.array(label),
            'lex': np.array(lex, dtype=np.int64)}


# ---------------------------------------------------------------- training
def class_weights(t, n):
    cnt = np.bincount(t[t >= 0], minlength=n).astype(np.float64) + 1.0
    w = np.sqrt(cnt.sum() / (n * cnt))
    return torch.tensor(w / w.mean(), dtype=torch.float32)


def train_crop(bank, rows, seed, device, epochs=16, batch=256, log=print):
    torch.manual_seed(seed)
    g = torch.Generator(device='cpu').manual_seed(seed)
    net = CropNet().to(device)
    X = torch.from_numpy(bank['X'][rows]).to(device)
    obj = torch.from_numpy(bank['obj'][rows]).to(device)
    reg = torch.from_numpy(bank['reg'][rows]).to(device)
    reg_ok = torch.from_numpy(bank['reg_ok'][rows] & (bank['obj'][rows] > 0.5)).to(device)
    lab = torch.from_numpy(bank['label'][rows]).to(device)
    lex = torch.from_numpy(bank['lex'][rows]).to(device)
    n = len(rows)
    yl = bank['label'][rows]
    npos, nneg = max(1, int((yl == 1).sum())), max(1, int((yl == 0).sum()))
    pos_weight = torch.tensor(nneg / npos, device=device)
    cw = [class_weights(bank['lex'][rows][:, k], len(c)).to(device) for k, c in enumerate(HEADS.values())]
    steps = epochs * ((n + batch - 1) // batch)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.15)
    net.train()
    sign = torch.tensor([-1.0, 1.0, 1.0, 1.0], device=device)
    for ep in range(epochs):
        perm = torch.randperm(n, generator=g).to(device)
        tot = 0.0
        for b in range(0, n, batch):
            idx = perm[b:b + batch]
            x = X[idx].float() / 255.0
            m = x.shape[0]
            gain = torch.empty(m, 1, 1, device=device).uniform_(0.75, 1.25)
            gamma = torch.empty(m, 1, 1, device=device).uniform_(0.75, 1.35)
            x = torch.clamp(x * gain, 0, 1) ** gamma
            x = torch.clamp(x * (1 + 0.08 * torch.randn_like(x)), 0, 1)
            x = ((x - G.MEAN) / G.STD)[:, None]
            flip = torch.rand(m, device=device) < 0.5
            x = torch.where(flip[:, None, None, None], torch.flip(x, [3]), x)
            r = torch.where(flip[:, None], reg[idx] * sign, reg[idx])
            o_hat, r_hat, s_hat, lx_hat = net(x)
            o_t = obj[idx]
            ok = o_t >= 0
            loss = F.binary_cross_entropy_with_logits(o_hat[ok, 0], o_t[ok]) if ok.any() else o_hat.sum() * 0
            ro = reg_ok[idx]
            if ro.any():
                loss = loss + 2.0 * F.smooth_l1_loss(r_hat[ro], r[ro], beta=0.1)
            lt = lab[idx]
            lo = lt >= 0
            if lo.any():
                loss = loss + F.binary_cross_entropy_with_logits(s_hat[lo, 0], lt[lo].float(), pos_weight=pos_weight)
            i0 = 0
            for k, cats in enumerate(HEADS.values()):
                t = lex[idx, k]
                if (t >= 0).any():
                    loss = loss + 0.5 * F.cross_entropy(lx_hat[:, i0:i0 + len(cats)], t, weight=cw[k], ignore_index=-1)
                i0 += len(cats)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += float(loss) * m
        if ep == epochs - 1 or ep % 4 == 0:
            log(f'  crop seed {seed} epoch {ep + 1}/{epochs} loss {tot / n:.3f}')
    net.eval()
    return net.cpu()


# ---------------------------------------------------------------- the served crop stage (Python side)
def crop_forward(export, gray, box):
    x = torch.from_numpy(G.normalise(G.crop(gray, box))[None, None])
    with torch.no_grad():
        o, r, s, lx = export(x)
    return {'objectness': float(o[0, 0]), 'reg': r[0].numpy().astype(np.float64), 'logit': float(s[0, 0]),
            'lexicon': lx[0].numpy().astype(np.float64)}


def look(export, gray, box):
    """Two looks at one candidate: refine its box, then read the nodule in the refined box."""
    h, w = gray.shape
    first = crop_forward(export, gray, box)
    rbox = refine(box, first['reg'], w, h)
    second = crop_forward(export, gray, rbox)
    second['box'] = rbox
    return second


def lexicon_dict(vec):
    out, i = {}, 0
    for k, cats in HEADS.items():
        out[k] = vec[i:i + len(cats)]
        i += len(cats)
    return out
