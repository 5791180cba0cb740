"""The CPU training form (symbol.common.training_form) and the speed tooling: the form
computes the released function on the released parameters, its running statistics are
converted at every boundary, the environment defaults behind its speed, and
tools/benchmark.py."""
import argparse
import importlib.util
import json
import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest

import symbol
from common import checkpoint, fit
from common.inference import inference_form
from common.errors import UserError
from common.module import Module
from helpers import ROOT, run_script
from symbol.common import aux_to_graph, aux_to_released, block_diagonal_weight, interleaved_aux
from symbol.igcv3 import igcv3_block


def _weight_value(groups, interleave, rows=3, cols=2):
    num_filter, in_channels = groups * rows, groups * cols
    sym = block_diagonal_weight('w', num_filter, in_channels, groups, interleave=interleave)
    exe = sym.simple_bind(mx.cpu(), grad_req='null')
    w = np.random.RandomState(groups).normal(0, 1, (num_filter, cols, 1, 1)).astype(np.float32)
    exe.arg_dict['w'][:] = w
    return w[:, :, 0, 0], exe.forward()[0].asnumpy()[:, :, 0, 0]


@pytest.mark.parametrize('groups', [2, 3, 4, 8])
@pytest.mark.parametrize('interleave', [False, True])
def test_block_diagonal_weight_is_the_grouped_weight(groups, interleave):
    w, dense = _weight_value(groups, interleave)
    rows, cols = w.shape[0] // groups, w.shape[1]
    expected = np.zeros((groups * rows, groups * cols), np.float32)
    for j in range(groups):
        expected[j * rows:(j + 1) * rows, j * cols:(j + 1) * cols] = w[j * rows:(j + 1) * rows]
    if interleave:  # row i*G+j is row j*rows+i, as symbol.common.channel_permutation orders
        expected = expected.reshape(groups, rows, -1).transpose(1, 0, 2).reshape(groups * rows, -1)
    np.testing.assert_array_equal(dense, expected)


def _bind(sym, shape, aux):
    exe = sym.simple_bind(mx.cpu(), data=shape, grad_req='null')
    r = np.random.RandomState(0)
    for name, arr in exe.arg_dict.items():
        arr[:] = r.normal(0, 0.3, arr.shape) if arr.ndim > 1 else r.uniform(0.5, 1.5, arr.shape)
    for name, arr in exe.aux_dict.items():
        arr[:] = aux[name]
    return exe


def test_running_statistics_are_converted_to_and_from_the_training_form():
    """Inference of one block with distinct running statistics per channel: the training
    form gives the released outputs with converted statistics, and other ones without."""
    data = mx.sym.Variable('data')
    exact = igcv3_block(data, 'b', 8, 48, 8, 1, True)
    fast = igcv3_block(data, 'b', 8, 48, 8, 1, True, fast=1)
    assert interleaved_aux(exact) == {}
    assert interleaved_aux(fast) == {'b-exp-batchnorm_moving_mean': 2,
                                     'b-exp-batchnorm_moving_var': 2}
    r = np.random.RandomState(1)
    aux = {name: mx.nd.array(r.uniform(0.5, 2.0, (48 if 'exp' in name or 'depth' in name else 8,)))
           for name in exact.list_auxiliary_states()}
    shape = (4, 8, 6, 6)
    x = mx.nd.array(r.normal(0, 1, shape))
    released = _bind(exact, shape, aux).forward(is_train=False, data=x)[0].asnumpy()
    converted = aux_to_graph(fast, aux)
    got = _bind(fast, shape, converted).forward(is_train=False, data=x)[0].asnumpy()
    np.testing.assert_allclose(got, released, rtol=1e-5, atol=1e-5)
    unconverted = _bind(fast, shape, aux).forward(is_train=False, data=x)[0].asnumpy()
    assert np.abs(unconverted - released).max() > 1e-2
    back = aux_to_released(fast, converted)
    for name in aux:
        np.testing.assert_array_equal(back[name].asnumpy(), aux[name].asnumpy())
    # 2 groups of 24: channel i*2+j of the graph is channel j*24+i of the release.
    mean = aux['b-exp-batchnorm_moving_mean'].asnumpy()
    np.testing.assert_array_equal(converted['b-exp-batchnorm_moving_mean'].asnumpy()[[0, 1, 2, 3]],
                                  mean[[0, 24, 1, 25]])


