"""Building blocks and width rules shared by the inverted-residual network families.

Every network here is a stage table ``(t, c, n, s)`` read by :func:`build_network`: a
3x3/2 stem, ``n`` blocks per stage (the first one strided), a last 1x1 conv, global
average pooling and the classifier. The families differ only in their block function.
"""
import math

import mxnet as mx
import numpy as np

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


def conv_bn(data, prefix, num_filter, kernel=1, stride=1, num_group=1, relu6=False,
            fast=False):
    """Convolution (no bias) -> BatchNorm [-> ReLU6], named as upstream names them;
    ``fast``: the CPU training form of BN+ReLU6 (see :func:`bn_relu6`)."""
    pad = (kernel // 2, kernel // 2)
    out = mx.sym.Convolution(data=data, num_filter=num_filter, kernel=(kernel, kernel),
                             num_group=num_group, stride=(stride, stride), pad=pad,
                             no_bias=True, name='%s-conv2d' % prefix)
    return bn_relu6(out, prefix, relu6, fast=fast)


def bn_relu6(data, prefix, with_relu6, fast=False, gamma=None, beta=None, interleave=1):
    """BatchNorm [-> ReLU6] after a convolution, with the released settings and names.

    The released ReLU6 is ``clip(x, 0, 6)``. In the CPU training form (``fast``, see
    :func:`training_form`) it is ``min(relu(x), 6)``: the same values, exactly, and
    faster to train on the CPU, where MXNet 1.9's clip kernel is slow (5 ns an element,
    single-threaded) and oneDNN's ReLU is not. With ``fast == FUSED_BN_RELU`` the ReLU
    is fused into the BatchNorm (oneDNN's BatchNormWithReLU, same parameters and names),
    5% faster again; its backward needs every activation in one oneDNN blocking, which
    AVX2 kernels give (common.use_training_kernels) and AVX-512 kernels do not (oneDNN
    then fails to create the primitive). Gradients differ from clip's only at x == 0
    exactly (clip passes it, relu does not).

    ``gamma``/``beta`` replace the parameters by expressions of them; ``interleave`` > 1
    marks the running statistics as kept in interleaved channel order (see
    :func:`aux_to_graph`).
    """
    name = '%s-batchnorm' % prefix
    extra = {}
    if gamma is not None:
        extra.update(gamma=gamma, beta=beta)
    if interleave > 1:
        attr = {INTERLEAVE_ATTR: str(interleave)}
        extra.update(moving_mean=mx.sym.Variable(name + '_moving_mean', attr=attr),
                     moving_var=mx.sym.Variable(name + '_moving_var', attr=attr))
    settings = dict(fix_gamma=False, use_global_stats=False, eps=1e-5, name=name, **extra)
    if fast and with_relu6:
        if fast == FUSED_BN_RELU:
            out = mx.sym.contrib.BatchNormWithReLU(data=data, **settings)
        else:
            out = mx.sym.Activation(mx.sym.BatchNorm(data=data, **settings), act_type='relu',
                                    name='%s-relu' % prefix)
        return mx.sym._internal._minimum_scalar(out, scalar=6.0, name='%s-relu6' % prefix)
    out = mx.sym.BatchNorm(data=data, **settings)
    if with_relu6:
        out = mx.sym.clip(out, a_min=0, a_max=6, name='%s-relu6' % prefix)
    return out


FUSED_BN_RELU = 2


def training_form(fast_group_conv=False, fuse_bn_relu=False):
    """The ``fast`` value the builders pass down: 0 for the released ops, 1 for the CPU
    training form (same parameters and function: block-diagonal dense convs for grouped
    1x1 convs, permutations folded into parameters, ReLU6 as min(relu(x), 6)), and
    FUSED_BN_RELU for it with BatchNorm and ReLU fused (only with AVX2 oneDNN kernels, see
    :func:`bn_relu6`)."""
    if not fast_group_conv:
        return 0
    return FUSED_BN_RELU if fuse_bn_relu else 1


INTERLEAVE_ATTR = '__interleave_groups__'


def interleave_rows(data, groups, rows):
    """Rows (axis 0) of ``data`` in interleaved order: row i*groups+j is row j*rows+i, the
    order :func:`channel_permutation` gives channels. ``data`` has groups*rows rows."""
    shape = mx.sym.reshape(data, shape=(-4, groups, rows, -2))
    return mx.sym.reshape(mx.sym.swapaxes(shape, dim1=0, dim2=1), shape=(-3, -2))


def block_diagonal_weight(name, num_filter, in_channels, num_group, dtype='float32',
                          interleave=False):
    """The (num_filter, in_channels, 1, 1) dense weight equal to a grouped 1x1 conv's
    parameter ``name`` of shape (num_filter, in_channels/G, 1, 1): group j's block on the
    diagonal, zeros elsewhere, concatenated from the parameter's slices and zeros (the
    backward only slices; a broadcast product with an identity matrix trains slower, its
    backward being a reduction). With ``interleave`` its rows come in interleaved order,
    so the conv's output is already channel-permuted."""
    rows, cols = num_filter // num_group, in_channels // num_group
    weight = mx.sym.Variable(name, shape=(num_filter, cols, 1, 1), dtype=dtype)
    parts = mx.sym.split(mx.sym.reshape(weight, shape=(num_filter, cols)),
                         num_outputs=num_group, axis=0)
    bands = []
    for j in range(num_group):
        band = [parts[j]]
        if j:
            band.insert(0, mx.sym.zeros((rows, j * cols), dtype=dtype))
        if j < num_group - 1:
            band.append(mx.sym.zeros((rows, (num_group - 1 - j) * cols), dtype=dtype))
        bands.append(mx.sym.concat(*band, dim=1))
    dense = mx.sym.concat(*bands, dim=0)
    if interleave:
        dense = interleave_rows(dense, num_group, rows)
    return mx.sym.reshape(dense, shape=(num_filter, in_channels, 1, 1))


def block_diagonal_conv_bn(data, prefix, num_filter, in_channels, num_group, relu6=False,
                           dtype='float32', interleave=False, fast=1):
    """The function of conv_bn(..., kernel=1, num_group=G) computed as a dense 1x1
    convolution whose weight is the block-diagonal matrix assembled, inside the graph,
    from the very same (num_filter, in_channels/G, 1, 1) parameter.

    Same parameter name, shape and count; the zero blocks get no gradient. MXNet 1.9's
    CPU backward of grouped 1x1 convolutions is slow, and oneDNN's dense one is not.

    ``interleave`` also applies :func:`channel_permutation` to the output, at no cost:
    the weight's rows and BN's gamma and beta are taken in interleaved order (tiny
    tensors), so the activations are never permuted. BN's running statistics are then
    kept in interleaved order; :func:`aux_to_graph` and :func:`aux_to_released` convert.
    """
    name = '%s-conv2d' % prefix
    weight = block_diagonal_weight(name + '_weight', num_filter, in_channels, num_group,
                                   dtype, interleave)
    out = mx.sym.Convolution(data=data, weight=weight, num_filter=num_filter, kernel=(1, 1),
                             no_bias=True, name=name)
    if not interleave:
        return bn_relu6(out, prefix, relu6, fast=fast)
    rows = num_filter // num_group
    # (BatchNorm keeps float32 parameters for float16 data.)
    gamma, beta = (interleave_rows(mx.sym.Variable('%s-batchnorm_%s' % (prefix, what),
                                                   shape=(num_filter,), dtype='float32'),
                                   num_group, rows)
                   for what in ('gamma', 'beta'))
    return bn_relu6(out, prefix, relu6, fast=fast, gamma=gamma, beta=beta,
                    interleave=num_group)


# The training form computes grouped 1x1 convs of up to this many groups as dense ones:
# the dense conv does G times the work, a loss beyond a few groups (IGCV2's up to 64).
DENSE_MAX_GROUPS = 4


def group_conv_bn(data, prefix, num_filter, in_channels, num_group, relu6=False, fast=False,
                  dtype='float32', interleave=False):
    """A grouped 1x1 conv -> BN [-> ReLU6] [-> channel permutation if ``interleave``]: the
    released ops, or with ``fast`` and at most DENSE_MAX_GROUPS groups the same function
    computed as block_diagonal_conv_bn does (same parameters)."""
    if fast and 1 < num_group <= DENSE_MAX_GROUPS:
        return block_diagonal_conv_bn(data, prefix, num_filter, in_channels, num_group, relu6,
                                      dtype, interleave, fast)
    out = conv_bn(data, prefix, num_filter, num_group=num_group, relu6=relu6, fast=fast)
    return channel_permutation(out, num_group, prefix) if interleave else out


def channel_permutation(data, groups, prefix):
    """Interleave ``groups`` channel groups: output channel i*groups+j is input channel
    j*(C/groups)+i, so each group of the next group conv sees every previous group."""
    out = mx.sym.reshape(data, shape=(0, -4, groups, -1, -2), name='%s-permute-split' % prefix)
    out = mx.sym.swapaxes(out, dim1=1, dim2=2, name='%s-permute-swap' % prefix)
    return mx.sym.reshape(out, shape=(0, -3, -2), name='%s-permute-merge' % prefix)


def interleaved_aux(sym):
    """{auxiliary state name: groups} for the states ``sym`` keeps in interleaved order."""
    aux = set(sym.list_auxiliary_states())
    return {name: int(attrs[INTERLEAVE_ATTR]) for name, attrs in sym.attr_dict().items()
            if name in aux and INTERLEAVE_ATTR in attrs}


def interleave_order(channels, groups):
    """The released channel behind each channel of the interleaved order: channel
    i*groups+j is channel j*(channels/groups)+i (:func:`channel_permutation`)."""
    return np.arange(channels).reshape(groups, -1).T.reshape(-1)


def _permute_aux(sym, aux, to_graph):
    if not aux:
        return aux
    groups = interleaved_aux(sym)
    if not groups:
        return aux
    out = dict(aux)
    for name, g in groups.items():
        if name not in out:
            continue
        arr = out[name]
        order = interleave_order(arr.shape[0], g)
        if not to_graph:
            order = np.argsort(order)
        out[name] = mx.nd.take(arr, mx.nd.array(order, ctx=arr.context))
    return out


def aux_to_graph(sym, aux):
    """Auxiliary states in the released channel order -> the order ``sym`` keeps them in
    (a copy; the same dict when nothing differs)."""
    return _permute_aux(sym, aux, True)


def aux_to_released(sym, aux):
    """The inverse of :func:`aux_to_graph`: ``sym``'s auxiliary states in released order,
    the order checkpoints store."""
    return _permute_aux(sym, aux, False)


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
                  igcv3_quirks=True, label_smoothing=0.0, fast_group_conv=False,
                  fuse_bn_relu=False, **unused):
    """Stem -> stages of ``block`` -> last 1x1 conv -> global pool -> fc -> softmax.

    ``block(data, prefix, in_channels, expand_channels, out_channels, stride, residual)``
    builds one block; keys in ``unused`` (the training scripts pass all their flags) are
    ignored. ``label_smoothing`` > 0 sets the softmax's smooth_alpha. Widths come from ``width_rule`` ('upstream' or 'standard'), rounded
    up to multiples of ``align``; ``igcv3_quirks`` selects upstream's IGCV3 arithmetic.
    ``fast_group_conv`` and ``fuse_bn_relu`` give the stem and last conv the CPU training
    form of BN+ReLU6 (:func:`training_form`); the blocks get it from ``block``.
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
    fast = training_form(fast_group_conv, fuse_bn_relu)
    body = conv_bn(data, STEM, plan.stem, kernel=3, stride=stem_stride, relu6=True,
                   fast=fast)
    in_c = plan.stem
    for i, stage in enumerate(plan.stages):
        for j in range(stage.n):
            stride = stage.s if j == 0 else 1
            # Upstream gives every block but a stage's first a shortcut.
            body = block(body, 'seq-%d-block%d' % (i, j), in_c, stage.expansion(j), stage.c,
                         stride, j > 0)
            in_c = stage.c
    body = conv_bn(body, LAST, plan.last, relu6=True, fast=fast)
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
