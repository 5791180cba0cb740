"""The CPU training form of grouped 1x1 convolutions and the channel permutation, and the
reordering of BatchNorm's running statistics it needs (see symbol.forms).

MXNet 1.9's CPU backward of grouped 1x1 convolutions is slow and oneDNN's dense one is
not, so in the training form a grouped 1x1 conv of at most DENSE_MAX_GROUPS groups is a
dense conv whose weight is the block-diagonal matrix assembled, inside the graph, from
the very same (num_filter, in_channels/G, 1, 1) parameter: same name, shape and count;
the zero blocks get no gradient. The permutation after such a conv and its BatchNorm
costs nothing there: the weight's rows and BatchNorm's gamma and beta are taken in
interleaved order (tiny tensors), so the activations are never permuted. BatchNorm's
running statistics then live in interleaved order inside the graph; checkpoints keep
the released order, and aux_to_graph/aux_to_released convert (common.module.Module
does it at its boundary).
"""
import json

import mxnet as mx
import numpy as np

from .errors import NetworkConfigError
from .forms import PAD_MULTIPLE, Form
from .layers import CONSTANT_ATTR, SIZE_OF_ATTR, bn_relu6, channel_permutation, conv_bn

# Grouped 1x1 convs of up to this many groups are trained as dense ones: the dense conv
# does G times the work, a loss beyond a few groups (IGCV2's go up to 64).
DENSE_MAX_GROUPS = 4

# Marks a BatchNorm state variable kept in interleaved order, with its group count.
INTERLEAVE_ATTR = '__interleave_groups__'
# Marks a BatchNorm state variable with zero channels added (Form.CPU_TRAINING_PADDED):
# 'released count,padded count'.
PADDED_ATTR = '__padded_channels__'
# The operators whose outputs are activations oneDNN lays out (unblocked_activations).
ACTIVATION_OPS = ('Convolution', 'BatchNorm', '_contrib_BatchNormWithReLU', 'elemwise_add',
                  'add_n', 'Activation')


