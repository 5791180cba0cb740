"""Building blocks and width rules shared by the inverted-residual network families.

Every network here is a stage table ``(t, c, n, s)`` read by :func:`build_network`: a
3x3/2 stem, ``n`` blocks per stage (the first one strided), a last 1x1 conv, global
average pooling and the classifier. The families differ only in their block function.
"""
import math

import mxnet as mx

from common.errors import UserError

# Upstream layer names, kept so released checkpoints load by name.
STEM = 'first-3x3-conv'
LAST = 'last-1x1-conv'


class NetworkConfigError(UserError, ValueError):
    """A network was asked for with arguments it cannot be built with."""


def parse_image_shape(image_shape):
    """'3,224,224' or (3, 224, 224) -> (3, 224, 224)."""
    if isinstance(image_shape, str):
        try:
            shape = tuple(int(v) for v in image_shape.split(','))
        except ValueError:
            raise NetworkConfigError(
                "bad --image-shape '%s': give channels,height,width, e.g. 3,224,224" % image_shape)
    else:
        shape = tuple(int(v) for v in image_shape)
    if len(shape) != 3 or min(shape) <= 0:
        raise NetworkConfigError(
            "bad --image-shape %s: give channels,height,width, e.g. 3,224,224" % (shape,))
    return shape


