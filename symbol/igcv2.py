"""IGCV2 baseline for the paper's CIFAR comparison, built from the IGCV2 paper.

Xie et al., "IGCV2: Interleaved Structured Sparse Convolutional Neural Networks",
arXiv:1804.06202. The IGCV3 paper compares against an "IGCV2" of 2.4M parameters whose
layout it never published; this one is our construction, documented here.

Block (the IGCV2 paper's channel-wise conv followed by two group 1x1 convs):
    3x3 channel-wise conv (the stage's stride) -> BN
    -> 1x1 conv, G groups, C -> C' -> BN -> ReLU6
    -> permutation interleaving the G groups
    -> 1x1 conv, C'/G groups of G channels, C' -> C' (linear) -> BN
    -> + input, for every block of a stage but the first.
Complementary condition: after the permutation each group of the second 1x1 conv holds
one channel of every group of the first, so every output channel depends on every input
channel through exactly one path. Balance condition: G is the divisor of both widths
nearest sqrt(C), making the first conv's groups (C/G channels) and the second's (G
channels) about the same size.

Macro layout: IGCV3-D's stages (depths 1,4,6,8,6,6,1, same strides, CIFAR layout for
small inputs) with each stage WIDTH times wider, rounded up to a multiple of 8;
stem and last conv (32, 1280) as IGCV3. There is no expansion, so the stage's t is
unused. WIDTH = 4 matches IGCV3-D 1.0x's parameters within 5% (see the tests).
"""
import math

import mxnet as mx

from .forms import Form
from .igcv3 import IGCV3_D
from .layers import conv_bn
from .registry import NetworkSpec, register, register_family
from .training_form import group_conv_bn
from .widths import make_divisible

WIDTH = 4.0


def widened(stages, width):
    """IGCV3-D's stages ``width`` times wider, rounded up to multiples of 8."""
    return tuple((t, make_divisible(c * width, 8), n, s) for t, c, n, s in stages)


def balanced_groups(in_channels, out_channels):
    """The common divisor of both widths nearest sqrt(in_channels)."""
    common = math.gcd(in_channels, out_channels)
    root = math.sqrt(in_channels)
    return min((g for g in range(1, common + 1) if common % g == 0),
               key=lambda g: (abs(g - root), g))


def igcv2_block(data, prefix, in_channels, expand_channels, out_channels, stride, residual,
                form=Form.RELEASED, dtype='float32'):
    groups = balanced_groups(in_channels, out_channels)
    out = conv_bn(data, prefix + '-channelwise', in_channels, kernel=3, stride=stride,
                  num_group=in_channels)
    out = group_conv_bn(out, prefix + '-group1', out_channels, in_channels, groups, relu6=True,
                        form=form, dtype=dtype, interleave=True)
    out = group_conv_bn(out, prefix + '-group2', out_channels, out_channels,
                        out_channels // groups, form=form, dtype=dtype)
    if residual:
        out = mx.sym.elemwise_add(data, out, name=prefix + '-shortcut')
    return out


@register_family('igcv2', options=('width',))
def igcv2_blocks(spec, form, dtype, width=None):
    """``width``: stages this many times IGCV3-D's (default WIDTH, the record's)."""
    def block(*args):
        return igcv2_block(*args, form=form, dtype=dtype)
    stages = spec.stages if width is None else widened(IGCV3_D, float(width))
    return block, spec.align, stages


register(NetworkSpec('igcv2', 'igcv2', widened(IGCV3_D, WIDTH),
                     'IGCV2 baseline (our construction from the IGCV2 paper)', align=8))
