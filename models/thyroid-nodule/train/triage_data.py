"""Data of the whole-frame triage: DDTI frames (outlines, lexicon, TI-RADS) and non-thyroid ultrasound."""
import csv
import os
import hashlib
import numpy as np
from PIL import Image

# DDTI lexicon readings -> the ACR categories of served.HEADS (index), None = unknown.
COMPOSITION = {'cystic': 0, 'spongiform': 1, 'predominantly-cystic': 2, 'predominantly-solid': 2, 'solid': 3}
ECHOGENICITY = {'hyperechogenicity': 0, 'isoechogenicity': 0, 'hypoechogenicity': 1, 'marked-hypoechogenicity': 2}
MARGIN = {'well-defined': 0, 'ill-defined': 1, 'microlobulated': 2, 'macrolobulated': 2, 'spiculated': 2}
FOCI = {'non': 0, 'macrocalcification': 1, 'microcalcification': 2}


def gray_of(path):
    """8-bit gray exactly as @yunying/dicom toGray8 renders RGB: round(0.299 R + 0.587 G + 0.114 B)."""
    im = np.asarray(Image.open(path).convert('RGB')).astype(np.float64)
    g = 0.299 * im[..., 0] + 0.587 * im[..., 1] + 0.114 * im[..., 2]
    return np.floor(g + 0.5).clip(0, 255).astype(np.uint8), im


def colour_fraction(rgb):
    """Share of pixels whose channels differ by more than 40 (colour Doppler, colour overlays)."""
    return float(((rgb.max(2) - rgb.min(2)) > 40).mean())


def load_frames(root):
    rows = list(csv.DictReader(open(os.path.join(root, 'labels.csv'))))
    out = []
    for r in rows:
        gray, _ = gray_of(os.path.join(root, r['image']))
        mask = np.asarray(Image.open(os.path.join(root, r['mask'])).convert('L')) > 127
        lab = r['tirads_binary_4plus']
        out.append({
            'image': r['image'], 'case': r['ddti_case'], 'gray': gray, 'mask': mask,
            'label': int(lab) if lab != '' else None, 'tirads': r['tirads'],
            'lexicon': {
                'composition': COMPOSITION.get(r['composition']),
                'echogenicity': ECHOGENICITY.get(r['echogenicity']),
                'margin': MARGIN.get(r['margins']),
                'echogenicFoci': FOCI.get(r['calcifications']),
            },
        })
    return out


def load_others(root):
    rows = list(csv.DictReader(open(os.path.join(root, 'labels.csv'))))
    prov = {p['image']: p for p in csv.DictReader(open(os.path.join(root, 'provenance.csv')))}
    out = []
    for r in rows:
        path = os.path.join(root, r['image'])
        if not os.path.exists(path):
            continue
        gray, rgb = gray_of(path)
        p = prov.get(r['image'], {})
        # Frames cut from one video clip share a group, so a clip never straddles folds.
        src = p.get('source_path', r['image'])
        group = r['source'] + ':' + (src.split('#')[0] if src else r['image'])
        out.append({'image': r['image'], 'source': r['source'], 'organ': r['organ'], 'mode': r['mode'],
                    'gray': gray, 'colour': colour_fraction(rgb), 'group': group})
    return out


def components_of(mask, min_px=60):
    """Connected nodule outlines of a mask -> list of (x0, y0, x1, y1) boxes in pixels (8-connected)."""
    H, W = mask.shape
    seen = np.zeros_like(mask, dtype=bool)
    boxes = []
    ys, xs = np.nonzero(mask)
    for y0, x0 in zip(ys, xs):
        if seen[y0, x0]:
            continue
        stack = [(y0, x0)]
        seen[y0, x0] = True
        pts = []
        while stack:
            y, x = stack.pop()
            pts.append((y, x))
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    yy, xx = y + dy, x + dx
                    if 0 <= yy < H and 0 <= xx < W and mask[yy, xx] and not seen[yy, xx]:
                        seen[yy, xx] = True
                        stack.append((yy, xx))
        if len(pts) >= min_px:
            py = [p[0] for p in pts]
            px = [p[1] for p in pts]
            boxes.append((float(min(px)), float(min(py)), float(max(px) + 1), float(max(py) + 1)))
    return boxes


def stable_hash(s):
    return int(hashlib.sha256(s.encode()).hexdigest()[:8], 16)


def assign_folds(keys, k, seed):
    """Deterministic fold per group key, balanced by shuffling the sorted unique keys."""
    uniq = sorted(set(keys), key=lambda s: (stable_hash(f'{seed}:{s}'), s))
    fold = {g: i % k for i, g in enumerate(uniq)}
    return np.array([fold[g] for g in keys])
