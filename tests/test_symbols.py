"""The networks: exact to the released graph and to the numbers of the paper's tables."""
import json
import os

import mxnet as mx
import numpy as np
import pytest

import released_graph
import symbol
from common.complexity import complexity
from symbol.layers import channel_permutation
from symbol.igcv2 import igcv2_block

IMAGENET = (3, 224, 224)
CIFAR = (3, 32, 32)

# (network, kwargs, image shape, classes, learnable parameters): DESIGN.md and the issue.
EXPECTED_PARAMS = [
    ('igcv3', {}, IMAGENET, 1000, 3491688),
    ('igcv3', {'multiplier': 0.5}, IMAGENET, 1000, 1934132),
    ('igcv3', {'multiplier': 0.75}, IMAGENET, 1000, 2583904),
    ('igcv3', {'multiplier': 1.4}, IMAGENET, 1000, 6315568),
    ('igcv3', {'multiplier': 0.5, 'width_rule': 'standard'}, IMAGENET, 1000, 1985528),
    ('igcv3', {'multiplier': 0.75, 'width_rule': 'standard'}, IMAGENET, 1000, 2638084),
    ('igcv3_g2g4', {}, IMAGENET, 1000, 3063304),
    ('igcv3_wider', {}, IMAGENET, 1000, 5724968),
    ('mobilenetv2', {}, IMAGENET, 1000, 3505960),
    ('igcv3', {}, CIFAR, 10, 2223498),
    ('igcv3', {}, CIFAR, 100, 2338788),
    ('mobilenetv2', {}, CIFAR, 10, 2237770),
]


def count(network, shape, classes, **kwargs):
    sym = symbol.get_symbol(network, image_shape=shape, num_classes=classes, **kwargs)
    return complexity(sym, shape)


@pytest.mark.parametrize('network,kwargs,shape,classes,expected', EXPECTED_PARAMS)
def test_parameter_counts(network, kwargs, shape, classes, expected):
    assert count(network, shape, classes, **kwargs)['params'] == expected


def test_igcv3_complexity_matches_the_release():
    c = count('igcv3', IMAGENET, 1000)
    assert (c['conv_params'], c['bn_params'], c['fc_params']) == (2146144, 64544, 1281000)
    assert c['aux'] == 64544
    assert c['macs'] == 312970176
    ops = c['ops']
    assert (ops['Convolution'], ops['BatchNorm'], ops['clip'], ops['SwapAxis'],
            ops['Reshape'], ops['elemwise_add']) == (98, 98, 34, 32, 64, 25)
    assert (ops['Pooling'], ops['Flatten'], ops['FullyConnected'], ops['SoftmaxOutput']) == (1, 1, 1, 1)


@pytest.mark.parametrize('network,ratio', [('igcv3_0.7x', 0.7), ('igcv3_0.5x', 0.5)])
def test_shallow_cifar_variants_have_the_paper_ratio(network, ratio):
    full = count('igcv3', CIFAR, 10)['params']
    assert abs(count(network, CIFAR, 10)['params'] / full - ratio) <= 0.05 * ratio


def test_igcv2_is_parameter_matched_to_igcv3():
    full = count('igcv3', CIFAR, 10)['params']
    assert abs(count('igcv2', CIFAR, 10)['params'] / full - 1) <= 0.05


def _op_nodes(graph):
    return [n for n in graph['nodes'] if n['op'] != 'null']


PINNED = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data',
                      'released-igcv3-graph.txt')


def _first_difference(ours, pinned):
    for i, (a, b) in enumerate(zip(ours, pinned)):
        if a != b:
            return 'line %d: ours %r, released %r' % (i + 1, a, b)
    return '%d lines against %d' % (len(ours), len(pinned))


def test_graph_equals_the_pinned_listing_of_the_released_symbol():
    """On every clone: the released igcv3-symbol.json's operators, attributes, edges and
    parameter shapes, pinned as tests/data/released-igcv3-graph.txt, are ours line for
    line (with ../shared present the next test checks the pin against the file itself)."""
    with open(PINNED) as f:
        pinned = f.read().splitlines()
    ours = released_graph.listing(symbol.get_symbol('igcv3', num_classes=1000,
                                                    image_shape='3,224,224'))
    assert ours == pinned, _first_difference(ours, pinned)
    assert len(pinned) == 1344 and pinned[-1] == 'aux last-1x1-conv-batchnorm_moving_var 1280'


