"""Deterministic synthetic 'nodule' images for the ONNX parity fixture.

Integer arithmetic only, so packages/nodule-model/src/synthetic.ts produces bit-identical pixels.
Nothing here is derived from the shared data.
"""
import numpy as np

SPECS = [
    {'width': 300, 'height': 300, 'seed': 1},
    {'width': 300, 'height': 300, 'seed': 2},
    {'width': 256, 'height': 200, 'seed': 3},
    {'width': 120, 'height': 160, 'seed': 4},
    {'width': 64, 'height': 64, 'seed': 5},
    {'width': 517, 'height': 389, 'seed': 6},
]


def synthetic_gray(width, height, seed):
    cx = width * (40 + (seed * 7) % 20) // 100
    cy = height * (40 + (seed * 11) % 20) // 100
    a = max(width * (15 + (seed * 5) % 20) // 100, 2)   # half-width
    b = max(height * (15 + (seed * 3) % 25) // 100, 2)  # half-height
    dark = (seed % 3) * 25
    out = np.zeros((height, width), dtype=np.uint8)
    for y in range(height):
        for x in range(width):
            v = ((x * 31 + y * 17 + seed * 7) * (x + 3) + y * y * 5) % 97
            dx, dy = x - cx, y - cy
            inside = dx * dx * b * b + dy * dy * a * a <= a * a * b * b
            if inside:
                pix = 15 + dark + v % 40
                if (x * 7 + y * 11 + seed) % 53 == 0:
                    pix = 235
            else:
                pix = 55 + v
            out[y, x] = pix
    return out


def synthetic_images():
    for spec in SPECS:
        yield spec, synthetic_gray(spec['width'], spec['height'], spec['seed'])
