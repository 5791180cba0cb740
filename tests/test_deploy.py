"""ONNX export checked with onnxruntime, and INT8 quantization, on the CPU."""
import json

import mxnet as mx
import numpy as np
import pytest

from common import checkpoint
from common.inference import bind_for_inference
from conftest import NORM
from datasets import make_rec
from helpers import assert_one_line_error, run_script

onnx = pytest.importorskip('onnx', reason='ONNX tests need requirements-deploy.txt (make test installs it)')
onnxruntime = pytest.importorskip('onnxruntime', reason='ONNX tests need requirements-deploy.txt')

import export_onnx  # noqa: E402  (tools/ is on the path through conftest)
import symbol  # noqa: E402


def random_checkpoint(tmp_path, network, shape, classes):
    """A checkpoint of ``network`` with random weights that behaves like a trained one.

    A 60-layer network at the usual initialisation is chaotic in inference: a 1e-6 change
    of its input moves the probabilities by 1e-3, so float rounding alone would fail a
    1e-4 comparison. Smaller weights (Xavier magnitude 0.5) and BN running statistics
    settled on data make it as well conditioned as a trained network."""
    sym = symbol.get_symbol(network, image_shape=shape, num_classes=classes)
    exe = sym.simple_bind(mx.cpu(), data=(4,) + shape, softmax_label=(4,))
    mx.random.seed(0)
    init = mx.init.Xavier(rnd_type='gaussian', factor_type='in', magnitude=0.5)
    for name, arr in exe.arg_dict.items():
        if name not in ('data', 'softmax_label'):
            init(mx.init.InitDesc(name), arr)
    for name, arr in exe.aux_dict.items():
        arr[:] = 1 if name.endswith('var') else 0
    rng = np.random.RandomState(0)
    for _ in range(30):  # BN momentum 0.9: the running statistics settle
        exe.forward(is_train=True, data=mx.nd.array(rng.uniform(-2, 2, (4,) + shape)))
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
                      ','.join(map(str, shape)), '-o', out, '--check-batch', '2')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'same top-1: True' in proc.stderr
    sym, arg, aux, _ = checkpoint.load_model(prefix, 0, shape)
    x = np.random.RandomState(3).uniform(-2, 2, (3,) + shape).astype(np.float32)
    ours = export_onnx.mxnet_probabilities(export_onnx.exportable_symbol(sym, shape), arg, aux, x)
    # The released graph (with SoftmaxOutput) gives the same probabilities as the export's.
    released = bind_for_inference(sym, arg, aux, 3, shape, [mx.cpu()], fused=False)
    released.forward(mx.io.DataBatch([mx.nd.array(x)], [mx.nd.zeros(3)]), is_train=False)
    np.testing.assert_allclose(ours, released.get_outputs()[0].asnumpy(), atol=1e-6)
    theirs = export_onnx.onnx_probabilities(str(out), x)
    assert ours.max(1).min() > min(0.5, 10.0 / classes)  # far from uniform: a real comparison
    assert np.abs(ours - theirs).max() <= 1e-4
    np.testing.assert_array_equal(ours.argmax(1), theirs.argmax(1))
    # The ONNX file carries the checkpoint's parameters.
    model = onnx.load(str(out))
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    np.testing.assert_array_equal(inits['fc_weight'], arg['fc_weight'].asnumpy())


def test_export_of_a_trained_model_on_real_images(trained, tmp_path):
    folder, _ = trained
    out = tmp_path / 'trained.onnx'
    proc = run_script('tools/export_onnx.py', '--model', folder / 'm', '--load-epoch', '2',
                      '--image-shape', '3,16,16', '-o', out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    it = mx.io.ImageRecordIter(path_imgrec=str(folder / 'val.rec'), data_shape=(3, 16, 16),
                               batch_size=50, mean_r=128, mean_g=128, mean_b=128,
                               std_r=64, std_g=64, std_b=64)
    x = next(iter(it)).data[0].asnumpy()
    sym, arg, aux, _ = checkpoint.load_model(str(folder / 'm'), 2, (3, 16, 16))
    ours = export_onnx.mxnet_probabilities(export_onnx.exportable_symbol(sym, (3, 16, 16)), arg, aux, x)
    theirs = export_onnx.onnx_probabilities(str(out), x)
    assert np.abs(ours - theirs).max() <= 1e-4
    np.testing.assert_array_equal(ours.argmax(1), theirs.argmax(1))


def test_int8_checkpoint_scores_close_to_fp32(trained, tmp_path):
    """On 500 held-out images (the fixture's 100 make one image 1 point): the fixture's
    model is trained for 2 epochs only, and an undertrained model is the hard case."""
    folder, _ = trained
    make_rec(tmp_path / 'held', 500, 4, size=16, seed=7)
    proc = run_script('tools/quantize.py', '--model', folder / 'm', '--load-epoch', '2',
                      '--calib-data', folder / 'train.rec', '--calib-mode', 'entropy',
                      '--num-calib-examples', '200', '-o', tmp_path / 'q', *NORM)
    assert proc.returncode == 0, proc.stderr[-2000:]
    qsym = json.loads((tmp_path / 'q-symbol.json').read_text())
    assert any('quantize' in n['op'] for n in qsym['nodes'])

    def accuracy(*model):
        proc = run_script('score.py', *model, '--data-val', tmp_path / 'held.rec', '--gpus=',
                          '--json', *NORM)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads(proc.stdout)['accuracy']
    fp32 = accuracy('--model', folder / 'm', '--load-epoch', '2')
    int8 = accuracy('--model', tmp_path / 'q')
    assert int8 >= fp32 - 0.03, (fp32, int8)


def test_export_errors_are_one_line(tmp_path):
    assert_one_line_error(run_script('tools/export_onnx.py', '--model', tmp_path / 'none', '-o',
                                     tmp_path / 'x.onnx'), 'no such checkpoint')
    assert not (tmp_path / 'x.onnx').exists()
