"""--dtype bfloat16: the graph pass (symbol.precision) and a training in it."""
import json
import re

import mxnet as mx
import numpy as np
import pytest

import symbol
from common import runtime
from datasets import make_rec
from helpers import assert_one_line_error, run_script
from symbol import Form, NetworkConfigError
from symbol.precision import CAST_OP, bfloat16_graph, is_bfloat16_graph

needs_bf16 = pytest.mark.skipif(not runtime.cpu_has_bf16(),
                                reason='this CPU has no AVX512_BF16')
KW = dict(num_classes=10, image_shape=(1, 28, 28))


def nodes_of(sym):
    return json.loads(sym.tojson(remove_amp_cast=False))['nodes']


def bfloat16_entries(nodes):
    """Indices of the nodes whose first output is bfloat16, by propagation from the
    casts (what the pass intends, checked against its output)."""
    bf16 = set()
    for i, node in enumerate(nodes):
        ins = [e[0] for e in node['inputs']]
        if node['op'] == CAST_OP:
            if node['attrs']['dtype'] == 'bfloat16':
                bf16.add(i)
        elif node['op'] in ('Convolution', 'FullyConnected'):
            bf16.add(i)
        elif ins and ins[0] in bf16 and node['op'] != 'null':
            bf16.add(i)
    return bf16


@pytest.mark.parametrize('form', [Form.CPU_TRAINING_PADDED, Form.RELEASED])
def test_bfloat16_graph_computes_in_bfloat16_with_float32_parameters(form):
    fp32 = symbol.get_symbol('igcv3', form=form, **KW)
    bf16 = symbol.get_symbol('igcv3', form=form, dtype='bfloat16', **KW)
    assert is_bfloat16_graph(bf16) and not is_bfloat16_graph(fp32)
    assert bf16.list_arguments() == fp32.list_arguments()
    assert bf16.list_auxiliary_states() == fp32.list_auxiliary_states()
    assert bf16.list_outputs() == fp32.list_outputs()
    # Every parameter, state and output float32; the shapes the float32 graph's.
    arg_types, out_types, aux_types = bf16.infer_type(data='float32')
    assert {np.dtype(t) for t in arg_types + out_types + aux_types} == {np.dtype('float32')}
    assert bf16.infer_shape(data=(2, 1, 28, 28)) == fp32.infer_shape(data=(2, 1, 28, 28))
    nodes = nodes_of(bf16)
    bf16_nodes = bfloat16_entries(nodes)
    for node in nodes:
        if node['op'] in ('Convolution', 'FullyConnected'):
            # each input (data, weight, bias) a bfloat16 cast or a bfloat16 activation
            assert all(e[0] in bf16_nodes for e in node['inputs']), node['name']
        if node['op'] in ('BatchNorm', '_contrib_BatchNormWithReLU'):
            # the data in bfloat16, gamma, beta and the statistics not
            assert node['inputs'][0][0] in bf16_nodes, node['name']
            assert not any(e[0] in bf16_nodes for e in node['inputs'][1:]), node['name']
    # bfloat16 flows from the first cast to the pooling: one cast of the data into it, and
    # float32 casts only where operators not run in bfloat16 take it.
    casts = [n for n in nodes if n['op'] == CAST_OP]
    on_data = set()  # the nodes the input flows through (not the weights' constructions)
    for i, node in enumerate(nodes):
        if node['name'] == 'data' or any(e[0] in on_data for e in node['inputs']):
            on_data.add(i)
    data_casts = [n for n in casts if n['attrs']['dtype'] == 'bfloat16'
                  and n['inputs'][0][0] in on_data]
    back = [n['name'] for n in casts if n['attrs']['dtype'] == 'float32']
    if form is Form.CPU_TRAINING_PADDED:
        assert [n['name'] for n in data_casts] == ['data_bfloat16', 'flatten_bfloat16']
        assert back == ['last-1x1-conv-relu6_float32', 'fc_float32']
    else:  # the released ops' channel permutations (Reshape, SwapAxis) run in float32
        assert len(back) > 2 and back[-1] == 'fc_float32'


def test_bfloat16_is_checked():
    with pytest.raises(NetworkConfigError, match='float32, float16, bfloat16'):
        symbol.get_symbol('igcv3', dtype='bfloat8', **KW)
    with pytest.raises(NetworkConfigError, match='float32 or bfloat16'):
        symbol.get_symbol('igcv3', form=Form.CPU_TRAINING_PADDED, dtype='float16', **KW)
    with pytest.raises(runtime.UserError, match='on GPUs use --dtype float16'):
        runtime.check_dtype('bfloat16', [mx.gpu(0)], Form.RELEASED)
    if runtime.cpu_has_bf16():
        with pytest.raises(runtime.UserError, match='padded CPU training form'):
            runtime.check_dtype('bfloat16', [mx.cpu()], Form.CPU_TRAINING_FUSED)
        runtime.check_dtype('bfloat16', [mx.cpu()], Form.CPU_TRAINING_PADDED)
    runtime.check_dtype('float32', [mx.cpu()], Form.RELEASED)


