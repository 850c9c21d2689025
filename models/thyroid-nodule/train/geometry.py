"""Image geometry of the served path, mirrored exactly in packages/nodule-model/src/frame.geometry.ts.

Every resize is a box filter (area average with fractional overlaps), done separably: horizontal
pass, then vertical. Rounding is floor(x + 0.5) (never Python's banker's rounding) so both sides agree
to the pixel.
"""
import math
import os
import numpy as np

# Frame network input (width, height): 312x192 since 3.5.0 (208x128 before; the card's "A larger frame"
# section measures both). TRIAGE_FRAME_SIZE=WxH trains another size for a side experiment; the manifest
# records the size a model was trained at, and the served path reads it from there.
FRAME_W, FRAME_H = (int(v) for v in os.environ.get('TRIAGE_FRAME_SIZE', '312x192').split('x'))
FRAME_STRIDE = 4              # the nodule map is FRAME_H/4 x FRAME_W/4
CROP = 160                    # nodule crop side
CROP_CONTEXT = 1.5            # crop side = CROP_CONTEXT x the longer side of the nodule box
MEAN, STD = 0.2, 0.2          # (pixel / 255 - MEAN) / STD


def rnd(x):
    return int(math.floor(x + 0.5))


def area_weights(n_src, n_dst):
    """(n_dst, n_src) matrix: dst pixel j averages src over [j*s, (j+1)*s), s = n_src / n_dst."""
    s = n_src / n_dst
    j = np.arange(n_dst, dtype=np.float64)[:, None]
    i = np.arange(n_src, dtype=np.float64)[None, :]
    a, b = j * s, (j + 1) * s
    return np.clip(np.minimum(b, i + 1) - np.maximum(a, i), 0, None) / s


def area_resize(img, dst_w, dst_h):
    """img float (h, w) -> (dst_h, dst_w); horizontal pass first, then vertical (as in TypeScript)."""
    h, w = img.shape
    tmp = img @ area_weights(w, dst_w).T
    return area_weights(h, dst_h) @ tmp


def letterbox_geometry(w, h):
    s = min(FRAME_W / w, FRAME_H / h)
    cw, ch = max(1, rnd(w * s)), max(1, rnd(h * s))
    ox, oy = (FRAME_W - cw) // 2, (FRAME_H - ch) // 2
    return s, cw, ch, ox, oy


def letterbox(gray):
    """gray uint8/float (h, w) -> float32 (FRAME_H, FRAME_W) in 0..255, content centred, padding 0."""
    h, w = gray.shape
    s, cw, ch, ox, oy = letterbox_geometry(w, h)
    out = np.zeros((FRAME_H, FRAME_W), dtype=np.float64)
    out[oy:oy + ch, ox:ox + cw] = area_resize(gray.astype(np.float64), cw, ch)
    return out.astype(np.float32)


def normalise(x):
    return ((np.asarray(x, dtype=np.float32) / 255.0) - MEAN) / STD


def crop_window(box, img_w, img_h):
    """box (x0, y0, x1, y1) in image pixels -> integer square window (left, top, side)."""
    x0, y0, x1, y1 = box
    side = max(16, rnd(max(x1 - x0, y1 - y0) * CROP_CONTEXT))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return rnd(cx - side / 2), rnd(cy - side / 2), side


def crop(gray, box):
    """The nodule crop the heads see: a square window around the box (zero outside the frame), CROP x CROP."""
    h, w = gray.shape
    left, top, side = crop_window(box, w, h)
    win = np.zeros((side, side), dtype=np.float64)
    sx0, sy0 = max(0, left), max(0, top)
    sx1, sy1 = min(w, left + side), min(h, top + side)
    if sx1 > sx0 and sy1 > sy0:
        win[sy0 - top:sy1 - top, sx0 - left:sx1 - left] = gray[sy0:sy1, sx0:sx1]
    return area_resize(win, CROP, CROP).astype(np.float32)


def components(prob, thr):
    """4-connected components of prob >= thr, scanned row-major (same order as TypeScript).
    Returns a list of (cells [(r, c)], max prob)."""
    H, W = prob.shape
    seen = np.zeros((H, W), dtype=bool)
    on = prob >= thr
    out = []
    for r in range(H):
        for c in range(W):
            if not on[r, c] or seen[r, c]:
                continue
            stack = [(r, c)]
            seen[r, c] = True
            cells = []
            while stack:
                y, x = stack.pop()
                cells.append((y, x))
                for yy, xx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                    if 0 <= yy < H and 0 <= xx < W and on[yy, xx] and not seen[yy, xx]:
                        seen[yy, xx] = True
                        stack.append((yy, xx))
            out.append((cells, float(max(prob[y, x] for y, x in cells))))
    return out


def cells_box(cells, img_w, img_h):
    """Component cells (map coordinates) -> box in image pixels, clipped to the image."""
    s, cw, ch, ox, oy = letterbox_geometry(img_w, img_h)
    rs = [r for r, _ in cells]
    cs = [c for _, c in cells]
    lx0, lx1 = min(cs) * FRAME_STRIDE, (max(cs) + 1) * FRAME_STRIDE
    ly0, ly1 = min(rs) * FRAME_STRIDE, (max(rs) + 1) * FRAME_STRIDE
    x0 = min(max((lx0 - ox) / s, 0.0), img_w)
    x1 = min(max((lx1 - ox) / s, 0.0), img_w)
    y0 = min(max((ly0 - oy) / s, 0.0), img_h)
    y1 = min(max((ly1 - oy) / s, 0.0), img_h)
    return (x0, y0, x1, y1)


def box_iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / ua if ua > 0 else 0.0