def conv_bn(data, prefix, num_filter, kernel=1, stride=1, num_group=1, relu6=False):
    """Convolution (no bias) -> BatchNorm [-> ReLU6], named as upstream names them."""
    pad = (kernel // 2, kernel // 2)
    out = mx.sym.Convolution(data=data, num_filter=num_filter, kernel=(kernel, kernel),
                             num_group=num_group, stride=(stride, stride), pad=pad,
                             no_bias=True, name='%s-conv2d' % prefix)
    return bn_relu6(out, prefix, relu6)


def bn_relu6(data, prefix, relu6):
    """BatchNorm [-> ReLU6] after a convolution, with the released settings and names."""
    out = mx.sym.BatchNorm(data=data, fix_gamma=False, use_global_stats=False, eps=1e-5,
                           name='%s-batchnorm' % prefix)
    if relu6:
        out = mx.sym.clip(out, a_min=0, a_max=6, name='%s-relu6' % prefix)
    return out


def block_diagonal_conv_bn(data, prefix, num_filter, in_channels, num_group, relu6=False):
    """The function of conv_bn(..., kernel=1, num_group=G) computed as a dense 1x1
    convolution whose weight is the block-diagonal matrix assembled, inside the graph,
    from the very same (num_filter, in_channels/G, 1, 1) parameter.

    Same parameter name, shape and count; the zero blocks get no gradient. MXNet 1.9's
    CPU backward of grouped 1x1 convolutions is slow, and oneDNN's dense one is not:
    IGCV3 trains about 2.5x faster this way (tools/benchmark.py).
    """
    rows, cols = num_filter // num_group, in_channels // num_group
    weight = mx.sym.Variable('%s-conv2d_weight' % prefix, shape=(num_filter, cols, 1, 1))
    tiled = mx.sym.tile(mx.sym.reshape(weight, shape=(num_filter, cols)), reps=(1, num_group))
    row_group = mx.sym.floor(mx.sym.reshape(mx.sym.arange(0, num_filter), shape=(num_filter, 1)) / rows)
    col_group = mx.sym.floor(mx.sym.reshape(mx.sym.arange(0, in_channels), shape=(1, in_channels)) / cols)
    dense = mx.sym.broadcast_mul(tiled, mx.sym.broadcast_equal(row_group, col_group))
    dense = mx.sym.reshape(dense, shape=(num_filter, in_channels, 1, 1))
    out = mx.sym.Convolution(data=data, weight=dense, num_filter=num_filter, kernel=(1, 1),
                             no_bias=True, name='%s-conv2d' % prefix)
    return bn_relu6(out, prefix, relu6)


def group_conv_bn(data, prefix, num_filter, in_channels, num_group, relu6=False, fast=False):
    """A grouped 1x1 conv -> BN [-> ReLU6]: the released op, or with ``fast`` its
    block-diagonal dense equivalent (same parameters, same function)."""
    if fast and 1 < num_group:
        return block_diagonal_conv_bn(data, prefix, num_filter, in_channels, num_group, relu6)
    return conv_bn(data, prefix, num_filter, num_group=num_group, relu6=relu6)


def channel_permutation(data, groups, prefix):
    """Interleave ``groups`` channel groups: output channel i*groups+j is input channel
    j*(C/groups)+i, so each group of the next group conv sees every previous group."""
    out = mx.sym.reshape(data, shape=(0, -4, groups, -1, -2), name='%s-permute-split' % prefix)
    out = mx.sym.swapaxes(out, dim1=1, dim2=2, name='%s-permute-swap' % prefix)
    return mx.sym.reshape(out, shape=(0, -3, -2), name='%s-permute-merge' % prefix)


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


WIDTH_RULES = ('upstream', 'standard')


def cifar_strides(stages):
    """CIFAR layout of the public ports: the second stage keeps the resolution (the stem
    does too, see build_network), so a 32x32 input ends on a 4x4 map."""
    return [(t, c, n, 1 if i == 1 else s) for i, (t, c, n, s) in enumerate(stages)]


def resolve_layout(layout, image_shape):
    """'imagenet' or 'cifar'; None picks cifar for inputs of at most 64 pixels a side."""
    if layout is None:
        return 'cifar' if max(image_shape[1:]) <= 64 else 'imagenet'
    layout = str(layout).lower()
    if layout not in ('imagenet', 'cifar'):
        raise NetworkConfigError("unknown layout '%s': use imagenet or cifar" % layout)
    return layout


def build_network(block, stages, num_classes=1000, multiplier=1.0, image_shape=(3, 224, 224),
                  layout=None, width_rule='upstream', dtype='float32', align=1,
                  igcv3_quirks=True, label_smoothing=0.0, **unused):
    """Stem -> stages of ``block`` -> last 1x1 conv -> global pool -> fc -> softmax.

    ``block(data, prefix, in_channels, expand_channels, out_channels, stride, residual)``
    builds one block; keys in ``unused`` (the training scripts pass all their flags) are
    ignored. ``label_smoothing`` > 0 sets the softmax's smooth_alpha. Widths come from ``width_rule`` ('upstream' or 'standard'), rounded
    up to multiples of ``align``; ``igcv3_quirks`` selects upstream's IGCV3 arithmetic.
    """
    num_classes, multiplier = int(num_classes), float(multiplier)
    if num_classes < 1:
        raise NetworkConfigError('--num-classes must be at least 1, got %d' % num_classes)
    if multiplier <= 0:
        raise NetworkConfigError('--multiplier must be positive, got %g' % multiplier)
    if dtype not in ('float32', 'float16'):
        raise NetworkConfigError("--dtype must be float32 or float16, got '%s'" % dtype)
    if width_rule not in WIDTH_RULES:
        raise NetworkConfigError("unknown width rule '%s': use %s"
                                 % (width_rule, ' or '.join(WIDTH_RULES)))
    image_shape = parse_image_shape(image_shape)
    layout = resolve_layout(layout, image_shape)
    _, height, width = image_shape
    stem_stride = 1 if layout == 'cifar' else 2
    if layout == 'cifar':
        stages = cifar_strides(stages)
    if width_rule == 'upstream':
        plan = upstream_plan(stages, multiplier, align=align, igcv3_quirks=igcv3_quirks)
    else:
        plan = standard_plan(stages, multiplier, align=align)
    reduction = stem_stride
    for stage in plan.stages:
        reduction *= stage.s
    if height < reduction or width < reduction:
        raise NetworkConfigError(
            'image shape %s is too small for the %s layout (needs at least %dx%d)'
            % (','.join(str(v) for v in image_shape), layout, reduction, reduction))

    data = mx.sym.Variable('data')
    if dtype == 'float16':
        data = mx.sym.Cast(data=data, dtype='float16', name='data_fp16')
    body = conv_bn(data, STEM, plan.stem, kernel=3, stride=stem_stride, relu6=True)
    in_c = plan.stem
    for i, stage in enumerate(plan.stages):
        for j in range(stage.n):
            stride = stage.s if j == 0 else 1
            # Upstream gives every block but a stage's first a shortcut.
            body = block(body, 'seq-%d-block%d' % (i, j), in_c, stage.expansion(j), stage.c,
                         stride, j > 0)
            in_c = stage.c
    body = conv_bn(body, LAST, plan.last, relu6=True)
    pool_kernel = (-(-height // reduction), -(-width // reduction))
    body = mx.sym.Pooling(data=body, kernel=pool_kernel, stride=(1, 1), pool_type='avg',
                          global_pool=True, name='global_pool')
    body = mx.sym.Flatten(data=body, name='flatten')
    fc = mx.sym.FullyConnected(data=body, num_hidden=num_classes, name='fc')
    if dtype == 'float16':
        fc = mx.sym.Cast(data=fc, dtype='float32', name='fc_fp32')
    if label_smoothing:
        return mx.sym.SoftmaxOutput(data=fc, smooth_alpha=float(label_smoothing), name='softmax')
    return mx.sym.SoftmaxOutput(data=fc, name='softmax')
