"""Measured nodule descriptors: what a sonographer judges, computed on the nodule's region of the
full-resolution frame. Mirrored exactly by packages/nodule-model/src/nodule.descriptors.ts (every
operation here is spelled out, no library filters, so both sides agree to rounding).

On 233 labelled DDTI cases a small CNN trained from scratch learned none of the ACR lexicon items
(its heads scored at the majority class); these few measurements, each tied to one lexicon item,
separate hypoechoic from iso/hyperechoic nodules and solid from cystic/spongiform ones (see the
model card), and a reader can check each on the image.

- echo:   log of the nodule's median gray over the surrounding tissue's median (echogenicity).
- dark:   share of the nodule darker than 0.35 x the surrounding median (cystic part: composition).
- het:    coefficient of variation inside the nodule (heterogeneity: composition, spongiform).
- foci:   99.9th percentile of a 9x9 white top-hat inside the nodule (bright punctate spots).
- bright: 99.5th minus 50th percentile inside the nodule over the surrounding spread (echogenic foci).
- edge:   mean gradient on the boundary band over the mean gradient of the surroundings (margin).
- taller: log(height / width) of the nodule's box (shape).
"""
import math
import numpy as np

NAMES = ['echo', 'dark', 'het', 'foci', 'bright', 'edge', 'taller']
CONTENT_MIN = 4          # gray levels below this are letterbox / background, not tissue
MIN_PIXELS = 20


def rnd(x):
    return int(math.floor(x + 0.5))


def _run_max(a, r, axis):
    """Max over a window of 2r+1 along an axis, windows clipped at the borders."""
    n = a.shape[axis]
    out = a.copy()
    for d in range(1, r + 1):
        if d >= n:
            break
        if axis == 0:
            out[:-d] = np.maximum(out[:-d], a[d:])
            out[d:] = np.maximum(out[d:], a[:-d])
        else:
            out[:, :-d] = np.maximum(out[:, :-d], a[:, d:])
            out[:, d:] = np.maximum(out[:, d:], a[:, :-d])
    return out


def dilate(mask, r):
    """Square (2r+1)^2 dilation; outside the image counts as empty."""
    m = mask.astype(np.uint8)
    return _run_max(_run_max(m, r, 1), r, 0).astype(bool)


def erode(mask, r):
    """Square (2r+1)^2 erosion; outside the image counts as empty (so borders erode)."""
    inv = (~mask).astype(np.uint8)
    pad = np.pad(inv, r, constant_values=1)
    return ~(_run_max(_run_max(pad, r, 1), r, 0)[r:-r, r:-r].astype(bool)) if r > 0 else mask.copy()


def grey_max(a, r):
    return _run_max(_run_max(a, r, 1), r, 0)


def grey_min(a, r):
    return -grey_max(-a, r)


def quantile(v, q):
    """Lower quantile: the sorted value at floor(q (n - 1)) (no interpolation)."""
    s = np.sort(v, kind='stable')
    return float(s[int(math.floor(q * (len(s) - 1)))])


def gradient(g):
    """|central difference| magnitude of a 3x3 box blur (edges: nearest)."""
    p = np.pad(g, 1, mode='edge')
    b = sum(p[dy:dy + g.shape[0], dx:dx + g.shape[1]] for dy in range(3) for dx in range(3)) / 9.0
    q = np.pad(b, 1, mode='edge')
    gx = (q[1:-1, 2:] - q[1:-1, :-2]) / 2.0
    gy = (q[2:, 1:-1] - q[:-2, 1:-1]) / 2.0
    return np.sqrt(gx * gx + gy * gy)


def describe(gray, mask):
    """gray: uint8 (h, w); mask: bool (h, w), the nodule's region. Returns the NAMES vector (float64)."""
    g = gray.astype(np.float64)
    area = int(mask.sum())
    ys, xs = np.nonzero(mask)
    bh = int(ys.max() - ys.min() + 1)
    bw = int(xs.max() - xs.min() + 1)
    r = max(3, rnd(0.25 * math.sqrt(area)))
    content = gray >= CONTENT_MIN
    ring = dilate(mask, r) & ~dilate(mask, 2) & content
    if ring.sum() < MIN_PIXELS:
        ring = content & ~mask
    if ring.sum() < MIN_PIXELS:
        ring = np.ones_like(mask)
    inner = erode(mask, max(2, r // 3))
    if inner.sum() < MIN_PIXELS:
        inner = mask
    gi, gr = g[inner], g[ring]
    med_i, med_r = quantile(gi, 0.5), quantile(gr, 0.5)
    sd_r = float(gr.std())
    tophat = g - grey_max(grey_min(g, 4), 4)
    grad = gradient(g)
    band = dilate(mask, 2) & ~erode(mask, 2)
    return np.array([
        math.log((med_i + 1.0) / (med_r + 1.0)),
        float(np.mean(gi < 0.35 * med_r)),
        float(gi.std()) / (float(gi.mean()) + 1.0),
        quantile(tophat[inner], 0.999) / 255.0,
        (quantile(gi, 0.995) - med_i) / (sd_r + 1.0),
        float(grad[band].mean()) / (float(grad[ring].mean()) + 1.0),
        math.log(bh / bw),
    ])


def ellipse_mask(w, h, box):
    """The ellipse inscribed in a box (x0, y0, x1, y1): the region of a nodule a reader boxed."""
    x0, y0, x1, y1 = box
    cx, cy, ax, ay = (x0 + x1) / 2, (y0 + y1) / 2, max((x1 - x0) / 2, 0.5), max((y1 - y0) / 2, 0.5)
    yy, xx = np.mgrid[0:h, 0:w]
    return (((xx + 0.5 - cx) / ax) ** 2 + ((yy + 0.5 - cy) / ay) ** 2) <= 1.0

