"""ONNX export checked with onnxruntime, and INT8 quantization, on the CPU."""
import json
import os
import re

import mxnet as mx
import numpy as np
import pytest

from common import checkpoint
from common.errors import UserError
from common.inference import bind_for_inference
from datasets import make_rec
from helpers import assert_one_line_error, run_script

onnx = pytest.importorskip('onnx', reason='ONNX tests need requirements-deploy.txt (make test installs it)')
onnxruntime = pytest.importorskip('onnxruntime', reason='ONNX tests need requirements-deploy.txt')

from common import onnx_export  # noqa: E402
import symbol  # noqa: E402

# What random_checkpoint's statistics settle on: pixels 0..255 normalized to [-2, 2).
RANDOM_NORM = ['--rgb-mean', '128,128,128', '--rgb-std', '64,64,64']


def random_checkpoint(tmp_path, network, shape, classes, magnitude=0.5, settle=True):
    """A checkpoint of ``network`` with random weights that behaves like a trained one.

    A 60-layer network at the usual initialisation is chaotic in inference: a 1e-6 change
    of its input moves the probabilities by 1e-3, so float rounding alone would fail a
    1e-4 comparison. Smaller weights (Xavier ``magnitude`` 0.5) and BN running statistics
    settled on data make it as well conditioned as a trained network. The data are
    uniform in [-2, 2): pixels 0..255 normalized with RANDOM_NORM. ``settle=False`` leaves
    the statistics at mean 0, variance 1 (with ``magnitude`` 2: the chaotic case)."""
    sym = symbol.get_symbol(network, image_shape=shape, num_classes=classes)
    exe = sym.simple_bind(mx.cpu(), data=(4,) + shape, softmax_label=(4,))
    mx.random.seed(0)
    init = mx.init.Xavier(rnd_type='gaussian', factor_type='in', magnitude=magnitude)
    for name, arr in exe.arg_dict.items():
        if name not in ('data', 'softmax_label'):
            init(mx.init.InitDesc(name), arr)
    rng = np.random.RandomState(0)
    for name, arr in exe.aux_dict.items():
        arr[:] = 1 if name.endswith('var') and not settle else 0
    steps = 3 if settle else 0
    for _ in range(steps):
        exe.forward(is_train=True, data=mx.nd.array(rng.uniform(-2, 2, (4,) + shape)))
        exe.backward()  # MXNet's oneDNN BatchNorm updates the running statistics here,
        mx.nd.waitall()  # unordered by the engine (docs/training.md): wait for them
    # From zero, BN's momentum 0.9 left (1 - 0.9^steps) x the batches' average statistics.
    for arr in exe.aux_dict.values() if settle else ():
        arr[:] = arr / (1 - 0.9 ** steps)
    # A classifier whose logits spread by about 3: probabilities far from uniform.
    features = sym.get_internals()['flatten_output']
    feat_exe = features.bind(mx.cpu(), args={k: exe.arg_dict[k] for k in features.list_arguments()},
                             aux_states={k: exe.aux_dict[k] for k in features.list_auxiliary_states()})
    feats = feat_exe.forward(is_train=False, data=mx.nd.array(rng.uniform(-2, 2, (4,) + shape)))[0]
    scale = 3.0 / (float(feats.asnumpy().std()) * np.sqrt(feats.shape[1]))
    exe.arg_dict['fc_weight'][:] = rng.normal(0, scale, exe.arg_dict['fc_weight'].shape)
    mx.nd.waitall()
    prefix = str(tmp_path / network)
    sym.save(prefix + '-symbol.json')
    blob = {'arg:' + k: v for k, v in exe.arg_dict.items() if k not in ('data', 'softmax_label')}
    blob.update({'aux:' + k: v for k, v in exe.aux_dict.items()})
    mx.nd.save(prefix + '-0000.params', blob)
    return prefix


