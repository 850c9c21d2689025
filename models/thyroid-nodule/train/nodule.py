"""Preprocessing, network and in-graph descriptors shared by training and ONNX export.

The preprocessing here is mirrored line for line by packages/nodule-model/src/preprocess.ts; the
parity fixture (models/thyroid-nodule/parity.json) is how the two are held together.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

INPUT_SIZE = 64
# Fixed intensity normalisation (pixel/255 - MEAN) / STD. Fixed rather than per-image so that the
# echogenicity descriptors keep their meaning (brightness relative to the surrounding tissue).
NORM_MEAN = 0.3
NORM_STD = 0.15


def area_matrix(src: int, dst: int) -> np.ndarray:
    """Row o averages source pixels over [o*src/dst, (o+1)*src/dst), weighted by overlap."""
    scale = src / dst
    m = np.zeros((dst, src), dtype=np.float64)
    for o in range(dst):
        start = o * scale
        end = (o + 1) * scale
        i = int(math.floor(start))
        while i < end and i < src:
            overlap = min(end, i + 1) - max(start, i)
            if overlap > 0:
                m[o, i] += overlap / scale
            i += 1
    return m


def square_geometry(width: int, height: int):
    side = max(width, height)
    left = (side - width) // 2
    top = (side - height) // 2
    return side, left, top


def preprocess(gray: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """gray: (H, W) 0..255 -> (size, size) float32 model input.

    Pad to a centred square with 0 (black, like the area outside an ultrasound sector) so that shape
    descriptors are not distorted, then area-average down (or up) to size x size, then normalise.
    """
    height, width = gray.shape
    side, left, top = square_geometry(width, height)
    padded = np.zeros((side, side), dtype=np.float64)
    padded[top:top + height, left:left + width] = gray.astype(np.float64)
    r = area_matrix(side, size)
    resized = r @ padded @ r.T
    return ((resized / 255.0 - NORM_MEAN) / NORM_STD).astype(np.float32)


def resize_mask(mask: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    height, width = mask.shape
    side, left, top = square_geometry(width, height)
    padded = np.zeros((side, side), dtype=np.float64)
    padded[top:top + height, left:left + width] = mask.astype(np.float64)
    r = area_matrix(side, size)
    return (r @ padded @ r.T).astype(np.float32)


def block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )


class SegNet(nn.Module):
    """Small U-Net: nodule outline plus an auxiliary suspicion head on the bottleneck."""

    def __init__(self, ch=(16, 32, 48, 64)):
        super().__init__()
        self.e1 = block(1, ch[0])
        self.e2 = block(ch[0], ch[1])
        self.e3 = block(ch[1], ch[2])
        self.b = block(ch[2], ch[3])
        self.u3 = block(ch[3] + ch[2], ch[2])
        self.u2 = block(ch[2] + ch[1], ch[1])
        self.u1 = block(ch[1] + ch[0], ch[0])
        self.seg = nn.Conv2d(ch[0], 1, 1)
        self.aux = nn.Linear(2 * ch[3] + 2 * ch[2], 1)
        self.drop = nn.Dropout(0.3)
        self.feat_dim = 2 * ch[3] + 2 * ch[2]

    def forward(self, x):
        e1 = self.e1(x)
        e2 = self.e2(F.max_pool2d(e1, 2))
        e3 = self.e3(F.max_pool2d(e2, 2))
        b = self.b(F.max_pool2d(e3, 2))
        d3 = self.u3(torch.cat([F.interpolate(b, scale_factor=2.0, mode='nearest'), e3], 1))
        d2 = self.u2(torch.cat([F.interpolate(d3, scale_factor=2.0, mode='nearest'), e2], 1))
        d1 = self.u1(torch.cat([F.interpolate(d2, scale_factor=2.0, mode='nearest'), e1], 1))
        seg_logit = self.seg(d1)
        mask = torch.sigmoid(seg_logit)
        feats = self.pool(mask, e3, b)
        aux_logit = self.aux(self.drop(feats))
        return seg_logit, mask, feats, aux_logit

    def pool(self, mask, e3, b):
        """Mask-weighted pooling: bottleneck inside the nodule and over the whole crop, mid-level
        features inside the nodule and in a ring around it (margin and surrounding tissue).
        Pool sizes assume the fixed 64x64 input (bottleneck 8x8, e3 16x16)."""
        m8 = F.avg_pool2d(mask, 8)
        m4 = F.avg_pool2d(mask, 4)
        ring4 = torch.clamp(F.max_pool2d(m4, 5, stride=1, padding=2) - m4, 0.0, 1.0)
        inside_b = (b * m8).sum((2, 3)) / (m8.sum((2, 3)) + 1e-3)
        whole_b = b.mean((2, 3))
        inside_e3 = (e3 * m4).sum((2, 3)) / (m4.sum((2, 3)) + 1e-3)
        ring_e3 = (e3 * ring4).sum((2, 3)) / (ring4.sum((2, 3)) + 1e-3)
        return torch.cat([inside_b, whole_b, inside_e3, ring_e3], 1)


# A constant index (the input size is fixed) for index_select, which exports as an ONNX Gather:
# torch 1.13 cannot export torch.flip, and a traced arange with a negative step exports wrongly.
_FLIP = torch.arange(INPUT_SIZE - 1, -1, -1)


def hflip(t: torch.Tensor) -> torch.Tensor:
    return t.index_select(-1, _FLIP)


def with_flip(seg: 'SegNet', x: torch.Tensor):
    """Test-time augmentation: average the outline and features over the image and its mirror."""
    _, m1, f1, a1 = seg(x)
    _, m2, f2, a2 = seg(hflip(x))
    return (m1 + hflip(m2)) / 2, (f1 + f2) / 2, (a1 + a2) / 2


# Descriptor names, in output order, with the TI-RADS feature each one stands in for. Shown by the
# viewer next to the score; keep in step with descriptors() below and the manifest.
DESCRIPTORS = [
    ('area_fraction', 'size', 'Nodule area as a fraction of the (square-padded) input'),
    ('echogenicity_contrast', 'echogenicity', 'Mean brightness inside minus in a ring around the nodule (negative = hypoechoic)'),
    ('marked_hypoechoic_fraction', 'echogenicity', 'Fraction of the nodule darker than 60% of the surrounding ring'),
    ('cystic_fraction', 'composition', 'Fraction of the nodule that is near-anechoic (below 0.08 of full scale)'),
    ('heterogeneity', 'composition', 'Standard deviation of brightness inside the nodule'),
    ('taller_than_wide', 'shape', 'log(vertical extent / horizontal extent) from second moments (> 0 = taller than wide)'),
    ('eccentricity', 'shape', 'Elongation from second moments (0 = round)'),
    ('compactness', 'margin', 'Perimeter^2 / (4 pi area) of the predicted outline (1 = circle; larger = lobulated/irregular)'),
    ('boundary_contrast', 'margin', 'Mean image gradient along the outline (low = ill-defined margin)'),
    ('boundary_uncertainty', 'margin', 'How unsure the outline is (mean m(1-m) over the nodule region)'),
    ('echogenic_foci', 'echogenic_foci', 'Fraction of the nodule made of small bright spots (local top-hat)'),
    ('rim_brightness', 'echogenic_foci', 'Mean brightness in a thin band just inside the outline minus inside mean (rim/halo)'),
]


def descriptors(x_norm: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """TI-RADS-like descriptors measured on the image with a soft mask m in [0, 1]. All ops export
    to plain ONNX (pooling, sums, sigmoid) so the same code runs at serving time."""
    eps = 1e-3
    x = x_norm * NORM_STD + NORM_MEAN  # back to 0..1 intensity
    n = x.shape[-1] * x.shape[-2]
    area = m.sum((2, 3))
    dil = F.max_pool2d(m, 9, stride=1, padding=4)
    ring = torch.clamp(dil - m, 0.0, 1.0)
    ero = -F.max_pool2d(-m, 5, stride=1, padding=2)
    band = torch.clamp(m - ero, 0.0, 1.0)
    mu_in = (x * m).sum((2, 3)) / (area + eps)
    mu_ring = (x * ring).sum((2, 3)) / (ring.sum((2, 3)) + eps)
    mu_band = (x * band).sum((2, 3)) / (band.sum((2, 3)) + eps)
    var_in = (((x - mu_in[:, :, None, None]) ** 2) * m).sum((2, 3)) / (area + eps)
    dark = torch.sigmoid((0.6 * mu_ring[:, :, None, None] - x) / 0.02)
    marked = (dark * m).sum((2, 3)) / (area + eps)
    cyst = torch.sigmoid((0.08 - x) / 0.02)
    cystic = (cyst * m).sum((2, 3)) / (area + eps)

    size = x.shape[-1]
    coords = (torch.arange(size, dtype=x.dtype) + 0.5) / size
    yy = coords.view(1, 1, size, 1)
    xx = coords.view(1, 1, 1, size)
    cy = (m * yy).sum((2, 3)) / (area + eps)
    cx = (m * xx).sum((2, 3)) / (area + eps)
    vy = (m * (yy - cy[:, :, None, None]) ** 2).sum((2, 3)) / (area + eps)
    vx = (m * (xx - cx[:, :, None, None]) ** 2).sum((2, 3)) / (area + eps)
    cxy = (m * (yy - cy[:, :, None, None]) * (xx - cx[:, :, None, None])).sum((2, 3)) / (area + eps)
    ttw = 0.5 * torch.log((vy + 1e-5) / (vx + 1e-5))
    tr = vx + vy
    det = vx * vy - cxy * cxy
    disc = torch.sqrt(torch.clamp(tr * tr / 4 - det, min=0.0) + 1e-8)
    l1 = tr / 2 + disc
    l2 = torch.clamp(tr / 2 - disc, min=0.0)
    ecc = torch.sqrt(torch.clamp(1 - (l2 + 1e-6) / (l1 + 1e-6), min=0.0) + 1e-8)

    gmy = m[:, :, 1:, :] - m[:, :, :-1, :]
    gmx = m[:, :, :, 1:] - m[:, :, :, :-1]
    gm = torch.sqrt(gmy[:, :, :, :-1] ** 2 + gmx[:, :, :-1, :] ** 2 + 1e-8)
    perim = gm.sum((2, 3))
    compact = perim * perim / (4 * math.pi * area + 1.0)
    gxy = x[:, :, 1:, :] - x[:, :, :-1, :]
    gxx = x[:, :, :, 1:] - x[:, :, :, :-1]
    gx = torch.sqrt(gxy[:, :, :, :-1] ** 2 + gxx[:, :, :-1, :] ** 2 + 1e-8)
    bcontrast = (gx * gm).sum((2, 3)) / (perim + eps)
    unsure = (m * (1 - m)).sum((2, 3)) / (area + eps)

    local = F.avg_pool2d(x, 5, stride=1, padding=2, count_include_pad=False)
    tophat = torch.sigmoid((x - local - 0.12) / 0.03)
    foci = (tophat * m).sum((2, 3)) / (area + eps)

    return torch.cat([
        area / n, mu_in - mu_ring, marked, cystic, torch.sqrt(var_in + 1e-6), ttw, ecc, compact,
        bcontrast, unsure, foci, mu_band - mu_in,
    ], 1)


class NoduleModel(nn.Module):
    """The shipped graph: image -> outline, descriptors, CNN features -> calibrated P(TI-RADS >= 4)."""

    def __init__(self, seg: SegNet, mean: torch.Tensor, std: torch.Tensor, weight: torch.Tensor,
                 bias: float, use_desc: bool, use_cnn: bool, cal_a: float, cal_b: float):
        super().__init__()
        self.seg = seg
        self.register_buffer('mean', mean.float())
        self.register_buffer('std', std.float())
        self.register_buffer('weight', weight.float())
        self.bias = float(bias)
        self.use_desc = use_desc
        self.use_cnn = use_cnn
        self.cal_a = float(cal_a)
        self.cal_b = float(cal_b)

    def forward(self, x):
        mask, feats, _ = with_flip(self.seg, x)
        desc = descriptors(x, mask)
        parts = []
        if self.use_desc:
            parts.append(desc)
        if self.use_cnn:
            parts.append(feats)
        f = torch.cat(parts, 1)
        contrib = (f - self.mean) / self.std * self.weight * self.cal_a
        z = contrib.sum(1, keepdim=True) + self.bias * self.cal_a + self.cal_b
        prob = torch.sigmoid(z)
        # Each descriptor's share of the calibrated logit, for the viewer; zero when unused.
        k = desc.shape[1]
        desc_contrib = contrib[:, :k] if self.use_desc else desc * 0.0
        return prob, desc, mask, desc_contrib
