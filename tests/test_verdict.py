"""The paper's claims judged from seeds: Welch's interval against scipy's own test, and the
word it supports on results with a known difference, a null one and a reversed one."""
import numpy as np
import pytest
from scipy import stats

from common import verdict


def test_welch_interval_agrees_with_scipys_welch_test():
    rng = np.random.RandomState(0)
    a, b = list(rng.normal(90, 0.5, 4)), list(rng.normal(89, 1.0, 3))
    diff, low, high, df = verdict.welch_interval(a, b)
    assert diff == pytest.approx(np.mean(a) - np.mean(b))
    # the interval's edge is where Welch's t-test of a shifted difference has p = 0.05
    for edge in (low, high):
        shifted = [x - edge for x in a]
        assert stats.ttest_ind(shifted, b, equal_var=False).pvalue == pytest.approx(0.05, abs=1e-6)
    assert low < diff < high and 2 <= df <= 5


def test_known_difference_holds_null_does_not_reversed_is_named():
    rng = np.random.RandomState(1)
    top1 = {'igcv3': list(90 + rng.normal(0, 0.2, 5)),
            'mobilenetv2': list(88 + rng.normal(0, 0.2, 5)),       # 2 points below: holds
            'igcv2': list(90 + rng.normal(0, 0.2, 5)),             # the same: not resolved
            'igcv3_0.7x': list(91 + rng.normal(0, 0.2, 3)),        # above 1.0x: reversed
            'igcv3_0.5x': [85.0]}                                   # one seed: no interval
    rows = {r['worse']: r for r in verdict.verdicts(top1)}
    assert rows['mobilenetv2']['verdict'] == verdict.HOLDS
    assert rows['igcv2']['verdict'] == verdict.UNRESOLVED
    assert rows['igcv2']['low'] < 0 < rows['igcv2']['high']
    assert rows['igcv3_0.7x']['verdict'] == verdict.REVERSED
    assert rows['igcv3_0.5x']['verdict'] == verdict.UNRESOLVED and rows['igcv3_0.5x']['low'] is None
    assert rows['mobilenetv2']['seeds'] == [5, 5]
    table = verdict.verdict_table(verdict.verdicts(top1))
    assert '| IGCV3-D 1.0x > MobileNetV2 (equal parameters) | 5 vs 5 | +2.' in table
    assert table.count('\n') == 5  # header, rule, four claims


def test_claims_of_networks_not_run_are_left_out():
    assert verdict.verdicts({'igcv3': [90.0, 91.0]}) == []
    same = verdict.verdicts({'igcv3': [90.0, 90.0], 'mobilenetv2': [89.0, 89.0]})
    assert same[0]['verdict'] == verdict.UNRESOLVED  # no spread: no interval to form