@pytest.mark.parametrize('change', ['eps', 'stride', 'num_group', 'permutation'])
def test_the_pinned_listing_catches_a_changed_graph(change):
    """Each kind of change the listing must see, made to our graph's JSON."""
    with open(PINNED) as f:
        pinned = f.read().splitlines()
    graph = json.loads(symbol.get_symbol('igcv3', num_classes=1000,
                                         image_shape='3,224,224').tojson())
    nodes = graph['nodes']
    if change == 'eps':
        node = next(n for n in nodes if n['op'] == 'BatchNorm')
        node['attrs']['eps'] = '0.001'
    elif change == 'stride':
        node = next(n for n in nodes if n['op'] == 'Convolution' and 'depthwise' in n['name']
                    and n['attrs']['stride'] == '(2, 2)')
        node['attrs']['stride'] = '(1, 1)'
    elif change == 'num_group':
        node = next(n for n in nodes if n['op'] == 'Convolution' and n['attrs'].get('num_group') == '2')
        node['attrs']['num_group'] = '4'
    else:  # the interleaving: (G, C/G) reshaped instead of (C/G, G)
        node = next(n for n in nodes if n['op'] == 'SwapAxis')
        node['attrs']['dim1'], node['attrs']['dim2'] = node['attrs']['dim2'], node['attrs']['dim1']
    try:
        changed = released_graph.listing(mx.sym.load_json(json.dumps(graph)))
    except mx.base.MXNetError:  # (a change no shape fits is caught too)
        return
    assert changed != pinned


def test_graph_equals_the_released_symbol(reference_symbol_path):
    with open(reference_symbol_path) as f:
        ref = json.load(f)
    ours = json.loads(symbol.get_symbol('igcv3', num_classes=1000, multiplier=1.0,
                                        image_shape='3,224,224').tojson())
    assert len(ours['nodes']) == len(ref['nodes'])
    assert ours['arg_nodes'] == ref['arg_nodes'] and ours['heads'] == ref['heads']
    for i, (r, o) in enumerate(zip(ref['nodes'], ours['nodes'])):
        assert o['op'] == r['op'], i
        assert o['inputs'] == r['inputs'], i
        if r['op'] == 'null':
            assert o['name'] == r['name'], i
            continue
        # The MXNet 1.1 file calls the attributes 'attr'; 1.9 writes 'attrs'.
        assert o.get('attrs', {}) == r.get('attr', r.get('attrs', {})), r['name']
        # The permutation's reshape/swapaxes were auto-named upstream; ours say where they are.
        if r['op'] not in ('Reshape', 'SwapAxis'):
            assert o['name'] == r['name'], i

    with open(PINNED) as f:  # the pin is the released file's listing, exactly
        assert released_graph.listing(mx.sym.load(reference_symbol_path)) == \
            f.read().splitlines()
    released = mx.sym.load(reference_symbol_path)
    rebuilt = symbol.get_symbol('igcv3')
    shapes = dict(data=(1,) + IMAGENET)
    assert released.infer_shape(**shapes) == rebuilt.infer_shape(**shapes)
    assert released.list_arguments() == rebuilt.list_arguments()
    assert released.list_auxiliary_states() == rebuilt.list_auxiliary_states()


