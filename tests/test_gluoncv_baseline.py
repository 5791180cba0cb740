"""Our MobileNetV2 baseline against gluoncv 0.10.5's own ``mobilenetv2_1.0`` (built with
pretrained=False, nothing downloaded), at 1.0x, 224x224, 1000 classes.

The two graphs are the same network but for exactly these differences (asserted below, so
a change on either side fails a test):

1. The t=1 block: the IGCV3 authors' code keeps its 1x1 expansion conv (32 -> 32 filters)
   with its BatchNorm and ReLU6; gluoncv drops it, as the MobileNetV2 paper does.
   1,024 + 64 learnable parameters and 64 running values more in ours.
2. The classifier: ours is FullyConnected with a bias after Flatten; gluoncv's is a 1x1
   Convolution without bias before Flatten (the same weights on a 1x1 map, reshaped).
   1,000 learnable parameters (the bias) more in ours.
3. The head: ours ends in SoftmaxOutput (probabilities), gluoncv's in the logits.

Everything else is identical operator for operator: widths, strides, pads, groups, the
last conv's 1280 filters, BatchNorm eps 1e-5 and momentum 0.9, ReLU6 as clip(0, 6) after
the stem, each expansion, each depthwise conv and the last conv (none after a block's
projection), the shortcuts, global average pooling. With gluoncv's random weights mapped
by position onto ours, the extra expansion set to the identity (its input is a ReLU6
output, so its ReLU6 passes it unchanged) and the bias to zero, both compute the same
function.
"""
import ast
import difflib
import json

import mxnet as mx
import numpy as np
import pytest

import symbol

SHAPE = (3, 224, 224)
BATCH = 2
EPS = 1e-5  # both sides' BatchNorm eps (asserted in the operator comparison)

# Parameters and running values of ours that gluoncv's graph has no counterpart for.
EXTRA_EXPANSION = [
    ('seq-0-block0-exp-conv2d_weight', (32, 32, 1, 1)),
    ('seq-0-block0-exp-batchnorm_gamma', (32,)),
    ('seq-0-block0-exp-batchnorm_beta', (32,)),
    ('seq-0-block0-exp-batchnorm_moving_mean', (32,)),
    ('seq-0-block0-exp-batchnorm_moving_var', (32,)),
]
EXTRA_BIAS = [('fc_bias', (1000,))]

CONV_1X1 = "Convolution(dilate=(1, 1), kernel=(1, 1), layout='NCHW', no_bias=True, " \
           "num_filter=%d, num_group=1, pad=(0, 0), stride=(1, 1))"
BATCHNORM = "BatchNorm(axis=1, eps=1e-05, fix_gamma=False, momentum=0.9, " \
            "use_global_stats=False)"
RELU6 = 'clip(a_max=6.0, a_min=0.0)'
# Every layer one graph has and the other has not, in graph order: (side, index in that
# side's list of layers, layer). A layer is a convolution with the BatchNorm and ReLU6
# after it, or any other operator.
LAYER_DIFFERENCES = [
    ('ours only', 1, ' -> '.join([CONV_1X1 % 32, BATCHNORM, RELU6])),  # the t=1 expansion
    ('gluoncv only', 63, CONV_1X1 % 1000),  # gluoncv's classifier, before its Flatten
    ('ours only', 65, 'FullyConnected(flatten=True, no_bias=False, num_hidden=1000)'),
    ('ours only', 66, 'SoftmaxOutput()'),
]

# MXNet's defaults of the attributes compared, so that an attribute one graph states and
# the other leaves at its default compare equal. A global pooling ignores its kernel,
# stride, pad and convention, so only its type is compared.
DEFAULTS = {
    'Convolution': dict(kernel=None, stride=(1, 1), pad=(0, 0), dilate=(1, 1), num_filter=None,
                        num_group=1, no_bias=False, layout='NCHW'),
    'BatchNorm': dict(eps=1e-3, momentum=0.9, fix_gamma=True, use_global_stats=False, axis=1),
    'clip': dict(a_min=None, a_max=None),
    'Pooling': dict(pool_type='max', global_pool=False),
    'FullyConnected': dict(num_hidden=None, no_bias=False, flatten=True),
    'Flatten': {}, 'elemwise_add': {}, 'SoftmaxOutput': {},
}


