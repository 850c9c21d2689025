"""Every network training of train_triage.py at once, in parallel processes on one accelerator (or the
CPU), written as a cache that train_triage.py --frame-cache DIR then reuses (it trains nothing already
there). Also writes the crop stage's out-of-fold looks (served candidates and outlined boxes) to
crop-oof.json for the design notes.

    python3 models/thyroid-nodule/train/cv_device.py --data DIR --cache DIR [--workers 8]

Same seeds and fold assignment as train_triage.py; the processes share nothing but files.
"""
import os

# One thread per process: numpy's BLAS would otherwise start a thread per core in every worker (a run
# on a 16-core machine spent its whole time slice oversubscribed before this was set).
for _v in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ.setdefault(_v, '1')

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import sys
import time
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import crop_stage as C  # noqa: E402
import geometry as G  # noqa: E402
import nets  # noqa: E402
import served  # noqa: E402
import train_triage as T  # noqa: E402
import triage_data as D  # noqa: E402

T0 = time.time()
CROP_SEEDS = int(os.environ.get('TRIAGE_CROP_SEEDS', '3'))
CROP_EPOCHS = int(os.environ.get('TRIAGE_CROP_EPOCHS', '12'))


def log(*a):
    print(f'[{time.time() - T0:7.1f}s]', *a, flush=True)


def device():
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def load(data):
    frames = D.load_frames(os.path.join(data, 'thyroid/ddti-frames'))
    others = D.load_others(os.path.join(data, 'ultrasound-other'))
    return frames, others


def frame_job(args):
    data, cache, k = args
    torch.set_num_threads(1)
    frames, others = load(data)
    ffold, ofold = T.make_folds(frames, others)
    path = os.path.join(cache, 'final.pt' if k < 0 else f'fold{k}.pt')
    if os.path.exists(path):
        return path
    if k < 0:
        net = T.train_frame(frames, others, T.SEED + 1000, device())
    else:
        net = T.train_frame([frames[i] for i in np.where(ffold != k)[0]], [others[i] for i in np.where(ofold != k)[0]], T.SEED + k, device())
    torch.save(net.state_dict(), path)
    log(f'FrameNet {path} saved')
    return path


def crop_job(args):
    bank_path, cache, k, seed, rows_path = args
    torch.set_num_threads(1)
    path = os.path.join(cache, f'crop_final_s{seed}.pt' if k < 0 else f'crop_fold{k}_s{seed}.pt')
    if os.path.exists(path):
        return path
    bank = dict(np.load(bank_path, mmap_mode='r'))
    rows = np.load(rows_path)
    net = C.train_crop(bank, rows, T.SEED + 7919 * (k + 2) + seed, device(), epochs=CROP_EPOCHS, log=log)
    torch.save(net.state_dict(), path)
    log(f'CropNet {path} saved')
    return path


def crop_export(cache, k, seeds):
    nets_ = []
    for s in seeds:
        n = C.CropNet()
        n.load_state_dict(torch.load(os.path.join(cache, f'crop_final_s{s}.pt' if k < 0 else f'crop_fold{k}_s{s}.pt')))
        nets_.append(n.eval())
    return C.CropExport(nets_).eval()


def candidate_boxes(fnet, gray):
    """FrameNet's candidates on one frame, as served.analyse_map finds them: (box, confidence), best first."""
    h, w = gray.shape
    with torch.no_grad():
        prob, gate = served.frame_forward(fnet, gray)
    comps = [c for c in G.components(prob, served.SEG_THRESHOLD) if len(c[0]) >= served.MIN_CELLS]
    comps.sort(key=lambda c: -c[1])
    out = []
    for cells, conf in comps[:served.MAX_CANDIDATES]:
        box = G.cells_box(cells, w, h)
        if box[2] - box[0] >= 1 and box[3] - box[1] >= 1:
            out.append((box, conf))
    return gate, out


