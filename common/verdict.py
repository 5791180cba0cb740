"""The paper's claims as measurements: for a pair of networks trained over several seeds,
the difference of their mean top-1, its 95% confidence interval by Welch's t (unequal
variances), and the word the interval supports.

A claim "A > B" *holds* when the whole interval is above zero, is *reversed* when it is
below zero, and is *not resolved* at this budget when the interval spans zero (or when a
side has fewer than two seeds, or no spread at all, so that no interval can be formed).
"""
import math
import statistics

# (better, worse, the claim) from the paper's CIFAR tables (arXiv 1806.00178).
CLAIMS = [
    ('igcv3', 'mobilenetv2', 'IGCV3-D 1.0x > MobileNetV2 (equal parameters)'),
    ('igcv3', 'igcv2', 'IGCV3-D 1.0x > IGCV2'),
    ('igcv3', 'igcv3_0.7x', 'IGCV3-D 1.0x > 0.7x'),
    ('igcv3_0.7x', 'igcv3_0.5x', 'IGCV3-D 0.7x > 0.5x'),
]

HOLDS, REVERSED, UNRESOLVED = 'holds', 'reversed', 'not resolved at this budget'


def welch_interval(a, b, confidence=0.95):
    """(mean(a) - mean(b), low, high, degrees of freedom) by Welch's t; low and high are
    None when an interval cannot be formed (a side with one value, or no spread)."""
    diff = statistics.mean(a) - statistics.mean(b)
    if len(a) < 2 or len(b) < 2:
        return diff, None, None, None
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return diff, None, None, None
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    from scipy.stats import t
    half = t.ppf(0.5 + confidence / 2, df) * se
    return diff, diff - half, diff + half, df


def judge(low, high):
    """The word an interval supports for the claim 'difference > 0'."""
    if low is None:
        return UNRESOLVED
    if low > 0:
        return HOLDS
    if high < 0:
        return REVERSED
    return UNRESOLVED


def verdicts(top1_by_network, claims=CLAIMS):
    """[{claim, better, worse, seeds, difference, low, high, df, verdict}] for each claim
    whose two networks were both run; top-1 values in percent, {network: [per seed]}."""
    out = []
    for better, worse, claim in claims:
        a, b = top1_by_network.get(better), top1_by_network.get(worse)
        if not a or not b:
            continue
        diff, low, high, df = welch_interval(a, b)
        out.append({'claim': claim, 'better': better, 'worse': worse,
                    'seeds': [len(a), len(b)], 'difference': diff, 'low': low, 'high': high,
                    'df': df, 'verdict': judge(low, high)})
    return out


def verdict_table(rows):
    """The verdicts as a Markdown table."""
    lines = ['| claim (paper) | seeds | difference of mean top-1 (points) | 95% CI (Welch) '
             '| verdict |', '|---|---|---|---|---|']
    for r in rows:
        ci = '%+.2f to %+.2f' % (r['low'], r['high']) if r['low'] is not None else '-'
        lines.append('| %s | %d vs %d | %+.2f | %s | %s |' % (
            r['claim'], r['seeds'][0], r['seeds'][1], r['difference'], ci, r['verdict']))
    return '\n'.join(lines)