def padded(channels, form):
    """The channel count an activation between blocks of ``channels`` channels has in
    ``form``: the next multiple of PAD_MULTIPLE in Form.CPU_TRAINING_PADDED, else itself."""
    if form is not Form.CPU_TRAINING_PADDED:
        return channels
    return -(-channels // PAD_MULTIPLE) * PAD_MULTIPLE


def pad_weight(weight, num_filter, in_channels, out_pad, in_pad, F=mx.sym):
    """The (num_filter, in_channels, 1, 1) 1x1 weight ``weight`` with zero columns up to
    ``in_pad`` inputs (zero input channels meet zero weights) and zero rows up to
    ``out_pad`` outputs (zero output channels)."""
    if in_pad > in_channels:
        weight = F.concat(weight, F.zeros((num_filter, in_pad - in_channels, 1, 1)), dim=1)
    if out_pad > num_filter:
        weight = F.concat(weight, F.zeros((out_pad - num_filter, in_pad, 1, 1)), dim=0)
    return weight


def padded_bn_inputs(prefix, channels, padded_channels):
    """bn_relu6's inputs for a BatchNorm of ``channels`` whose data carries
    ``padded_channels``: gamma and beta with zeros added (so the added channels stay
    exactly zero, in training and inference), the running statistics as variables of the
    padded size, marked PADDED_ATTR (aux_to_graph/aux_to_released pad and cut them)."""
    bn = '%s-batchnorm' % prefix
    extra = padded_channels - channels
    inputs = {what: mx.sym.concat(mx.sym.Variable('%s_%s' % (bn, what), shape=(channels,)),
                                  mx.sym.zeros((extra,)), dim=0)
              for what in ('gamma', 'beta')}
    marked = {PADDED_ATTR: '%d,%d' % (channels, padded_channels)}
    inputs.update({what: mx.sym.Variable('%s_%s' % (bn, what), attr=marked)
                   for what in ('moving_mean', 'moving_var')})
    return inputs


def padded_conv_bn(data, prefix, num_filter, in_channels, form, relu6=False, pad_in=True,
                   pad_out=True):
    """A dense 1x1 conv_bn whose input carries padded(in_channels) channels (``pad_in``)
    and whose output carries padded(num_filter) (``pad_out``): MobileNetV2's 1x1 convs,
    the last conv. The released conv_bn in the other forms."""
    in_pad = padded(in_channels, form) if pad_in else in_channels
    out_pad = padded(num_filter, form) if pad_out else num_filter
    if (in_pad, out_pad) == (in_channels, num_filter):
        return conv_bn(data, prefix, num_filter, relu6=relu6, form=form)
    weight = pad_weight(mx.sym.Variable('%s-conv2d_weight' % prefix,
                                        shape=(num_filter, in_channels, 1, 1)),
                        num_filter, in_channels, out_pad, in_pad)
    inputs = padded_bn_inputs(prefix, num_filter, out_pad) if out_pad > num_filter else {}
    return conv_bn(data, prefix, out_pad, relu6=relu6, form=form, weight=weight, **inputs)


def unblocked_activations(sym, data_shape):
    """Names of the operators of ``sym`` whose 4-D output (at ``data_shape``) has a channel
    count that is not a multiple of PAD_MULTIPLE: none, for a graph that trains under
    oneDNN's AVX-512 kernels without mixing blockings."""
    internals = sym.get_internals()
    shapes = dict(zip(internals.list_outputs(), internals.infer_shape(data=data_shape)[1]))
    bad = []
    for node in json.loads(sym.tojson())['nodes']:
        shape = shapes.get(node['name'] + '_output')
        if node['op'] in ACTIVATION_OPS and shape and len(shape) == 4 and \
                shape[1] % PAD_MULTIPLE:
            bad.append(node['name'])
    return bad


def interleave_order(channels, groups):
    """The released channel behind each channel of the interleaved order: channel
    i*groups+j is channel j*(channels/groups)+i (layers.channel_permutation)."""
    return np.arange(channels).reshape(groups, -1).T.reshape(-1)


def interleave_rows(data, groups, rows, F=mx.sym):
    """Rows (axis 0) of ``data`` in interleaved order (interleave_order); ``data`` has
    groups*rows rows."""
    shape = F.reshape(data, shape=(-4, groups, rows, -2))
    return F.reshape(F.swapaxes(shape, dim1=0, dim2=1), shape=(-3, -2))


def _block_diagonal(F, weight, num_filter, in_channels, num_group, dtype, interleave):
    """The one construction of the block-diagonal weight, written once for both
    namespaces: ``F`` is mx.sym (the training form's graph) or mx.nd (the inference
    form's arrays)."""
    rows, cols = num_filter // num_group, in_channels // num_group
    parts = F.split(F.reshape(weight, shape=(num_filter, cols)), num_outputs=num_group, axis=0)
    if num_group == 1:
        parts = [parts]
    bands = []
    for j in range(num_group):
        band = [parts[j]]
        if j:
            band.insert(0, F.zeros((rows, j * cols), dtype=dtype))
        if j < num_group - 1:
            band.append(F.zeros((rows, (num_group - 1 - j) * cols), dtype=dtype))
        bands.append(F.concat(*band, dim=1))
    dense = F.concat(*bands, dim=0)
    if interleave:
        dense = interleave_rows(dense, num_group, rows, F)
    return F.reshape(dense, shape=(num_filter, in_channels, 1, 1))


def block_diagonal_weight(name, num_filter, in_channels, num_group, dtype='float32',
                          interleave=False):
    """The (num_filter, in_channels, 1, 1) dense weight equal to a grouped 1x1 conv's
    parameter ``name`` of shape (num_filter, in_channels/G, 1, 1): group j's block on the
    diagonal, zeros elsewhere, concatenated from the parameter's slices and zeros (the
    backward only slices; a broadcast product with an identity matrix trains slower, its
    backward being a reduction). With ``interleave`` its rows come in interleaved order,
    so the conv's output is already channel-permuted."""
    weight = mx.sym.Variable(name, shape=(num_filter, in_channels // num_group, 1, 1),
                             dtype=dtype)
    return _block_diagonal(mx.sym, weight, num_filter, in_channels, num_group, dtype,
                           interleave)


def dense_weight(weight, num_group):
    """The block-diagonal dense value of a grouped 1x1 conv's weight array (the
    construction of block_diagonal_weight, on arrays)."""
    num_filter, cols = weight.shape[:2]
    return _block_diagonal(mx.nd, weight.as_in_context(mx.cpu()), num_filter, cols * num_group,
                           num_group, np.dtype(weight.dtype).name, False)


def block_diagonal_conv_bn(data, prefix, num_filter, in_channels, num_group, relu6=False,
                           dtype='float32', interleave=False, form=Form.CPU_TRAINING):
    """conv_bn(..., kernel=1, num_group=G) [+ channel_permutation if ``interleave``] as a
    dense 1x1 convolution with the block-diagonal weight of the same parameter (with
    zero columns and rows for padded input and output channels, Form.CPU_TRAINING_PADDED)."""
    name = '%s-conv2d' % prefix
    in_pad, out_pad = padded(in_channels, form), padded(num_filter, form)
    if interleave and out_pad != num_filter:
        raise NetworkConfigError('%s: the padded training form cannot pad a permuted output '
                                 '(%d channels)' % (prefix, num_filter))
    weight = pad_weight(block_diagonal_weight(name + '_weight', num_filter, in_channels,
                                              num_group, dtype, interleave),
                        num_filter, in_channels, out_pad, in_pad)
    out = mx.sym.Convolution(data=data, weight=weight, num_filter=out_pad, kernel=(1, 1),
                             no_bias=True, name=name)
    if not interleave:
        inputs = padded_bn_inputs(prefix, num_filter, out_pad) if out_pad > num_filter else {}
        return bn_relu6(out, prefix, relu6, form, **inputs)
    rows = num_filter // num_group
    bn = '%s-batchnorm' % prefix
    # (BatchNorm keeps float32 parameters for float16 data.)
    gamma, beta = (interleave_rows(mx.sym.Variable('%s_%s' % (bn, what), shape=(num_filter,),
                                                   dtype='float32'), num_group, rows)
                   for what in ('gamma', 'beta'))
    marked = {INTERLEAVE_ATTR: str(num_group)}
    return bn_relu6(out, prefix, relu6, form, gamma=gamma, beta=beta,
                    moving_mean=mx.sym.Variable(bn + '_moving_mean', attr=marked),
                    moving_var=mx.sym.Variable(bn + '_moving_var', attr=marked))


def group_conv_bn(data, prefix, num_filter, in_channels, num_group, relu6=False,
                  form=Form.RELEASED, dtype='float32', interleave=False):
    """A grouped 1x1 conv -> BN [-> ReLU6] [-> channel permutation if ``interleave``] in
    ``form``: the released ops, or in a CPU training form with at most DENSE_MAX_GROUPS
    groups the same function as block_diagonal_conv_bn computes it."""
    if form.cpu_training and 1 < num_group <= DENSE_MAX_GROUPS:
        return block_diagonal_conv_bn(data, prefix, num_filter, in_channels, num_group, relu6,
                                      dtype, interleave, form)
    if (padded(in_channels, form), padded(num_filter, form)) != (in_channels, num_filter):
        raise NetworkConfigError('%s: the padded training form pads dense or block-diagonal '
                                 '1x1 convs only (%d groups)' % (prefix, num_group))
    out = conv_bn(data, prefix, num_filter, num_group=num_group, relu6=relu6, form=form)
    return channel_permutation(out, num_group, prefix) if interleave else out


def _marked_aux(sym, attr, value):
    """{auxiliary state name: value(its attributes)} for ``sym``'s states marked ``attr``."""
    aux = set(sym.list_auxiliary_states())
    return {name: value(attrs) for name, attrs in sym.attr_dict().items()
            if name in aux and attr in attrs}


def interleaved_aux(sym):
    """{auxiliary state name: groups} for the states ``sym`` keeps in interleaved order."""
    return _marked_aux(sym, INTERLEAVE_ATTR, lambda attrs: int(attrs[INTERLEAVE_ATTR]))


def constant_aux(sym):
    """{auxiliary state name: (value, the released state of its size)} for the states
    ``sym`` holds fixed (layers.capped_bn_relu6); empty for the released form."""
    return _marked_aux(sym, CONSTANT_ATTR,
                       lambda attrs: (float(attrs[CONSTANT_ATTR]), attrs[SIZE_OF_ATTR]))


def padded_aux(sym):
    """{auxiliary state name: (released count, padded count)} for the states ``sym`` holds
    with zero channels added."""
    return _marked_aux(sym, PADDED_ATTR,
                       lambda attrs: tuple(int(v) for v in attrs[PADDED_ATTR].split(',')))


def _permute_aux(sym, aux, to_graph):
    if not aux:
        return aux
    groups = interleaved_aux(sym)
    constants = constant_aux(sym)
    pads = padded_aux(sym)
    if not groups and not constants and not pads:
        return aux
    out = dict(aux)
    for name, (count, padded_count) in pads.items():
        if name not in out:
            continue
        arr = out[name]
        if not to_graph:
            out[name] = arr[:count]
        elif arr.shape[0] == count:  # added channels: mean 0, variance 1 (never used)
            fill = mx.nd.full((padded_count - count,), 1.0 if name.endswith('_var') else 0.0,
                              ctx=arr.context, dtype=arr.dtype)
            out[name] = mx.nd.concat(arr, fill, dim=0)
    for name, (value, size_of) in constants.items():
        if not to_graph:
            out.pop(name, None)
        elif size_of in out:  # (else the variable's initializer gives the value)
            like = out[size_of]
            out[name] = mx.nd.full(like.shape, value, ctx=like.context, dtype=like.dtype)
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
    """Auxiliary states in the released channel order -> the order ``sym`` keeps them in,
    with the states it holds fixed (constant_aux) added (a copy; the same dict when
    nothing differs)."""
    return _permute_aux(sym, aux, True)


def aux_to_released(sym, aux):
    """The inverse of aux_to_graph: ``sym``'s auxiliary states in released order, the
    order checkpoints store, without the fixed ones."""
    return _permute_aux(sym, aux, False)