@pytest.mark.parametrize('network,shape,classes', [
    ('igcv3', (3, 224, 224), 1000), ('igcv3', (3, 32, 32), 10), ('mobilenetv2', (3, 224, 224), 1000),
])
def test_onnxruntime_matches_mxnet(tmp_path, network, shape, classes):
    prefix = random_checkpoint(tmp_path, network, shape, classes)
    out = tmp_path / 'model.onnx'
    proc = run_script('tools/export_onnx.py', '--model', prefix, '--image-shape',
                      ','.join(map(str, shape)), '-o', out, '--check-batch', '2', *RANDOM_NORM)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'same top-1: True (2 of 2 images' in proc.stderr
    sym, arg, aux, _ = checkpoint.load_model(prefix, 0, shape)
    x = np.random.RandomState(3).uniform(-2, 2, (3,) + shape).astype(np.float32)
    ours = onnx_export.mxnet_probabilities(onnx_export.exportable_symbol(sym, shape), arg, aux, x)
    # The released graph (with SoftmaxOutput) gives the same probabilities as the export's.
    released = bind_for_inference(sym, arg, aux, 3, shape, [mx.cpu()], fused=False)
    released.forward(mx.io.DataBatch([mx.nd.array(x)], [mx.nd.zeros(3)]), is_train=False)
    np.testing.assert_allclose(ours, released.get_outputs()[0].asnumpy(), atol=1e-6)
    theirs = onnx_export.onnx_probabilities(str(out), x)
    assert ours.max(1).min() > min(0.4, 10.0 / classes)  # far from uniform: a real comparison
    assert np.abs(ours - theirs).max() <= 1e-4
    np.testing.assert_array_equal(ours.argmax(1), theirs.argmax(1))
    # The ONNX file carries the checkpoint's parameters.
    model = onnx.load(str(out))
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    np.testing.assert_array_equal(inits['fc_weight'], arg['fc_weight'].asnumpy())