def test_module_takes_and_gives_the_released_statistics():
    sym = symbol.get_symbol('igcv3_0.5x', image_shape='3,16,16', num_classes=4,
                            fast_group_conv=True)
    mod = Module(sym, context=mx.cpu())
    mod.bind(data_shapes=[('data', (2, 3, 16, 16))], label_shapes=[('softmax_label', (2,))])
    r = np.random.RandomState(2)
    shapes = dict(zip(sym.list_auxiliary_states(),
                      sym.infer_shape(data=(2, 3, 16, 16))[2]))
    aux = {k: mx.nd.array(r.uniform(0.5, 2.0, s)) for k, s in shapes.items()}
    mod.init_params(mx.init.Xavier(), aux_params=aux, allow_missing=True)
    _, got = mod.get_params()
    for name in aux:
        np.testing.assert_array_equal(got[name].asnumpy(), aux[name].asnumpy(), err_msg=name)
    inside = mod._exec_group.execs[0].aux_dict
    permuted = interleaved_aux(sym)
    assert permuted
    for name in permuted:
        assert not np.array_equal(inside[name].asnumpy(), aux[name].asnumpy())
    mod.set_params(*mod.get_params())
    _, again = mod.get_params()
    for name in aux:
        np.testing.assert_array_equal(again[name].asnumpy(), aux[name].asnumpy(), err_msg=name)


FUSED_CHECK = r'''
import sys
sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[1] + '/tests')
import common
assert common.use_training_kernels() == 'AVX2' and common.one_blocking_kernels()
import mxnet as mx, numpy as np
import symbol
from symbol.common import FUSED_BN_RELU
from symbol.igcv3 import igcv3_block
from test_symbols import _run
data = mx.sym.Variable('data')
exact = igcv3_block(data, 'b', 32, 96, 32, 1, True)
fused = igcv3_block(data, 'b', 32, 96, 32, 1, True, fast=FUSED_BN_RELU)
assert '_contrib_BatchNormWithReLU' in fused.tojson()
out_a, grads_a = _run(exact, dict(data=(4, 32, 8, 8)))
out_b, grads_b = _run(fused, dict(data=(4, 32, 8, 8)))
np.testing.assert_allclose(out_b, out_a, rtol=1e-5, atol=1e-5)
scale = max(np.abs(g).max() for g in grads_a.values())
for name in grads_a:
    np.testing.assert_allclose(grads_b[name], grads_a[name], rtol=1e-4, atol=1e-5 * scale)
shapes = dict(data=(8, 3, 32, 32), softmax_label=(8,))
net_a, _ = _run(symbol.get_symbol('igcv3', image_shape='3,32,32', num_classes=10), shapes)
net_b, _ = _run(symbol.get_symbol('igcv3', image_shape='3,32,32', num_classes=10,
                                  fast_group_conv=True, fuse_bn_relu=True), shapes)
np.testing.assert_allclose(net_b, net_a, rtol=1e-5, atol=1e-6)
print('fused form ok')
'''