def _import_gluoncv():
    try:
        import gluoncv
    except ModuleNotFoundError as err:
        pytest.skip('gluoncv is not installed (requirements.txt pins 0.10.5.post0): %s' % err)
    except RuntimeError as err:
        # gluoncv's own version check raises RuntimeError on torch >= 2 in the same
        # environment (requirements-bench.txt installs torch 2).
        if 'torch' not in str(err):
            raise
        pytest.skip('gluoncv 0.10.5 refuses to import next to torch >= 2: %s' % err)
    return gluoncv


@pytest.fixture(scope='module')
def nets():
    """(gluoncv's net, its graph as a symbol, our symbol); gluoncv's parameters
    initialised (to zeros: every test that runs the net sets them)."""
    gluoncv = _import_gluoncv()
    net = gluoncv.model_zoo.get_model('mobilenetv2_1.0', pretrained=False)
    net.initialize(mx.init.Zero())
    net(mx.nd.zeros((1,) + SHAPE))  # ends gluon's deferred initialisation (the stem)
    ours = symbol.get_symbol('mobilenetv2', num_classes=1000, image_shape='3,224,224')
    return net, net(mx.sym.var('data')), ours


def _value(text):
    """An attribute as MXNet writes it ('(1, 1)', 'True', '1e-05', 'avg') as a value."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _layers(sym):
    """The layers of ``sym`` in graph order: 'op(attr=value, ...)' with MXNet's defaults
    filled in, a convolution joined to the BatchNorm and ReLU6 that follow it by ' -> '."""
    out = []
    for node in json.loads(sym.tojson())['nodes']:
        if node['op'] == 'null':
            continue
        op, attrs = node['op'], {k: _value(v) for k, v in node.get('attrs', {}).items()}
        assert op in DEFAULTS, 'an operator this comparison does not know: %s' % op
        attrs = {k: attrs.get(k, default) for k, default in DEFAULTS[op].items()}
        if op == 'clip':
            attrs = {k: float(v) for k, v in attrs.items()}
        text = '%s(%s)' % (op, ', '.join('%s=%r' % kv for kv in sorted(attrs.items())))
        if op in ('BatchNorm', 'clip') and out and out[-1].startswith('Convolution('):
            out[-1] += ' -> ' + text
        else:
            out.append(text)
    return out


def _parameters(sym, shapes):
    """[(name, shape)] of the parameters and running values of ``sym`` in graph order."""
    return [(node['name'], shapes[node['name']]) for node in json.loads(sym.tojson())['nodes']
            if node['op'] == 'null' and node['name'] in shapes]


def _our_parameters(ours):
    args, _, aux = ours.infer_shape(data=(BATCH,) + SHAPE)
    shapes = dict(zip(ours.list_arguments(), args))
    shapes.update(zip(ours.list_auxiliary_states(), aux))
    del shapes['data'], shapes['softmax_label']
    return _parameters(ours, shapes)


def _gluon_parameters(net, gluon_sym):
    return _parameters(gluon_sym, {name: p.shape for name, p in net.collect_params().items()})


def test_the_layers_differ_exactly_by_the_documented_list(nets):
    _, gluon_sym, ours = nets
    theirs, mine = _layers(gluon_sym), _layers(ours)
    assert (len(theirs), len(mine)) == (65, 67)
    differences = []
    matcher = difflib.SequenceMatcher(None, theirs, mine, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != 'equal':
            differences += [('gluoncv only', i, theirs[i]) for i in range(i1, i2)]
            differences += [('ours only', j, mine[j]) for j in range(j1, j2)]
    assert differences == LAYER_DIFFERENCES
    # The rest is equal in every attribute compared, including: 52 convolutions each with
    # a BatchNorm of eps 1e-5 and momentum 0.9 in gluoncv's graph, 35 of them with a ReLU6
    # (the stem, 16 expansions, 17 depthwise convs, the last conv), 17 projections
    # without; 10 shortcut adds; the last conv's 1280 filters.
    convs = [l for l in theirs if l.startswith('Convolution(')]
    assert len(convs) == 53 and convs[-1] == CONV_1X1 % 1000
    assert sum(l.endswith(' -> ' + BATCHNORM) for l in convs) == 17
    assert sum(l.endswith(' -> '.join(['', BATCHNORM, RELU6])) for l in convs) == 35
    assert theirs.count('elemwise_add()') == 10
    assert convs[-2] == ' -> '.join([CONV_1X1 % 1280, BATCHNORM, RELU6])


def test_parameter_counts(nets):
    net, gluon_sym, ours = nets
    params = net.collect_params()
    learnable = sum(int(np.prod(p.shape)) for p in params.values() if p.grad_req != 'null')
    running = sum(int(np.prod(p.shape)) for p in params.values() if p.grad_req == 'null')
    assert (learnable, running) == (3503872, 34112)
    ours_params = _our_parameters(ours)
    aux = set(ours.list_auxiliary_states())
    assert sum(int(np.prod(s)) for n, s in ours_params if n not in aux) == 3505960
    assert sum(int(np.prod(s)) for n, s in ours_params if n in aux) == 34176
    # 3,505,960 - 3,503,872 = 2,088: the extra expansion's 32x32 weight and 2x32 BatchNorm
    # parameters, and the classifier's 1000 biases.
    assert 3505960 - 3503872 == 32 * 32 + 2 * 32 + 1000


def test_parameters_match_one_to_one_but_the_documented_ones(nets):
    net, gluon_sym, ours = nets
    theirs, mine = _gluon_parameters(net, gluon_sym), _our_parameters(ours)
    assert (len(theirs), len(mine)) == (261, 267)
    extra = EXTRA_EXPANSION + EXTRA_BIAS
    assert [p for p in mine if p in extra] == extra
    assert mine[5:10] == EXTRA_EXPANSION  # right after the stem's 5
    assert mine[-1] == EXTRA_BIAS[0]
    matched = [p for p in mine if p not in extra]
    assert len(matched) == len(theirs)
    # The classifier's weights: a 1x1 conv's (1000, 1280, 1, 1) against a dense (1000, 1280).
    assert (theirs[-1][1], matched[-1][1]) == ((1000, 1280, 1, 1), (1000, 1280))
    assert [s for _, s in theirs[:-1]] == [s for _, s in matched[:-1]]
    # The kinds line up too: weight with weight, gamma with gamma, running mean with
    # moving mean.
    kinds = {'weight': 'weight', 'gamma': 'gamma', 'beta': 'beta',
             'running_mean': 'moving_mean', 'running_var': 'moving_var'}
    for (g, _), (m, _) in zip(theirs, matched):
        kind = next(k for k in kinds if g.endswith('_' + k))
        assert m.endswith('_' + kinds[kind]), (g, m)


def _random_gluon_weights(net, gluon_sym, seed=0):
    """Random values for gluoncv's parameters, scaled to keep the activations in range
    (weights He-scaled, BatchNorm near identity); the classifier's give logits of a few
    units, so that the softmax is neither flat nor one-hot."""
    r = np.random.RandomState(seed)
    values = {}
    for name, shape in _gluon_parameters(net, gluon_sym):
        if name.endswith('_weight'):
            fan_in = int(np.prod(shape[1:]))
            scale = 0.06 if name.endswith('pred_weight') else np.sqrt(2.0 / fan_in)
            value = r.normal(0, scale, shape)
        elif name.endswith('_gamma'):
            value = r.uniform(0.5, 1.5, shape)
        elif name.endswith(('_beta', '_running_mean')):
            value = r.normal(0, 0.2, shape)
        else:
            assert name.endswith('_running_var'), name
            value = r.uniform(0.5, 2.0, shape)
        values[name] = value.astype(np.float32)
    return values


def _ours_from_gluon(values, ours, gluon_names, expansion_gamma=1.0):
    """Our parameters from gluoncv's, by position; the extra expansion the identity
    (times ``expansion_gamma``), the classifier bias zero."""
    mine = _our_parameters(ours)
    extra = dict(EXTRA_EXPANSION + EXTRA_BIAS)
    out = {}
    theirs = iter(gluon_names)
    for name, shape in mine:
        if name not in extra:
            out[name] = values[next(theirs)].reshape(shape)
    assert next(theirs, None) is None
    out['seq-0-block0-exp-conv2d_weight'] = np.eye(32, dtype=np.float32).reshape(32, 32, 1, 1)
    out['seq-0-block0-exp-batchnorm_gamma'] = np.full(32, expansion_gamma, np.float32)
    out['seq-0-block0-exp-batchnorm_beta'] = np.zeros(32, np.float32)
    out['seq-0-block0-exp-batchnorm_moving_mean'] = np.zeros(32, np.float32)
    out['seq-0-block0-exp-batchnorm_moving_var'] = np.full(32, 1 - EPS, np.float32)
    out['fc_bias'] = np.zeros(1000, np.float32)
    return out


def _ndarrays(values):
    """{name: NDArray} of {name: numpy array}, as views of one NDArray: one copy in, where
    an NDArray each costs a round trip through MXNet's engine (seconds on a loaded
    machine)."""
    flat = mx.nd.array(np.concatenate([v.ravel() for v in values.values()]))
    out, start = {}, 0
    for name, value in values.items():
        out[name] = flat[start:start + value.size].reshape(value.shape)
        start += value.size
    return out


def _our_outputs(ours, params, x):
    """(logits, probabilities) of our symbol, inference mode."""
    both = mx.sym.Group([ours.get_internals()['fc_output'], ours])
    aux_names = set(ours.list_auxiliary_states())
    arrays = _ndarrays(dict(params, data=x, softmax_label=np.zeros(BATCH, np.float32)))
    args = {n: v for n, v in arrays.items() if n not in aux_names}
    aux = {n: v for n, v in arrays.items() if n in aux_names}
    exe = both.bind(mx.cpu(), args=args, aux_states=aux, grad_req='null')
    logits, probs = exe.forward(is_train=False)
    return logits.asnumpy(), probs.asnumpy()


@pytest.fixture(scope='module')
def compared(nets):
    """gluoncv's and our logits and probabilities on the same random input."""
    net, gluon_sym, ours = nets
    values = _random_gluon_weights(net, gluon_sym)
    params, arrays = net.collect_params(), _ndarrays(values)
    for name, value in arrays.items():
        params[name].set_data(value)
    x = np.random.RandomState(1).uniform(-2, 2, (BATCH,) + SHAPE).astype(np.float32)
    with mx.autograd.predict_mode():
        gluon_logits = net(mx.nd.array(x)).asnumpy()
    gluon_names = [n for n, _ in _gluon_parameters(net, gluon_sym)]

    def ours_outputs(expansion_gamma=1.0):
        return _our_outputs(ours, _ours_from_gluon(values, ours, gluon_names, expansion_gamma),
                            x)
    return gluon_logits, ours_outputs


def _softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_same_outputs_with_the_extra_expansion_as_identity(compared):
    gluon_logits, ours_outputs = compared
    logits, probs = ours_outputs()
    # A comparison that means something: logits of a few units, distinct per image, a
    # softmax neither flat nor one-hot.
    assert 1.0 < gluon_logits.std() < 20.0
    assert np.abs(gluon_logits[0] - gluon_logits[1]).max() > 0.5
    gluon_probs = _softmax(gluon_logits.astype(np.float64))
    assert 0.01 < gluon_probs.max() < 0.9
    assert np.abs(logits - gluon_logits).max() <= 1e-4
    assert np.abs(probs - gluon_probs).max() <= 1e-4
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_the_comparison_sees_a_one_percent_change(compared):
    """The tolerance is far below what a small change in one layer does: the extra
    expansion 1% off the identity moves the logits by much more than 1e-4."""
    gluon_logits, ours_outputs = compared
    logits, _ = ours_outputs(expansion_gamma=1.01)
    assert np.abs(logits - gluon_logits).max() > 1e-2
