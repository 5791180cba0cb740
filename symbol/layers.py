"""The layers every network family is made of, named as the released graph names them.

``form`` (symbol.forms) selects how ReLU6 is computed: the released ``clip(x, 0, 6)``;
under ``Form.CPU_TRAINING`` ``min(relu(x), 6)`` (the same values, exactly; MXNet 1.9's
clip kernel is slow on the CPU and oneDNN's ReLU is not); under
the fused forms (``Form.CPU_TRAINING_FUSED``, ``CPU_TRAINING_PADDED``) two oneDNN BatchNorms with fused ReLU and nothing else
(capped_bn_relu6). The gradients of clip and relu differ only at x == 0 exactly (clip
passes it, relu does not).
"""
import mxnet as mx

from .forms import Form

# Upstream layer names, kept so released checkpoints load by name: the roles of the
# layers, declared once (the builder names them, fine-tuning and quantization find them).
STEM = 'first-3x3-conv'
LAST = 'last-1x1-conv'
FLATTEN = 'flatten'  # the pooled features, what a classifier reads
CLASSIFIER = 'fc'


def stage_prefix(i):
    """The name prefix of every layer of stage ``i`` (0-based): its blocks' parameters."""
    return 'seq-%d-' % i


def block_name(stage, j):
    """The name of block ``j`` of stage ``stage``."""
    return '%sblock%d' % (stage_prefix(stage), j)

# Marks an auxiliary state that a CPU training form holds fixed at this value
# (capped_bn_relu6); not part of the released network or its checkpoints.
CONSTANT_ATTR = '__training_form_constant__'
# ... and names the released state of the same size.
SIZE_OF_ATTR = '__size_of__'


def bn_relu6(data, prefix, with_relu6, form=Form.RELEASED, **inputs):
    """BatchNorm [-> ReLU6] after a convolution, with the released settings and names.
    ``inputs`` replace BatchNorm's parameter or state variables (gamma, beta, moving_mean,
    moving_var) by other symbols (the CPU training form's reordered ones)."""
    settings = dict(fix_gamma=False, use_global_stats=False, eps=1e-5,
                    name='%s-batchnorm' % prefix, **inputs)
    if form.cpu_training and with_relu6:
        if form.fused:
            return capped_bn_relu6(data, prefix, settings)
        out = mx.sym.Activation(mx.sym.BatchNorm(data=data, **settings), act_type='relu',
                                name='%s-relu' % prefix)
        return mx.sym._internal._minimum_scalar(out, scalar=6.0, name='%s-relu6' % prefix)
    out = mx.sym.BatchNorm(data=data, **settings)
    if with_relu6:
        out = mx.sym.clip(out, a_min=0, a_max=6, name='%s-relu6' % prefix)
    return out


def capped_bn_relu6(data, prefix, settings):
    """ReLU6(BatchNorm(data)) as relu(6 - relu(6 - y)), y the BatchNorm's output (equal
    for every y; float32 rounds 6 - (6 - y) to within 4.8e-7 of y), for the fused CPU
    training form:
    - relu(6 - y) is a BatchNorm fused with ReLU whose gamma and beta are -gamma and
      6 - beta (tiny ops on the parameters; same batch statistics and running ones);
    - relu(6 - v) is a second one with gamma -1, beta 6 and fixed statistics (mean 0,
      variance 1, eps 0: exactly 6 - v), a single elementwise pass.
    Both are oneDNN operators that keep oneDNN's blocked activation layout; the
    ``min(relu(y), 6)`` of Form.CPU_TRAINING is not, and MXNet converts every activation
    to and from the plain layout around it (about 30% of a training step at 32x32,
    docs/speed.md). The fixed statistics are auxiliary states of this graph only, marked
    CONSTANT_ATTR: symbol.training_form.aux_to_graph supplies them and aux_to_released
    drops them, so checkpoints hold the released states."""
    bn = settings['name']
    gamma = settings.pop('gamma') if 'gamma' in settings else mx.sym.Variable(bn + '_gamma')
    beta = settings.pop('beta') if 'beta' in settings else mx.sym.Variable(bn + '_beta')
    flipped = mx.sym.contrib.BatchNormWithReLU(
        data=data, gamma=mx.sym.negative(gamma), beta=mx.sym._internal._rminus_scalar(beta, scalar=6.0),
        **settings)
    one = mx.sym.ones_like(beta)
    cap = '%s-relu6' % prefix
    like = {SIZE_OF_ATTR: bn + '_moving_mean'}
    fixed = {name: mx.sym.Variable('%s_%s' % (cap, name), init=init,
                                   attr=dict(like, **{CONSTANT_ATTR: value}))
             for name, init, value in (('moving_mean', mx.init.Zero(), '0'),
                                       ('moving_var', mx.init.One(), '1'))}
    return mx.sym.contrib.BatchNormWithReLU(
        data=flipped, gamma=mx.sym.negative(one), beta=mx.sym._internal._mul_scalar(one, scalar=6.0),
        fix_gamma=False, use_global_stats=True, eps=0.0, name=cap, **fixed)


def conv_bn(data, prefix, num_filter, kernel=1, stride=1, num_group=1, relu6=False,
            form=Form.RELEASED, weight=None, **inputs):
    """Convolution (no bias) -> BatchNorm [-> ReLU6]. ``weight`` and ``inputs`` (see
    bn_relu6) replace the conv's weight and BatchNorm's variables by other symbols."""
    pad = (kernel // 2, kernel // 2)
    extra = {} if weight is None else {'weight': weight}
    out = mx.sym.Convolution(data=data, num_filter=num_filter, kernel=(kernel, kernel),
                             num_group=num_group, stride=(stride, stride), pad=pad,
                             no_bias=True, name='%s-conv2d' % prefix, **extra)
    return bn_relu6(out, prefix, relu6, form, **inputs)


def channel_permutation(data, groups, prefix):
    """Interleave ``groups`` channel groups: output channel i*groups+j is input channel
    j*(C/groups)+i, so each group of the next group conv sees every previous group."""
    out = mx.sym.reshape(data, shape=(0, -4, groups, -1, -2), name='%s-permute-split' % prefix)
    out = mx.sym.swapaxes(out, dim1=1, dim2=2, name='%s-permute-swap' % prefix)
    return mx.sym.reshape(out, shape=(0, -3, -2), name='%s-permute-merge' % prefix)