@needs_bf16
def test_bfloat16_outputs_and_gradients_follow_float32():
    """Same parameters, one training step: outputs and the classifier's gradient within
    bfloat16 rounding of the float32 ones, and not equal to them (bfloat16 ran)."""
    shape, batch = (1, 28, 28), 16
    syms = [symbol.get_symbol('igcv3', form=Form.CPU_TRAINING_PADDED, dtype=d, **KW)
            for d in ('float32', 'bfloat16')]
    exes = [s.simple_bind(mx.cpu(), data=(batch,) + shape, softmax_label=(batch,))
            for s in syms]
    rng = np.random.RandomState(0)
    for name, arr in exes[0].arg_dict.items():
        if name == 'softmax_label':
            value = rng.randint(0, 10, batch)
        elif name.endswith('gamma'):
            value = np.ones(arr.shape)
        elif name.endswith(('beta', 'bias')):
            value = np.zeros(arr.shape)
        else:
            value = rng.normal(0, np.sqrt(2.0 / np.prod(arr.shape[1:])), arr.shape)
        for exe in exes:
            exe.arg_dict[name][:] = value
    outputs, grads = [], []
    for exe in exes:
        for name, arr in exe.aux_dict.items():  # the capping BatchNorms' fixed statistics
            arr[:] = 1.0 if name.endswith('var') else 0.0
        exe.forward(is_train=True)
        exe.backward()
        outputs.append(exe.outputs[0].asnumpy())
        grads.append(exe.grad_dict['fc_weight'].asnumpy())
    diff = np.abs(outputs[0] - outputs[1]).max()
    assert 0 < diff < 0.05, diff
    rel = np.linalg.norm(grads[0] - grads[1]) / np.linalg.norm(grads[0])
    assert 0 < rel < 0.3, rel
    assert all(g.dtype == np.float32 for g in exes[1].grad_arrays if g is not None)


@needs_bf16
def test_train_in_bfloat16_saves_the_float32_checkpoint(tmp_path):
    make_rec(tmp_path / 'train', 512, 4, size=16, seed=0)
    make_rec(tmp_path / 'val', 96, 4, size=16, seed=5)
    args = ['train_cifar.py', '--network', 'igcv3_0.5x', '--data-train', tmp_path / 'train.rec',
            '--data-val', tmp_path / 'val.rec', '--num-classes', '4', '--batch-size', '32',
            '--num-epochs', '2', '--lr', '0.05', '--lr-step-epochs=', '--seed', '1',
            '--pad-size', '2', '--gpus=', '--image-shape', '3,16,16', '--rgb-mean',
            '128,128,128', '--rgb-std', '64,64,64', '--model-prefix', tmp_path / 'm']
    proc = run_script(*args, '--dtype', 'bfloat16')
    assert proc.returncode == 0, proc.stderr[-2000:]
    accuracy = float(re.findall(r'Epoch\[1\] Validation-accuracy=([\d.]+)', proc.stderr)[-1])
    assert accuracy > 0.6, proc.stderr[-2000:]  # 4 classes: chance is 0.25
    saved = mx.sym.load(str(tmp_path / 'm-symbol.json'))
    released = symbol.get_symbol('igcv3_0.5x', num_classes=4, image_shape=(3, 16, 16))
    assert not is_bfloat16_graph(saved)
    assert json.loads(saved.tojson())['nodes'] == json.loads(released.tojson())['nodes']
    params = mx.nd.load(str(tmp_path / 'm-0002.params'))
    assert {v.dtype for v in params.values()} == {np.float32}
    info = json.loads((tmp_path / 'm-model.json').read_text())
    assert info['network_args']['dtype'] == 'bfloat16'
    # score.py takes the checkpoint as it is, float32, at the accuracy the run reported
    proc = run_script('score.py', '--model', tmp_path / 'm', '--load-epoch', '2', '--data-val',
                      tmp_path / 'val.rec', '--gpus=', '--json')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert abs(json.loads(proc.stdout.strip().splitlines()[-1])['accuracy'] - accuracy) < 1e-4
    # where the padded form does not apply, bfloat16 is refused before training
    proc = run_script(*args, '--dtype', 'bfloat16', '--fast-group-conv', '0',
                      '--model-prefix', tmp_path / 'n')
    assert_one_line_error(proc, '--dtype bfloat16', 'padded CPU training form', 'float32')
    assert not (tmp_path / 'n-symbol.json').exists()


def test_bfloat16_pass_keeps_variable_attributes():
    fp32 = symbol.get_symbol('igcv3', form=Form.CPU_TRAINING_PADDED, **KW)
    bf16 = bfloat16_graph(fp32)
    kept = bf16.attr_dict()
    for name, value in fp32.attr_dict().items():
        for key, v in value.items():
            assert kept[name][key] == v, (name, key)