@pytest.fixture(scope='module')
def trained_onnx(trained, tmp_path_factory):
    """The `trained` checkpoint exported with every default (its model info)."""
    folder, _ = trained
    out = tmp_path_factory.mktemp('onnx') / 'trained.onnx'
    proc = run_script('tools/export_onnx.py', '--model', folder / 'm', '--load-epoch', '2',
                      '-o', out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out, proc.stderr


def test_export_of_a_trained_model_on_real_images(trained, trained_onnx):
    folder, _ = trained
    out, stderr = trained_onnx
    assert '(opset 13)' in stderr and 'same top-1: True' in stderr
    it = mx.io.ImageRecordIter(path_imgrec=str(folder / 'val.rec'), data_shape=(3, 16, 16),
                               batch_size=50, mean_r=128, mean_g=128, mean_b=128,
                               std_r=64, std_g=64, std_b=64)
    x = next(iter(it)).data[0].asnumpy()
    sym, arg, aux, _ = checkpoint.load_model(str(folder / 'm'), 2, (3, 16, 16))
    ours = onnx_export.mxnet_probabilities(onnx_export.exportable_symbol(sym, (3, 16, 16)), arg, aux, x)
    theirs = onnx_export.onnx_probabilities(str(out), x)
    assert np.abs(ours - theirs).max() <= 1e-4
    np.testing.assert_array_equal(ours.argmax(1), theirs.argmax(1))


# A session with default options, in its own process: what it prints on stderr.
OPEN_AND_RUN = ('import sys, numpy, onnxruntime; '
                's = onnxruntime.InferenceSession(sys.argv[1], '
                'providers=["CPUExecutionProvider"]); '
                's.run(None, {"data": numpy.zeros((1, 3, 16, 16), numpy.float32)})')


def test_only_the_image_is_a_graph_input_and_onnxruntime_loads_it_silently(trained_onnx,
                                                                         tmp_path):
    out, _ = trained_onnx
    model = onnx.load(str(out))
    assert [(o.domain, o.version) for o in model.opset_import] == [('', 13)]  # the default
    assert model.ir_version == 7  # the oldest IR version opset 13 allows
    assert [i.name for i in model.graph.input] == ['data']
    assert len(model.graph.initializer) > 300  # the parameters are initializers, not inputs
    read = {name for node in model.graph.node for name in node.input}
    assert [t.name for t in model.graph.initializer if t.name not in read] == []
    proc = run_script('-c', OPEN_AND_RUN, out)
    assert proc.returncode == 0 and proc.stderr == '', proc.stderr[-2000:]
    # The same file with its initializers listed as inputs, as mx.onnx writes it: the
    # subprocess does see onnxruntime's warnings, one per parameter.
    inputs = {i.name for i in model.graph.input}
    model.graph.input.extend(onnx.helper.make_tensor_value_info(t.name, t.data_type, t.dims)
                             for t in model.graph.initializer if t.name not in inputs)
    onnx.save(model, str(tmp_path / 'noisy.onnx'))
    proc = run_script('-c', OPEN_AND_RUN, tmp_path / 'noisy.onnx')
    assert proc.returncode == 0, proc.stderr[-2000:]
    warned = [l for l in proc.stderr.splitlines() if 'appears in graph inputs' in l]
    assert len(warned) == len(model.graph.initializer)


def test_metadata_carries_the_model_info(trained, trained_onnx):
    folder, _ = trained
    out, _ = trained_onnx
    info = json.loads((folder / 'm-model.json').read_text())
    session = onnxruntime.InferenceSession(str(out), providers=['CPUExecutionProvider'])
    meta = session.get_modelmeta().custom_metadata_map
    for key in ('image_shape', 'mean', 'std', 'resize', 'classes'):
        assert json.loads(meta[key]) == info[key], key
    assert json.loads(meta['classes']) == ['red', 'green', 'blue', 'yellow']
    assert json.loads(meta['num_classes']) == 4 == info['num_classes']
    assert meta['network'] == 'igcv3_0.5x' == info['network']
    assert meta['source_checkpoint'] == str(folder / 'm-0002.params')
    model = onnx.load(str(out))
    assert {p.key: p.value for p in model.metadata_props} == meta


def test_opset_is_the_flag(trained, tmp_path):
    folder, _ = trained
    out = tmp_path / 'opset17.onnx'
    proc = run_script('tools/export_onnx.py', '--model', folder / 'm', '--load-epoch', '2',
                      '-o', out, '--opset', '17')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'same top-1: True' in proc.stderr
    model = onnx.load(str(out))
    assert [(o.domain, o.version) for o in model.opset_import] == [('', 17)]
    assert model.ir_version == 8  # the oldest IR version opset 17 allows
    proc = run_script('tools/export_onnx.py', '--model', folder / 'm', '--load-epoch', '2',
                      '-o', tmp_path / 'old.onnx', '--opset', '12')
    assert_one_line_error(proc, '--opset must be in 13..')
    assert not (tmp_path / 'old.onnx').exists()


# MXNet 1.9.1's converter reads onnx's deprecated type tables (run in-process here).
@pytest.mark.filterwarnings(r'ignore:`mapping\.\w+` is now deprecated:DeprecationWarning')
def test_check_refuses_a_file_that_disagrees(trained, trained_onnx, tmp_path):
    folder, _ = trained
    out, _ = trained_onnx
    shape = (3, 16, 16)
    sym, arg, aux, _ = checkpoint.load_model(str(folder / 'm'), 2, shape)
    fixed = onnx_export.exportable_symbol(sym, shape)

    def check(path, arg=arg):
        return onnx_export.check(fixed, arg, aux, str(path), shape, [128] * 3, [64] * 3, 4, 10.0)
    stats = check(out)
    assert stats['diff'] <= stats['allowed'] and stats['same_top1']
    # The file with one bias moved by 1e-3.
    model = onnx.load(str(out))
    bias = next(t for t in model.graph.initializer if t.name == 'fc_bias')
    values = onnx.numpy_helper.to_array(bias).copy()
    values[0] += 1e-3
    bias.CopyFrom(onnx.numpy_helper.from_array(values, bias.name))
    onnx.save(model, str(tmp_path / 'broken.onnx'))
    with pytest.raises(UserError) as refused:
        check(tmp_path / 'broken.onnx')
    message = str(refused.value)
    assert message.startswith('the exported model disagrees with MXNet: max |log p diff|')
    assert '\n' not in message and 'please report it' in message
    # Inside the export the refused file is never published, nor its temporary file.
    moved = dict(arg, fc_bias=mx.nd.array(values))  # MXNet's reference moved instead
    target = tmp_path / 'out' / 'refused.onnx'
    with pytest.raises(UserError, match='refused.onnx not written'):
        onnx_export.export(sym, arg, aux, shape, str(target),
                           check=lambda fixed, path: check(path, moved))
    assert os.listdir(tmp_path / 'out') == []


def test_ill_conditioned_model_is_judged_by_its_own_float_error(tmp_path):
    """A network at the usual initialisation magnitude, chaotic in inference: float32
    rounding alone moves its probabilities by more than a fixed 1e-4, so only a check
    relative to float32's own error (against float64) passes its valid export."""
    shape = (3, 32, 32)
    prefix = random_checkpoint(tmp_path, 'igcv3', shape, 10, magnitude=2.0, settle=False)
    out = tmp_path / 'chaotic.onnx'
    proc = run_script('tools/export_onnx.py', '--model', prefix, '--image-shape', '3,32,32',
                      '-o', out, *RANDOM_NORM)
    assert proc.returncode == 0, proc.stderr[-2000:]
    own = float(re.search(r'MXNet float32 vs float64 ([\d.e+-]+)', proc.stderr).group(1))
    assert own > 1e-4
    sym, arg, aux, _ = checkpoint.load_model(prefix, 0, shape)
    x = onnx_export.check_inputs(shape, [128] * 3, [64] * 3, 4)
    ours = onnx_export.mxnet_probabilities(onnx_export.exportable_symbol(sym, shape), arg, aux, x)
    assert np.abs(ours - onnx_export.onnx_probabilities(str(out), x)).max() > 1e-4


def test_int8_checkpoint_scores_close_to_fp32(trained, tmp_path):
    """On 500 held-out images (the fixture's 100 make one image 1 point): the fixture's
    model is trained for 2 epochs only, and an undertrained model is the hard case."""
    folder, _ = trained
    make_rec(tmp_path / 'held', 500, 4, size=16, seed=7)
    proc = run_script('tools/quantize.py', '--model', folder / 'm', '--load-epoch', '2',
                      '--calib-data', folder / 'train.rec', '--calib-mode', 'entropy',
                      '--num-calib-examples', '200', '-o', tmp_path / 'q')  # its model info
    assert proc.returncode == 0, proc.stderr[-2000:]
    qsym = json.loads((tmp_path / 'q-symbol.json').read_text())
    assert any('quantize' in n['op'] for n in qsym['nodes'])
    info = json.loads((tmp_path / 'q-model.json').read_text())
    assert info['quantized'] == 'int8' and info['image_shape'] == [3, 16, 16]
    assert info['mean'] == [128, 128, 128] and info['std'] == [64, 64, 64]

    def accuracy(*model):  # with no preprocessing flag: each checkpoint's model info
        proc = run_script('score.py', *model, '--data-val', tmp_path / 'held.rec', '--gpus=',
                          '--json')
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads(proc.stdout)['accuracy']
    fp32 = accuracy('--model', folder / 'm', '--load-epoch', '2')
    int8 = accuracy('--model', tmp_path / 'q')
    assert int8 >= fp32 - 0.03, (fp32, int8)


def test_export_errors_are_one_line(tmp_path):
    assert_one_line_error(run_script('tools/export_onnx.py', '--model', tmp_path / 'none', '-o',
                                     tmp_path / 'x.onnx'), 'no such checkpoint')
    assert not (tmp_path / 'x.onnx').exists()


def test_no_check_exports_without_running_onnxruntime(trained, trained_onnx, tmp_path):
    """--no-check skips the comparison (no 'same top-1' line); the file is the same graph,
    and onnxruntime still opens it."""
    folder, _ = trained
    out = tmp_path / 'unchecked.onnx'
    proc = run_script('tools/export_onnx.py', '--model', folder / 'm', '--load-epoch', '2',
                      '-o', out, '--no-check')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'same top-1' not in proc.stderr and 'same top-1: True' in trained_onnx[1]
    checked, unchecked = onnx.load(str(trained_onnx[0])), onnx.load(str(out))
    assert [n.op_type for n in unchecked.graph.node] == [n.op_type for n in checked.graph.node]
    assert run_script('-c', OPEN_AND_RUN, out).returncode == 0


def test_keep_graph_quantizes_the_grouped_convolutions_as_they_are(trained, tmp_path):
    """Without --keep-graph the graph is first rewritten to the inference form (every
    permutation folded into dense 1x1 convs, symbol.inference_form); with it, the grouped
    convs and the permutations between them are quantized as the checkpoint has them,
    which costs accuracy (docs/scoring-deployment.md). Both score with no flags."""
    folder, _ = trained

    def quantized(name, *extra):
        proc = run_script('tools/quantize.py', '--model', folder / 'm', '--load-epoch', '2',
                          '--calib-data', folder / 'train.rec', '--calib-mode', 'naive',
                          '--num-calib-examples', '64', '-o', tmp_path / name, *extra)
        assert proc.returncode == 0, proc.stderr[-2000:]
        nodes = json.loads((tmp_path / (name + '-symbol.json')).read_text())['nodes']
        scored = run_script('score.py', '--model', tmp_path / name, '--data-val',
                            folder / 'val.rec', '--gpus=', '--json')
        assert scored.returncode == 0, scored.stderr[-2000:]
        return sum(n['op'] == 'SwapAxis' for n in nodes), json.loads(scored.stdout)['accuracy']
    dense, kept = quantized('dense'), quantized('kept', '--keep-graph')
    assert dense[0] == 0 and kept[0] > 0, (dense, kept)  # the permutations are kept
    assert dense[1] >= 0.9 and 0 <= kept[1] <= 1, (dense, kept)


@pytest.mark.parametrize('change,needle', [
    ({'classes': ['a', 'b', 'c'], 'num_classes': 3},
     "names 3 classes, but the checkpoint's classifier has 4"),
    ({'network': 'mobilenetv2'}, 'says the network is mobilenetv2, which the checkpoint is not'),
])
def test_export_refuses_a_model_info_that_contradicts_the_checkpoint(trained, tmp_path,
                                                                     change, needle):
    """Its fields become the ONNX metadata every runtime reads: 3 class names for a
    4-class classifier, or another network's name, were copied as they were."""
    folder, _ = trained
    for name in ('m-0002.params', 'm-symbol.json'):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    info = json.loads((folder / 'm-model.json').read_text())
    (tmp_path / 'm-model.json').write_text(json.dumps(dict(info, **change)))
    proc = run_script('tools/export_onnx.py', '--model', tmp_path / 'm', '-o', tmp_path / 'x.onnx')
    assert_one_line_error(proc, needle)
    assert not (tmp_path / 'x.onnx').exists()
