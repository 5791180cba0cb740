"""Width rules: the channel count of every layer from a stage table and a multiplier.

Two rules, both needed (docs/design.md):
- ``upstream``: exactly what the released code computed (Python 2 rounding and, for the
  IGCV3 files, its quirks), so upstream's checkpoints at other widths fit;
- ``standard``: the usual rule, int(c*m) rounded up to the alignment, applied once.
Both agree at 1.0x.
"""
import math

from .errors import NetworkConfigError

WIDTH_RULES = ('upstream', 'standard')


def make_divisible(channels, divisor):
    """Round up to a multiple of ``divisor``."""
    return int(math.ceil(channels / float(divisor)) * divisor)


def round_half_up(x):
    """Python 2's round(), which upstream's width arithmetic ran under."""
    return int(math.floor(x + 0.5))


class StagePlan(object):
    """Resolved channels of one stage: expansion t, output c, blocks n, stride s and the
    channel count the first block's expansion is computed from."""

    def __init__(self, t, c, n, s, expand_from):
        self.t, self.c, self.n, self.s, self.expand_from = t, c, n, s, expand_from

    def expansion(self, block):
        return round_half_up((self.expand_from if block == 0 else self.c) * self.t)


class NetPlan(object):
    def __init__(self, stem, stages, last):
        self.stem, self.stages, self.last = stem, stages, last


def upstream_plan(stages, multiplier, align=2, igcv3_quirks=True, stem=32, last=1280):
    """Widths exactly as the released code computed them (Python 2 rounding).

    The IGCV3 files (``igcv3_quirks``) round each width up to a multiple of ``align``
    (the group count), apply the multiplier a second time to the channel count that the
    next stage's first block expands from (the 2-group file, when that count is odd,
    adds 1 to the stage width instead of to the count), and above 1.0x give the last
    conv int(1280*m)+1 filters. The MobileNetV2 file multiplies once and gives
    int(1280*m). Kept because upstream checkpoints at other widths depend on them.
    """
    stem_c = make_divisible(round_half_up(stem * multiplier), align)
    plans, in_c = [], stem_c
    for t, c, n, s in stages:
        c = make_divisible(round_half_up(c * multiplier), align)
        plans.append(StagePlan(t, c, n, s, in_c))
        in_c = c
        if igcv3_quirks:
            in_c = round_half_up(c * multiplier)
            if in_c % align:
                in_c = c + 1 if align == 2 else make_divisible(in_c, align)
    if multiplier > 1.0:
        last = int(last * multiplier) + (1 if igcv3_quirks else 0)
    return NetPlan(stem_c, plans, last)


def standard_plan(stages, multiplier, align=2, stem=32, last=1280):
    """The usual width rule: each width is int(c*m) rounded up to a multiple of ``align``,
    applied once; the last conv widens only above 1.0x."""
    stem_c = make_divisible(int(stem * multiplier), align)
    plans, in_c = [], stem_c
    for t, c, n, s in stages:
        c = make_divisible(int(c * multiplier), align)
        plans.append(StagePlan(t, c, n, s, in_c))
        in_c = c
    last_c = make_divisible(int(last * multiplier), align) if multiplier > 1.0 else last
    return NetPlan(stem_c, plans, last_c)


def plan_widths(stages, multiplier, width_rule='upstream', align=1, igcv3_quirks=False):
    """The NetPlan of ``stages`` at ``multiplier`` under ``width_rule``."""
    if width_rule not in WIDTH_RULES:
        raise NetworkConfigError("unknown width_rule '%s': use %s"
                                 % (width_rule, ' or '.join(WIDTH_RULES)))
    if width_rule == 'upstream':
        return upstream_plan(stages, multiplier, align=align, igcv3_quirks=igcv3_quirks)
    return standard_plan(stages, multiplier, align=align)
