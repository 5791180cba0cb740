"""IGCV3: Interleaved Low-Rank Group Convolutions for Efficient Deep Neural Networks.

Sun, Li, Liu, Wang, BMVC 2018, arXiv:1806.00178. Reproduces the MXNet networks the
authors released: ``igcv3`` at 1.0x, 1000 classes and 3x224x224 is node for node the
released ``igcv3-symbol.json`` (same ops, attributes, edges and parameter names), so the
released ``igcv3-0000.params`` loads unchanged.

Block (an inverted residual whose 1x1 convs are low-rank group convs):
    1x1 conv, G1 groups, C -> t*C (no ReLU: the authors removed it on purpose) -> BN
    -> permutation interleaving the G1 groups
    -> 3x3 depthwise conv (the stage's stride) -> BN -> ReLU6
    -> 1x1 conv, G2 groups, t*C -> C' (linear) -> BN
    -> + input, for every block of a stage but the first.
Depths are MobileNetV2's doubled except the first and last stage ("IGCV3-D").

Deviations and choices, each deliberate:
- Upstream built its graph at any input size with the 224 layout; here a small input
  (at most 64 pixels a side, e.g. CIFAR's 32x32) or ``layout='cifar'`` gets the layout of
  the public CIFAR ports: stem stride 1 and second stage stride 1 (final map 4x4).
- ``width_rule='upstream'`` (default) reproduces upstream's width arithmetic, quirks
  included (symbol.widths.upstream_plan), so upstream's 0.5x/0.75x/1.4x checkpoints fit;
  ``width_rule='standard'`` is the usual rule. Both agree at 1.0x.
- The paper's CIFAR "IGCV3-D 0.7x/0.5x" have fewer blocks per stage; the block counts
  were never published. ``igcv3_0.7x`` and ``igcv3_0.5x`` use the counts below, chosen so
  the CIFAR-10 parameters are 0.70x and 0.50x of ``igcv3`` (within 5%).
"""
import mxnet as mx

from .errors import NetworkConfigError
from .forms import Form
from .layers import conv_bn
from .registry import NetworkSpec, register, register_family
from .training_form import group_conv_bn

# t, c, n, s
IGCV3_D = ((1, 16, 1, 1), (6, 24, 4, 2), (6, 32, 6, 2), (6, 64, 8, 2),
           (6, 96, 6, 1), (6, 160, 6, 2), (6, 320, 1, 1))
# IGCV3-W: MobileNetV2 depths, every stage twice as wide.
IGCV3_W = ((1, 32, 1, 1), (6, 48, 2, 2), (6, 64, 3, 2), (6, 128, 4, 2),
           (6, 192, 3, 1), (6, 320, 3, 2), (6, 640, 1, 1))
# The paper's shallower CIFAR variants (block counts our choice, see the docstring).
# Of the candidate counts (first and last stage 1, none above IGCV3-D's), these gave the
# CIFAR-10 parameter ratios nearest 0.7 and 0.5: 1,579,146 (0.710x), 1,111,946 (0.500x).
IGCV3_D_07 = ((1, 16, 1, 1), (6, 24, 3, 2), (6, 32, 4, 2), (6, 64, 6, 2),
              (6, 96, 5, 1), (6, 160, 3, 2), (6, 320, 1, 1))
IGCV3_D_05 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 2, 2), (6, 64, 3, 2),
              (6, 96, 2, 1), (6, 160, 2, 2), (6, 320, 1, 1))


def igcv3_block(data, prefix, in_channels, expand_channels, out_channels, stride, residual,
                g1=2, g2=2, form=Form.RELEASED, dtype='float32'):
    for what, channels, groups in (('input', in_channels, g1),
                                   ('expansion', expand_channels, g1),
                                   ('expansion', expand_channels, g2),
                                   ('output', out_channels, g2)):
        if channels % groups:
            raise NetworkConfigError(
                '%s: %s channels %d not divisible by %d groups; pick another multiplier '
                'or group count' % (prefix, what, channels, groups))
    # The permutation after the first conv's BN (folded into that conv's weight and BN
    # parameters in the CPU training form).
    out = group_conv_bn(data, prefix + '-exp', expand_channels, in_channels, g1, form=form,
                        dtype=dtype, interleave=True)
    out = conv_bn(out, prefix + '-depthwise', expand_channels, kernel=3, stride=stride,
                  num_group=expand_channels, relu6=True, form=form)
    out = group_conv_bn(out, prefix + '-linear', out_channels, expand_channels, g2, form=form,
                        dtype=dtype)
    if residual:
        out = mx.sym.elemwise_add(data, out, name=prefix + '-shortcut')
    return out


@register_family('igcv3', options=('g1', 'g2'))
def igcv3_blocks(spec, form, dtype, g1=None, g2=None):
    """``g1``/``g2``: group counts of the two 1x1 convs (default: the record's groups);
    widths are multiples of the larger."""
    g1 = spec.groups[0] if g1 is None else int(g1)
    g2 = spec.groups[1] if g2 is None else int(g2)
    if g1 < 1 or g2 < 1:
        raise NetworkConfigError('group counts must be at least 1, got g1=%d g2=%d' % (g1, g2))

    def block(*args):
        return igcv3_block(*args, g1=g1, g2=g2, form=form, dtype=dtype)
    return block, max(g1, g2), spec.stages


for _spec in (
        NetworkSpec('igcv3', 'igcv3', IGCV3_D, 'IGCV3-D, the released network',
                    groups=(2, 2), igcv3_quirks=True),
        NetworkSpec('igcv3_g2g4', 'igcv3', IGCV3_D,
                    "upstream variant with 4 groups in each block's last 1x1 conv",
                    groups=(2, 4), igcv3_quirks=True),
        NetworkSpec('igcv3_wider', 'igcv3', IGCV3_W,
                    'IGCV3-W: MobileNetV2 depths at twice the width',
                    groups=(2, 2), igcv3_quirks=True),
        NetworkSpec('igcv3_0.7x', 'igcv3', IGCV3_D_07,
                    "the paper's CIFAR IGCV3-D 0.7x: fewer blocks, same widths",
                    groups=(2, 2), igcv3_quirks=True),
        NetworkSpec('igcv3_0.5x', 'igcv3', IGCV3_D_05,
                    "the paper's CIFAR IGCV3-D 0.5x: fewer blocks, same widths",
                    groups=(2, 2), igcv3_quirks=True)):
    register(_spec)