def test_fused_training_form_with_avx2_kernels():
    """BatchNorm fused with ReLU needs one blocking of activations: a fresh process with
    the training kernels (an AVX-512 process cannot run its backward)."""
    env = dict(os.environ)
    env.pop('DNNL_MAX_CPU_ISA', None)
    proc = subprocess.run([sys.executable, '-c', FUSED_CHECK, str(ROOT)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'fused form ok' in proc.stdout


def _env_after_import(**preset):
    env = {k: v for k, v in os.environ.items()
           if k not in ('OMP_NUM_THREADS', 'MXNET_USE_OPERATOR_TUNING', 'DNNL_MAX_CPU_ISA')}
    env.update(preset)
    code = ('import sys, os, json; sys.path.insert(0, %r); import common; '
            'before = os.environ.get("DNNL_MAX_CPU_ISA"); common.use_training_kernels(); '
            'print(json.dumps([os.environ.get("OMP_NUM_THREADS"), '
            'os.environ.get("MXNET_USE_OPERATOR_TUNING"), before, '
            'os.environ.get("DNNL_MAX_CPU_ISA")]))' % str(ROOT))
    proc = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_cpu_defaults_use_every_core_and_respect_the_user():
    assert _env_after_import() == [str(os.cpu_count()), '0', None, 'AVX2']
    assert _env_after_import(OMP_NUM_THREADS='1', MXNET_USE_OPERATOR_TUNING='1',
                             DNNL_MAX_CPU_ISA='AVX512_CORE') == \
        ['1', '1', 'AVX512_CORE', 'AVX512_CORE']


def test_training_form_follows_the_devices(monkeypatch):
    monkeypatch.setenv('DNNL_MAX_CPU_ISA', 'AVX2')
    args = argparse.Namespace(fast_group_conv=None)
    fit.resolve_training_form(args, [mx.cpu()])
    assert (args.fast_group_conv, args.fuse_bn_relu) == (1, True)
    args = argparse.Namespace(fast_group_conv=None)
    fit.resolve_training_form(args, [mx.gpu(0), mx.gpu(1)])
    assert (args.fast_group_conv, args.fuse_bn_relu) == (0, False)
    with pytest.raises(UserError, match='--fast-group-conv 0 with --gpus'):
        fit.resolve_training_form(argparse.Namespace(fast_group_conv=1), [mx.gpu(0)])
    monkeypatch.setenv('DNNL_MAX_CPU_ISA', 'AVX512_CORE')  # a user's choice: not fused
    args = argparse.Namespace(fast_group_conv=None)
    fit.resolve_training_form(args, [mx.cpu()])
    assert (args.fast_group_conv, args.fuse_bn_relu) == (1, False)
    args = argparse.Namespace(fast_group_conv=0)
    fit.resolve_training_form(args, [mx.cpu()])
    assert (args.fast_group_conv, args.fuse_bn_relu) == (0, False)


def test_benchmark_tool_measures_every_phase(tmp_path):
    out = tmp_path / 'bench.json'
    proc = run_script('tools/benchmark.py', '--network', 'igcv3_0.5x', '--image-shape', '3,16,16',
                      '--num-classes', '4', '--batch-size', '4', '--iterations', '1',
                      '--warmup', '0', '--data-images', '16', '--compare-torch',
                      '--json', out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    results = report['results']
    for phase, key in (('train', 'train_images_per_sec'), ('train_exact', 'train_images_per_sec'),
                       ('infer_fused', 'images_per_sec'), ('infer_fused', 'latency_ms'),
                       ('infer_plain', 'images_per_sec'), ('data', 'data_images_per_sec')):
        assert results[phase][key] > 0, (phase, results[phase])
    assert results['train']['peak_mb'] > 0
    assert results['train']['dnnl_max_cpu_isa'] == 'AVX2'
    assert results['train']['training_form'] == 'fused' and \
        results['train_exact']['training_form'] == 'released'
    assert 'training images/s' in proc.stdout
    if importlib.util.find_spec('torch'):
        assert results['torch_train']['train_images_per_sec'] > 0
        assert 'training speed, ours / PyTorch' in proc.stdout
    else:
        assert 'torch is not installed' in results['torch_train']['skipped']
        assert 'PyTorch comparison skipped' in proc.stdout


def test_benchmark_rejects_an_unknown_phase():
    proc = run_script('tools/benchmark.py', '--phases', 'train,warp')
    assert proc.returncode != 0
    assert 'unknown --phases warp' in proc.stderr.strip().splitlines()[-1]


def _grouped_1x1(sym):
    return [n['name'] for n in json.loads(sym.tojson())['nodes']
            if n['op'] == 'Convolution' and n.get('attrs', {}).get('kernel') == '(1, 1)'
            and n['attrs'].get('num_group', '1') != '1']


@pytest.mark.parametrize('all_dense', [False, True])
def test_inference_form_keeps_the_function(trained, all_dense):
    """Permutations folded into parameters and (all or the needed) grouped 1x1 convs
    dense: the same outputs, unfused, on a trained checkpoint; its inputs untouched."""
    folder, _ = trained
    sym, arg, aux, _ = checkpoint.load_model(str(folder / 'm'), 2, (3, 16, 16))
    before = {k: v.asnumpy().copy() for k, v in list(arg.items()) + list(aux.items())}
    form, farg, faux = inference_form(sym, arg, aux, all_dense=all_dense)
    for k, v in list(arg.items()) + list(aux.items()):
        np.testing.assert_array_equal(v.asnumpy(), before[k])
    ops = [n['op'] for n in json.loads(form.tojson())['nodes']]
    assert ops.count('SwapAxis') == 0 and 'SwapAxis' in sym.tojson()
    blocks = sum(1 for n in _grouped_1x1(sym) if n.endswith('-exp-conv2d'))
    assert len(_grouped_1x1(form)) == (0 if all_dense else len(_grouped_1x1(sym)) - blocks)
    x = np.random.RandomState(0).uniform(-2, 2, (8, 3, 16, 16)).astype(np.float32)
    outs = []
    for s, a, x_aux in ((sym, arg, aux), (form, farg, faux)):
        mod = checkpoint.bind_for_inference(s, a, x_aux, 8, (3, 16, 16), [mx.cpu()], fused=False)
        mod.forward(mx.io.DataBatch([mx.nd.array(x)], [mx.nd.zeros(8)]), is_train=False)
        outs.append(mod.get_outputs()[0].asnumpy())
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-5, atol=1e-6)


def test_inference_form_of_the_released_graph():
    path = os.path.join(os.path.dirname(ROOT), 'shared', 'reference', 'igcv3-symbol.json')
    if not os.path.isfile(path):
        pytest.skip('the released graph (../shared) is not on this machine')
    sym = mx.sym.load(path)
    shapes = dict(zip(sym.list_arguments(), sym.infer_shape(data=(1, 3, 224, 224))[0]))
    aux_shapes = dict(zip(sym.list_auxiliary_states(), sym.infer_shape(data=(1, 3, 224, 224))[2]))
    r = np.random.RandomState(0)
    arg = {k: mx.nd.array(r.normal(0, 0.1, v)) for k, v in shapes.items()
           if k not in ('data', 'softmax_label')}
    aux = {k: mx.nd.array(r.uniform(0.5, 1.5, v)) for k, v in aux_shapes.items()}
    form, farg, faux = inference_form(sym, arg, aux)
    assert 'SwapAxis' in sym.tojson() and 'SwapAxis' not in form.tojson()
    assert len(_grouped_1x1(form)) == len(_grouped_1x1(sym)) // 2  # the 17 linear convs
    assert sorted(farg) == sorted(arg) and sorted(faux) == sorted(aux)
    x = mx.nd.array(r.uniform(-1, 1, (2, 3, 224, 224)))
    outs = []
    for s, a, b in ((sym, arg, aux), (form, farg, faux)):
        exe = s.simple_bind(mx.cpu(), data=(2, 3, 224, 224), grad_req='null')
        exe.copy_params_from(a, b, allow_extra_params=True)
        outs.append(exe.forward(is_train=False, data=x)[0].asnumpy())
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-4, atol=1e-6)
