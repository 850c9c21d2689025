"""Rewrites the generated blocks of docs/model-card.md from models/thyroid-nodule/cv-served.json.

    /usr/bin/python3 models/thyroid-nodule/train/card.py

Blocks: <!-- cv:begin --> ... <!-- cv:end --> (served-path cross-validation, gate, locator, heads).
The prose around them is maintained by hand.
"""
import json
import os
import re

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '../../..'))


def ci(v):
    return f"{v['value']:.3f} ({v['ci95'][0]:.3f}–{v['ci95'][1]:.3f})"


def ece_from_bins(bins, prevalence):
    """ECE at `prevalence` from stored reliability bins (counts and shares per bin; each bin's mean score kept
    as it was, so an approximation): for a cv-served.json written before the ECE at the stated prevalence was."""
    n = sum(b['n'] for b in bins)
    pos = sum(round(b['n'] * b['frac_pos']) for b in bins)
    wp, wn = prevalence / (pos / n), (1 - prevalence) / (1 - pos / n)
    total = err = 0.0
    for b in bins:
        npos = round(b['n'] * b['frac_pos'])
        w = npos * wp + (b['n'] - npos) * wn
        if w > 0:
            total += w
            err += w * abs(b['mean_p'] - npos * wp / w)
    return err / total, pos / n


def calibration_sentence(s, prevalence):
    """The case-level ECE at the stated prevalence the score is calibrated to, and beside it the ECE against this
    data's own share of TI-RADS >= 4 (most cases here are; a centre's population is not)."""
    case = s['case']
    if 'ece_at_prevalence' in case:
        at = f"{ci(case['ece_at_prevalence'])}"
    else:
        value, _ = ece_from_bins(s['reliability_case'], prevalence)
        at = f"≈ {value:.3f} (from the stored reliability bins)"
    bins = s['reliability_case']
    share = sum(round(b['n'] * b['frac_pos']) for b in bins) / sum(b['n'] for b in bins)
    return (f"Case-level calibration error (ECE) at the stated prevalence {prevalence}: {at}; against this data's own share of "
            f"TI-RADS ≥ 4 ({share * 100:.0f} %), which the score is not calibrated to: {case['ece']['value']:.3f}.")


def block(rep, man):
    s = rep['served']
    lines = []
    lines.append(f"Served path, 5-fold cross-validation by case (each frame's nodule map from a frame network that never saw its case; "
                 f"lexicon heads and combiner cross-fitted the same way; aggregation **{s['aggregation']}**, confidence threshold {s['confidence_threshold']}):")
    lines.append('')
    lines.append('| level | n | AUC (95% CI) | triage threshold: sensitivity | specificity | urgent threshold: sensitivity | specificity |')
    lines.append('|---|---|---|---|---|---|---|')
    for name in ('case', 'image'):
        m = s[name]
        t, u = m['thresholds'][0], m['thresholds'][1]
        lines.append(f"| {name} | {m['n']} ({m['groups']} cases) | {ci(m['auc'])} | {ci(t['sensitivity'])} | {ci(t['specificity'])} | "
                     f"{ci(u['sensitivity'])} | {ci(u['specificity'])} |")
    lines.append('')
    th = man['thresholds']
    lines.append(f"Thresholds (case level, at the stated prevalence {man['combiner']['prevalence']}): triage ≥ {th['triage']['value']:.4f}, "
                 f"urgent ≥ {th['urgent']['value']:.4f}. {calibration_sentence(s, man['combiner']['prevalence'])} "
                 f"Labelled frames with no confident nodule (`no_nodule_found`: ranked last, never flagged): {s['no_nodule_found_labelled_frames']}.")
    lines.append('')
    g = rep['gate']
    lines.append(f"**Scope gate (image half)**, out of fold: AUC {g['auc']:.3f} (thyroid frames vs non-thyroid ultrasound); at the gate "
                 f"threshold {g['threshold']:.3f}, {g['thyroid_frames_passed'] * 100:.1f} % of DDTI frames pass and "
                 f"{g['others_passed']} of {g['others_n']} non-thyroid frames pass (colour-Doppler frames are refused before the gate):")
    lines.append('')
    lines.append('| source | frames | passed the gate |')
    lines.append('|---|---|---|')
    for src, v in sorted(g['by_source'].items()):
        lines.append(f"| {src} | {v['n']} | {v['passed']} |")
    lines.append('')
    loc = rep['locator']
    lines.append(f"**Locator** (most confident candidate's box, IoU ≥ 0.3 with an outlined nodule), out of fold: hit rate "
                 f"{loc['hit_rate']:.3f} (95% CI {loc['hit_rate_ci95'][0]:.3f}–{loc['hit_rate_ci95'][1]:.3f}) over {loc['n']} frames "
                 f"({loc['hit_rate_labelled']:.3f} on labelled frames); the top candidate is confident on {loc['confident_top'] * 100:.1f} % of frames.")
    lines.append('')
    lines.append('**Lexicon heads** on the served path (cross-fitted, frames whose top candidate hit the outline; the radiologist\'s DDTI reading mapped to ACR categories; '
                 '"points AUC": the expected ACR points against "more than the item\'s lowest points"):')
    lines.append('')
    lines.append('| item | n | accuracy | majority-class accuracy | balanced accuracy | points AUC | one-vs-rest AUC per category (n) |')
    lines.append('|---|---|---|---|---|---|---|')
    for item, h in rep['heads'].items():
        cats = ', '.join(f"{c} {v['auc_one_vs_rest'] if v['auc_one_vs_rest'] is not None else '—'} ({v['n']})" for c, v in h['categories'].items())
        pa = f"{h['points_auc']:.3f}" if h.get('points_auc') is not None else '—'
        lines.append(f"| {item} | {h['n']} | {h['accuracy']:.3f} | {h['majority_class_accuracy']:.3f} | {h['balanced_accuracy']:.3f} | {pa} | {cats} |")
    lines.append('')
    lines.append('**Descriptors alone** (top candidate where it hit the outline; each against the reading it stands for; AUC < 0.5 means lower values go with the reading):')
    lines.append('')
    lines.append('| descriptor | against | n | AUC |')
    lines.append('|---|---|---|---|')
    for name, d in rep['descriptors'].items():
        lines.append(f"| {name} | {d['against']} | {d['n']} | {d['auc']:.3f} |")
    lines.append('')
    lines.append(f"Combiner coefficients (standardised descriptors {', '.join(rep['combiner']['features'])}): "
                 f"{', '.join(str(c) for c in rep['combiner']['coef'])}.")
    return '\n'.join(lines)


def main():
    rep = json.load(open(os.path.join(ROOT, 'models/thyroid-nodule/cv-served.json')))
    man = json.load(open(os.path.join(ROOT, 'models/thyroid-nodule/manifest.json')))
    path = os.path.join(ROOT, 'docs/model-card.md')
    text = open(path).read()
    new = '<!-- cv:begin (generated by models/thyroid-nodule/train/card.py from cv-served.json) -->\n' + block(rep, man) + '\n<!-- cv:end -->'
    text = re.sub(r'<!-- cv:begin.*?<!-- cv:end -->', lambda _: new, text, flags=re.S)
    open(path, 'w').write(text)


if __name__ == '__main__':
    main()
