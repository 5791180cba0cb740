"""The layers every network family is made of, named as the released graph names them.

``form`` (symbol.forms) selects how ReLU6 is computed: the released ``clip(x, 0, 6)``,
or in the CPU training forms ``min(relu(x), 6)`` (the same values, exactly; MXNet 1.9's
clip kernel is slow on the CPU and oneDNN's ReLU is not), with the ReLU fused into the
BatchNorm under ``Form.CPU_TRAINING_FUSED``. The gradients of clip and relu differ only at
x == 0 exactly (clip passes it, relu does not).
"""
import mxnet as mx

from .forms import Form

# Upstream layer names, kept so released checkpoints load by name.
STEM = 'first-3x3-conv'
LAST = 'last-1x1-conv'


def bn_relu6(data, prefix, with_relu6, form=Form.RELEASED, **inputs):
    """BatchNorm [-> ReLU6] after a convolution, with the released settings and names.
    ``inputs`` replace BatchNorm's parameter or state variables (gamma, beta, moving_mean,
    moving_var) by other symbols (the CPU training form's reordered ones)."""
    settings = dict(fix_gamma=False, use_global_stats=False, eps=1e-5,
                    name='%s-batchnorm' % prefix, **inputs)
    if form.cpu_training and with_relu6:
        if form is Form.CPU_TRAINING_FUSED:
            out = mx.sym.contrib.BatchNormWithReLU(data=data, **settings)
        else:
            out = mx.sym.Activation(mx.sym.BatchNorm(data=data, **settings), act_type='relu',
                                    name='%s-relu' % prefix)
        return mx.sym._internal._minimum_scalar(out, scalar=6.0, name='%s-relu6' % prefix)
    out = mx.sym.BatchNorm(data=data, **settings)
    if with_relu6:
        out = mx.sym.clip(out, a_min=0, a_max=6, name='%s-relu6' % prefix)
    return out


def conv_bn(data, prefix, num_filter, kernel=1, stride=1, num_group=1, relu6=False,
            form=Form.RELEASED):
    """Convolution (no bias) -> BatchNorm [-> ReLU6]."""
    pad = (kernel // 2, kernel // 2)
    out = mx.sym.Convolution(data=data, num_filter=num_filter, kernel=(kernel, kernel),
                             num_group=num_group, stride=(stride, stride), pad=pad,
                             no_bias=True, name='%s-conv2d' % prefix)
    return bn_relu6(out, prefix, relu6, form)


def channel_permutation(data, groups, prefix):
    """Interleave ``groups`` channel groups: output channel i*groups+j is input channel
    j*(C/groups)+i, so each group of the next group conv sees every previous group."""
    out = mx.sym.reshape(data, shape=(0, -4, groups, -1, -2), name='%s-permute-split' % prefix)
    out = mx.sym.swapaxes(out, dim1=1, dim2=2, name='%s-permute-swap' % prefix)
    return mx.sym.reshape(out, shape=(0, -3, -2), name='%s-permute-merge' % prefix)
