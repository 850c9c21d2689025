"""Evaluation metrics, defined exactly as in packages/nodule-model/src/metrics.ts."""
import numpy as np


def auc(score, y):
    """ROC AUC via the Mann-Whitney statistic with mid-ranks for ties."""
    score = np.asarray(score, dtype=np.float64)
    y = np.asarray(y)
    npos = int((y == 1).sum())
    nneg = int((y == 0).sum())
    if npos == 0 or nneg == 0:
        return float('nan')
    order = np.argsort(score, kind='mergesort')
    s = score[order]
    ranks = np.empty(len(s))
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[i:j + 1] = (i + j) / 2 + 1
        i = j + 1
    r = np.empty(len(s))
    r[order] = ranks
    return float((r[y == 1].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def sens_spec(p, y, t):
    pred = p >= t
    sens = float((pred & (y == 1)).sum() / max((y == 1).sum(), 1))
    spec = float((~pred & (y == 0)).sum() / max((y == 0).sum(), 1))
    return sens, spec


def prevalence_weights(y, prevalence):
    """Per-example weights that make the labelled set look like a population at `prevalence` (positives
    weighted prevalence / observed share, negatives the complement): the calibration a centre at the stated
    prevalence sees, assuming each class's scores look as here. None: no reweighting."""
    y = np.asarray(y)
    if prevalence is None:
        return np.ones(len(y))
    pos = float((y == 1).mean())
    if pos in (0.0, 1.0):
        return np.ones(len(y))
    return np.where(y == 1, prevalence / pos, (1 - prevalence) / (1 - pos))


def reliability_bins(p, y, n_bins=10, prevalence=None):
    """10 equal-width bins of the score: count, mean score and share of positives (weighted to `prevalence`)."""
    w = prevalence_weights(y, prevalence)
    idx = np.minimum(np.floor(p * n_bins).astype(int), n_bins - 1)
    out = []
    for b in range(n_bins):
        sel = idx == b
        n = int(sel.sum())
        ws = float(w[sel].sum())
        out.append({'lo': b / n_bins, 'hi': (b + 1) / n_bins, 'n': n, 'weight': ws,
                    'mean_p': float((p[sel] * w[sel]).sum() / ws) if n else 0.0,
                    'frac_pos': float((y[sel] * w[sel]).sum() / ws) if n else 0.0})
    return out


def ece(p, y, n_bins=10, prevalence=None):
    """Expected calibration error: 10 equal-width bins, weighted by bin size; with `prevalence`, measured as if
    the positives made up that share (a score calibrated to a stated prevalence is judged at that prevalence,
    not at the share of positives this data happens to have)."""
    bins = reliability_bins(p, y, n_bins, prevalence)
    total = sum(b['weight'] for b in bins)
    return float(sum(b['weight'] * abs(b['mean_p'] - b['frac_pos']) for b in bins) / total)


def bootstrap(p, y, groups, thresholds, n_boot=2000, seed=0, prevalence=None):
    """Point estimates and 95% percentile CIs, resampling whole groups (cases) with replacement. With
    `prevalence`, the ECE is also given at that prevalence (`ece_at_prevalence`)."""
    rng = np.random.RandomState(seed)
    uniq = np.array(sorted(set(groups)))
    members = {g: np.where(groups == g)[0] for g in uniq}
    aucs, eces, eces_at, ss = [], [], [], [[] for _ in thresholds]
    for _ in range(n_boot):
        pick = rng.randint(0, len(uniq), len(uniq))
        idx = np.concatenate([members[uniq[i]] for i in pick])
        pb, yb = p[idx], y[idx]
        if (yb == 1).any() and (yb == 0).any():
            aucs.append(auc(pb, yb))
            for k, t in enumerate(thresholds):
                ss[k].append(sens_spec(pb, yb, t))
        eces.append(ece(pb, yb))
        if prevalence is not None:
            eces_at.append(ece(pb, yb, prevalence=prevalence))

    def ci(v):
        return [round(float(np.percentile(v, 2.5)), 4), round(float(np.percentile(v, 97.5)), 4)]

    res = {'n': int(len(p)), 'groups': int(len(uniq)),
           'auc': {'value': round(auc(p, y), 4), 'ci95': ci(aucs)},
           'ece': {'value': round(ece(p, y), 4), 'ci95': ci(eces)}, 'thresholds': []}
    if prevalence is not None:
        res['ece_at_prevalence'] = {'prevalence': prevalence, 'value': round(ece(p, y, prevalence=prevalence), 4), 'ci95': ci(eces_at)}
    for k, t in enumerate(thresholds):
        s, sp = sens_spec(p, y, t)
        arr = np.array(ss[k])
        res['thresholds'].append({'threshold': round(float(t), 4),
                                  'sensitivity': {'value': round(s, 4), 'ci95': ci(arr[:, 0])},
                                  'specificity': {'value': round(sp, 4), 'ci95': ci(arr[:, 1])}})
    return res