def oof_job(args):
    data, cache, k = args
    torch.set_num_threads(1)
    frames, others = load(data)
    ffold, ofold = T.make_folds(frames, others)
    fnet = nets.FrameNet()
    fnet.load_state_dict(torch.load(os.path.join(cache, f'fold{k}.pt')))
    fnet.eval()
    ens = crop_export(cache, k, range(CROP_SEEDS))
    one = crop_export(cache, k, [0])
    out = []
    for i in np.where(ffold == k)[0]:
        f = frames[i]
        gate, boxes = candidate_boxes(fnet, f['gray'])
        cands = [{'box': box, 'confidence': conf, 'ens': pack(C.look(ens, f['gray'], box)), 'one': pack(C.look(one, f['gray'], box))}
                 for box, conf in boxes]
        gts = D.components_of(f['mask'])
        gt_looks = [{'box': g, 'ens': pack(C.crop_forward(ens, f['gray'], g)), 'one': pack(C.crop_forward(one, f['gray'], g))} for g in gts]
        out.append({'i': int(i), 'image': f['image'], 'case': f['case'], 'label': f['label'], 'lexicon': f['lexicon'],
                    'gate': gate, 'gts': gts, 'candidates': cands, 'gt_looks': gt_looks})
    oth = []
    for i in np.where(ofold == k)[0]:
        o = others[i]
        gate, boxes = candidate_boxes(fnet, o['gray'])
        cands = [{'box': box, 'confidence': conf, 'ens': pack(C.look(ens, o['gray'], box))} for box, conf in boxes]
        oth.append({'i': int(i), 'image': o['image'], 'source': o['source'], 'gate': gate, 'candidates': cands})
    log(f'out-of-fold looks of fold {k}: {len(out)} frames, {len(oth)} others')
    return out, oth


def pack(r):
    d = {'objectness': r['objectness'], 'logit': r['logit'], 'lexicon': [round(float(v), 5) for v in r['lexicon']],
         'reg': [round(float(v), 5) for v in r['reg']]}
    if 'box' in r:
        d['box'] = [round(float(v), 3) for v in r['box']]
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True)
    ap.add_argument('--cache', required=True)
    ap.add_argument('--workers', type=int, default=8)
    ap.add_argument('--bank', default='/tmp/crop-bank.npz')
    args = ap.parse_args()
    os.makedirs(args.cache, exist_ok=True)
    ctx = mp.get_context('spawn')
    log(f'device {device()}, {os.cpu_count()} CPUs')
    frames, others = load(args.data)
    ffold, ofold = T.make_folds(frames, others)
    log(f'{len(frames)} frames, {len(others)} others')

    fpool = ctx.Pool(T.K + 1)
    fres = fpool.map_async(frame_job, [(args.data, args.cache, k) for k in list(range(T.K)) + [-1]])

    with ctx.Pool(args.workers) as pool:
        bank = C.build_bank(frames, others, T.SEED, pool)
    np.savez(args.bank, **bank)
    log(f'crop bank: {len(bank["X"])} proposals, {int((bank["obj"] == 1).sum())} on a nodule, '
        f'{int((bank["obj"] == 0).sum())} off, {int(bank["near"].sum())} near')
    jobs = []
    for k in list(range(T.K)) + [-1]:
        keep_f = set(np.where(ffold != k)[0].tolist()) if k >= 0 else set(range(len(frames)))
        keep_o = set(np.where(ofold != k)[0].tolist()) if k >= 0 else set(range(len(others)))
        rows = np.array([r for r, s in enumerate(bank['src']) if (s >= 0 and s in keep_f) or (s < 0 and (-1 - s) in keep_o)])
        rp = f'/tmp/crop-rows-{k}.npy'
        np.save(rp, rows)
        for s in range(CROP_SEEDS):
            jobs.append((args.bank, args.cache, k, s, rp))
    with ctx.Pool(args.workers) as pool:
        pool.map(crop_job, jobs, chunksize=1)
    log('crop nets trained')
    fres.get()
    fpool.close()
    log('frame nets trained')
    with ctx.Pool(T.K) as pool:
        res = pool.map(oof_job, [(args.data, args.cache, k) for k in range(T.K)])
    with open(os.path.join(args.cache, 'crop-oof.json'), 'w') as fh:
        json.dump({'frames': [r for a, _ in res for r in a], 'others': [r for _, b in res for r in b]}, fh)
    log('done')


if __name__ == '__main__':
    main()