def released_igcv3_parameters():
    """Names and shapes of the released checkpoint, from the paper's stage table and the
    upstream naming scheme, written out independently of symbol/."""
    params, aux = {}, {}

    def conv_bn(prefix, out_c, in_per_group, kernel):
        params[prefix + '-conv2d_weight'] = (out_c, in_per_group, kernel, kernel)
        params[prefix + '-batchnorm_gamma'] = (out_c,)
        params[prefix + '-batchnorm_beta'] = (out_c,)
        aux[prefix + '-batchnorm_moving_mean'] = (out_c,)
        aux[prefix + '-batchnorm_moving_var'] = (out_c,)

    conv_bn('first-3x3-conv', 32, 3, 3)
    in_c = 32
    stages = [(1, 16, 1), (6, 24, 4), (6, 32, 6), (6, 64, 8), (6, 96, 6), (6, 160, 6), (6, 320, 1)]
    for i, (t, c, n) in enumerate(stages):
        for j in range(n):
            p = 'seq-%d-block%d' % (i, j)
            conv_bn(p + '-exp', in_c * t, in_c // 2, 1)
            conv_bn(p + '-depthwise', in_c * t, 1, 3)
            conv_bn(p + '-linear', c, in_c * t // 2, 1)
            in_c = c
    conv_bn('last-1x1-conv', 1280, 320, 1)
    params['fc_weight'] = (1000, 1280)
    params['fc_bias'] = (1000,)
    return params, aux


def test_checkpoint_with_released_naming_loads(tmp_path):
    params, aux = released_igcv3_parameters()
    assert sum(int(np.prod(s)) for s in params.values()) == 3491688
    rng = np.random.RandomState(0)
    saved = {'arg:' + k: mx.nd.array(rng.randn(*s) * 0.01) for k, s in params.items()}
    saved.update({'aux:' + k: mx.nd.array(rng.rand(*s) + 0.5) for k, s in aux.items()})
    mx.nd.save(str(tmp_path / 'igcv3-0000.params'), saved)

    arg_params, aux_params = _split(mx.nd.load(str(tmp_path / 'igcv3-0000.params')))
    sym = symbol.get_symbol('igcv3')
    mod = mx.mod.Module(sym, data_names=['data'], label_names=['softmax_label'], context=mx.cpu())
    mod.bind(data_shapes=[('data', (1,) + IMAGENET)], label_shapes=[('softmax_label', (1,))],
             for_training=False)
    mod.set_params(arg_params, aux_params, allow_missing=False, allow_extra=False)
    got_args, got_aux = mod.get_params()
    assert set(got_args) == set(params) and set(got_aux) == set(aux)
    np.testing.assert_array_equal(got_args['fc_bias'].asnumpy(), saved['arg:fc_bias'].asnumpy())


def _split(loaded):
    args = {k[4:]: v for k, v in loaded.items() if k.startswith('arg:')}
    aux = {k[4:]: v for k, v in loaded.items() if k.startswith('aux:')}
    return args, aux


def test_channel_permutation_interleaves_groups():
    channels, groups = 12, 3
    x = np.arange(2 * channels * 2 * 2, dtype=np.float32).reshape(2, channels, 2, 2)
    out = channel_permutation(mx.sym.Variable('data'), groups, 'p').eval(
        ctx=mx.cpu(), data=mx.nd.array(x))[0].asnumpy()
    per_group = channels // groups
    for i in range(per_group):
        for j in range(groups):
            np.testing.assert_array_equal(out[:, i * groups + j], x[:, j * per_group + i])


def test_igcv2_block_is_complementary():
    """Every output channel of an IGCV2 block depends on every input channel."""
    channels = 16
    data = mx.sym.Variable('data')
    block = igcv2_block(data, 'b', channels, channels, channels, 1, False)
    shape = (1, channels, 3, 3)
    exe = block.simple_bind(mx.cpu(), data=shape, grad_req={'data': 'write'})
    rng = np.random.RandomState(1)
    for name, arr in exe.arg_dict.items():
        arr[:] = rng.uniform(0.5, 1.5, arr.shape)
    for out_channel in range(channels):
        exe.forward(is_train=True)
        head = np.zeros(exe.outputs[0].shape, dtype=np.float32)
        head[0, out_channel, 1, 1] = 1
        exe.backward(mx.nd.array(head))
        reached = np.abs(exe.grad_dict['data'].asnumpy()[0]).sum(axis=(1, 2))
        assert (reached > 0).all(), out_channel


@pytest.mark.parametrize('network', symbol.list_networks())
def test_every_network_trains_a_step(network):
    shape = (2,) + CIFAR
    sym = symbol.get_symbol(network, image_shape=CIFAR, num_classes=10)
    mod = mx.mod.Module(sym, context=mx.cpu())
    mod.bind(data_shapes=[('data', shape)], label_shapes=[('softmax_label', (2,))])
    mod.init_params(mx.init.Xavier(rnd_type='gaussian', factor_type='in', magnitude=2))
    rng = np.random.RandomState(0)
    batch = mx.io.DataBatch([mx.nd.array(rng.rand(*shape))], [mx.nd.array([1, 7])])
    mod.forward_backward(batch)
    probs = mod.get_outputs()[0].asnumpy()
    assert probs.shape == (2, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
    grads = dict(zip(mod._exec_group.param_names, mod._exec_group.grad_arrays))
    for name, (grad,) in grads.items():
        assert np.isfinite(grad.asnumpy()).all(), name
    assert np.abs(grads['first-3x3-conv-conv2d_weight'][0].asnumpy()).sum() > 0


def test_imagenet_igcv3_forward_shape():
    sym = symbol.get_symbol('igcv3')
    exe = sym.simple_bind(mx.cpu(), data=(1,) + IMAGENET, grad_req='null')
    internals = sym.get_internals()
    _, out_shapes, _ = internals.infer_shape(data=(1,) + IMAGENET)
    final = dict(zip(internals.list_outputs(), out_shapes))['last-1x1-conv-relu6_output']
    assert final == (1, 1280, 7, 7)
    assert exe.forward()[0].shape == (1, 1000)


@pytest.mark.parametrize('layout,final', [(None, 4), ('cifar', 4), ('imagenet', 1)])
def test_cifar_layout_keeps_a_4x4_map(layout, final):
    sym = symbol.get_symbol('igcv3', image_shape='3,32,32', layout=layout, num_classes=10)
    internals = sym.get_internals()
    shapes = dict(zip(internals.list_outputs(), internals.infer_shape(data=(1,) + CIFAR)[1]))
    assert shapes['last-1x1-conv-relu6_output'][2:] == (final, final)


@pytest.mark.parametrize('network', symbol.list_networks())
def test_float16_graph_casts_in_and_back(network):
    sym = symbol.get_symbol(network, image_shape=CIFAR, num_classes=10, dtype='float16')
    arg_types, out_types, aux_types = sym.infer_type(data=np.float32)
    types = dict(zip(sym.list_arguments(), arg_types))
    assert types['fc_weight'] == np.float16
    assert types['first-3x3-conv-conv2d_weight'] == np.float16
    assert out_types == [np.float32]
    plain = symbol.get_symbol(network, image_shape=CIFAR, num_classes=10)
    assert sym.list_arguments() == plain.list_arguments()


def test_registry_names_are_case_insensitive():
    a = symbol.get_symbol('IGCV3', num_classes=10, image_shape='3,32,32')
    b = symbol.get_symbol('igcv3', num_classes=10, image_shape=(3, 32, 32))
    assert a.tojson() == b.tojson()


@pytest.mark.parametrize('network,keyword', [('igcv3', 'multipler'), ('igcv3', 'lr'),
                                             ('mobilenetv2', 'g1'), ('igcv2', 'fast_group_conv')])
def test_unknown_keyword_is_refused_by_name(network, keyword):
    """A misspelt keyword must not vanish: it is named with the ones accepted."""
    with pytest.raises(symbol.NetworkConfigError) as err:
        symbol.get_symbol(network, **{keyword: 0.5})
    message = str(err.value)
    assert "keyword %s;" % keyword in message
    for accepted in symbol.accepted_keywords(network):
        assert accepted in message
    assert 'multiplier' in symbol.accepted_keywords(network)
    assert ('g1' in symbol.accepted_keywords(network)) == network.startswith('igcv3')


def test_unknown_network_lists_the_known_ones():
    with pytest.raises(symbol.UnknownNetworkError) as err:
        symbol.get_symbol('resnet50')
    for name in symbol.list_networks():
        assert name in str(err.value)


@pytest.mark.parametrize('kwargs', [
    {'image_shape': '3,224'}, {'image_shape': 'a,b,c'}, {'image_shape': '3,16,16', 'layout': 'imagenet'},
    {'multiplier': 0}, {'width_rule': 'other'}, {'dtype': 'int8'}, {'num_classes': 0},
    {'layout': 'coco'}, {'g1': 3},
])
def test_bad_arguments_are_config_errors(kwargs):
    with pytest.raises(symbol.NetworkConfigError):
        symbol.get_symbol('igcv3', **kwargs)
