"""The recipe options beyond the paper: random erasing, weight averaging (EMA) and
test-time augmentation; and the models shipped in models/ named alone."""
import glob
import json
import pathlib
import re

import cv2
import mxnet as mx
import numpy as np
import pytest

from common import averaging, checkpoint, erasing, evaluate, training_flags
from common.errors import UserError
from common.inference import bind_for_inference
from datasets import class_image, make_rec
from helpers import ROOT, assert_one_line_error, run_script

import train_cifar

MEAN, STD = [100.0, 110.0, 120.0], [50.0, 60.0, 70.0]


def test_erasing_draws_one_rectangle_in_the_asked_ranges():
    rng = np.random.RandomState(0)
    images = np.full((400, 3, 40, 30), 7.0, np.float32)
    erased = erasing.erase(images, rng, 0.5, (0.05, 0.3), (0.5, 2.0), 'random', MEAN, STD)
    assert 150 < erased.sum() < 250  # probability 1/2 of 400
    low = (0 - np.array(MEAN)) / np.array(STD)
    high = (255 - np.array(MEAN)) / np.array(STD)
    for img, hit in zip(images, erased):
        changed = (img != 7.0).any(0)
        assert changed.any() == hit
        if not hit:
            continue
        rows, cols = np.flatnonzero(changed.any(1)), np.flatnonzero(changed.any(0))
        h, w = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
        assert changed.sum() <= h * w and changed.sum() > 0.9 * h * w  # one filled rectangle
        assert 0.05 * 1200 * 0.7 <= h * w <= 0.3 * 1200 * 1.3
        assert 0.5 / 1.6 <= h / w <= 2.0 * 1.6  # (rounding of small sides)
        inside = img[:, rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        for c in range(3):  # pixels of 0..255, normalized as the image is
            assert low[c] - 1e-5 <= inside[c].min() and inside[c].max() <= high[c] + 1e-5
    # the mean fill is the normalized mean pixel: 0
    images = np.full((20, 1, 16, 16), 3.0, np.float32)
    erased = erasing.erase(images, np.random.RandomState(1), 1.0, (0.1, 0.2), (0.3, 3.33),
                           'mean', MEAN, STD)
    assert erased.all() and set(np.unique(images)) == {0.0, 3.0}


def test_erasing_iterator_is_seeded_and_keeps_labels():
    data = np.random.RandomState(0).uniform(-1, 1, (64, 1, 12, 12)).astype(np.float32)
    labels = np.arange(64) % 4

    def batches(seed):
        it = erasing.RandomErasingIter(mx.io.NDArrayIter(data, labels, 16), 0.5, (0.02, 0.4),
                                       (0.3, 3.33), 'random', MEAN, STD, seed)
        return [(b.data[0].asnumpy(), b.label[0].asnumpy()) for b in it]
    a, b, c = batches((3, 0, 1)), batches((3, 0, 1)), batches((4, 0, 1))
    assert all(np.array_equal(x[0], y[0]) for x, y in zip(a, b))
    assert not all(np.array_equal(x[0], y[0]) for x, y in zip(a, c))
    out = np.concatenate([x[0] for x in a])
    assert np.array_equal(np.concatenate([x[1] for x in a]), labels)
    changed = (out != data).reshape(64, -1).any(1)
    assert 16 < changed.sum() < 48
    # an unerased image is the iterator's own, pixel for pixel
    assert np.array_equal(out[~changed], data[~changed])


@pytest.mark.parametrize('flags, needle', [
    (['--random-erasing', '1.5'], '--random-erasing must be a probability'),
    (['--random-erasing', '0.5', '--random-erasing-area', '0.4,0.1'], '--random-erasing-area'),
    (['--random-erasing', '0.5', '--random-erasing-area', '0.1,2'], 'at most 1'),
    (['--random-erasing', '0.5', '--random-erasing-ratio', 'x'], '--random-erasing-ratio'),
    (['--ema-decay', '1'], '--ema-decay must be in [0, 1)'),
    (['--ema-decay', 'nan'], '--ema-decay'),
    (['--tta', 'flip', '--random-mirror', '0'], '--random-mirror 1'),
])
def test_option_flags_are_checked(flags, needle):
    args = train_cifar.parse_args(['--dataset', 'fashion-mnist'] + flags)
    with pytest.raises(UserError, match=re.escape(needle)):
        training_flags.validate_args(args)


def test_paper_recipes_keep_the_options_off():
    for argv in ([], ['--dataset', 'cifar100']):
        args = train_cifar.parse_args(argv)
        assert (args.random_erasing, args.ema_decay, args.tta, args.label_smoothing) == \
            (0.0, 0.0, 'none', 0.0)


def test_decay_warms_up():
    assert averaging.decay_at(0.999, 0) == pytest.approx(0.1)
    assert averaging.decay_at(0.999, 90) == pytest.approx(0.91)
    assert averaging.decay_at(0.999, 10 ** 6) == 0.999


def test_weight_average_follows_every_step():
    """The average of a real Module's weights and BatchNorm statistics, step by step,
    against the same average computed in numpy from the weights after each step."""
    data = mx.sym.Variable('data')
    net = mx.sym.BatchNorm(mx.sym.FullyConnected(data, num_hidden=6, name='fc1'), name='bn')
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(net, num_hidden=3, name='fc2'),
                               name='softmax')
    mod = mx.mod.Module(net, context=mx.cpu())
    mod.bind(data_shapes=[('data', (8, 5))], label_shapes=[('softmax_label', (8,))])
    mx.random.seed(0)
    mod.init_params(mx.init.Xavier())
    mod.init_optimizer(optimizer='sgd', optimizer_params={'learning_rate': 0.5, 'momentum': 0.9})
    average = averaging.WeightAverage(mod, 0.8, step=0)
    arg, aux = mod.get_params()
    expected = {k: v.asnumpy() for k, v in list(arg.items()) + list(aux.items())}
    rng = np.random.RandomState(0)
    for step in range(12):
        batch = mx.io.DataBatch([mx.nd.array(rng.normal(size=(8, 5)))],
                                [mx.nd.array(rng.randint(0, 3, 8))])
        mod.forward_backward(batch)
        mod.update()
        mod.get_outputs()[0].wait_to_read()
        average.update()
        d = min(0.8, (1.0 + step) / (10.0 + step))
        arg, aux = mod.get_params()
        for k, v in list(arg.items()) + list(aux.items()):
            expected[k] = d * expected[k] + (1 - d) * v.asnumpy()
    got_arg, got_aux = average.get_params()
    assert set(got_arg) == set(arg) and set(got_aux) == set(aux) == {'bn_moving_mean',
                                                                    'bn_moving_var'}
    for k, v in list(got_arg.items()) + list(got_aux.items()):
        np.testing.assert_allclose(v.asnumpy(), expected[k], rtol=1e-5, atol=1e-6, err_msg=k)
    # and it is not the trained weights themselves
    assert not np.allclose(got_arg['fc2_weight'].asnumpy(), arg['fc2_weight'].asnumpy())


def test_saving_without_average_removes_a_stale_trained_file(tmp_path):
    prefix = str(tmp_path / 'ck')
    sym = mx.sym.FullyConnected(mx.sym.Variable('data'), num_hidden=2, name='fc')
    params = {'fc_weight': mx.nd.ones((2, 3)), 'fc_bias': mx.nd.zeros(2)}
    checkpoint.save_checkpoint(prefix, 1, sym, params, {}, training_params=(params, {}))
    assert (tmp_path / 'ck-0001.training.params').exists()
    assert checkpoint.last_complete_epoch(prefix) == 1  # (not taken for an epoch of its own)
    checkpoint.save_checkpoint(prefix, 1, sym, params, {})  # a later run without averaging
    assert not (tmp_path / 'ck-0001.training.params').exists()


def _train(folder, prefix, *extra):
    return run_script(
        'train_cifar.py', '--network', 'igcv3_0.5x', '--data-train', folder / 'train.rec',
        '--data-val', folder / 'val.rec', '--num-classes', '4', '--batch-size', '32',
        '--lr', '0.05', '--lr-step-epochs', '4,5', '--seed', '1', '--pad-size', '2', '--gpus=',
        '--image-shape', '1,16,16', '--rgb-mean', '120,120,120', '--rgb-std', '60,60,60',
        '--ema-decay', '0.9', '--random-erasing', '0.5', '--tta', 'flip',
        '--model-prefix', folder / prefix, *extra)


def _params(path):
    return {k: v.asnumpy() for k, v in mx.nd.load(str(path)).items()}


def test_averaged_erased_flip_model_trains_resumes_scores_and_predicts(tmp_path):
    """A grey model trained with every option: the average is the checkpoint, the trained
    weights beside it; a resumed run gets both exactly; score.py and tools/predict.py use
    the model's flip protocol by default and give the run's own validation."""
    make_rec(tmp_path / 'train', 384, 4, size=16, seed=0)
    make_rec(tmp_path / 'val', 100, 4, size=16, seed=5)
    (tmp_path / 'classes.txt').write_text('red\ngreen\nblue\nyellow\n')
    straight = _train(tmp_path, 'a', '--num-epochs', '6')
    assert straight.returncode == 0, straight.stderr[-2000:]
    assert '--ema-decay 0.9: saving and validating the weight average' in straight.stderr
    reported = float(re.findall(r'Epoch\[5\] Validation-accuracy=([\d.]+)', straight.stderr)[-1])
    assert reported >= 0.8, straight.stderr[-3000:]  # 4 classes: chance is 0.25
    model, trained = _params(tmp_path / 'a-0006.params'), _params(tmp_path / 'a-0006.training.params')
    assert set(model) == set(trained)
    assert not np.allclose(model['arg:fc_weight'], trained['arg:fc_weight'])
    assert json.loads((tmp_path / 'a-model.json').read_text())['tta'] == 'flip'

    first = _train(tmp_path, 'b', '--num-epochs', '3')
    assert first.returncode == 0, first.stderr[-2000:]
    resumed = _train(tmp_path, 'b', '--num-epochs', '6', '--resume')
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert 'training goes on from the trained weights' in resumed.stderr
    assert 'resumed from the checkpoint, step 36' in resumed.stderr
    for name in ('b-0006.params', 'b-0006.training.params'):
        theirs = _params(tmp_path / name)
        ours = model if name.endswith('6.params') else trained
        for k in ours:
            np.testing.assert_allclose(theirs[k], ours[k], rtol=1e-5, atol=1e-6,
                                       err_msg='%s %s' % (name, k))

    score = run_script('score.py', '--model', tmp_path / 'a', '--load-epoch', '6', '--data-val',
                       tmp_path / 'val.rec', '--gpus=', '--json')
    assert score.returncode == 0, score.stderr[-2000:]
    result = json.loads(score.stdout.strip().splitlines()[-1])
    assert result['tta'] == 'flip' and abs(result['accuracy'] - reported) < 1e-4
    plain = run_script('score.py', '--model', tmp_path / 'a', '--load-epoch', '6', '--data-val',
                       tmp_path / 'val.rec', '--gpus=', '--json', '--tta', 'none')
    assert plain.returncode == 0 and '--tta none differs' in plain.stderr
    assert json.loads(plain.stdout.strip().splitlines()[-1])['tta'] == 'none'

    # tools/predict.py reads a grey model's images in grey and averages them with mirrors
    rng = np.random.RandomState(9)
    paths = []
    for label in range(4):
        paths.append(str(tmp_path / ('img%d.png' % label)))
        cv2.imwrite(paths[-1], class_image(label, 16, rng))
    proc = run_script('tools/predict.py', *paths, '--model', tmp_path / 'a', '--load-epoch', '6',
                      '--gpus=', '--json')
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in proc.stdout.strip().splitlines()]
    assert sum(r['top'][0]['name'] == name for r, name in
               zip(rows, ['red', 'green', 'blue', 'yellow'])) >= 3
    sym, arg, aux, _ = checkpoint.load_model(str(tmp_path / 'a'), 6, (1, 16, 16))
    mod = bind_for_inference(sym, arg, aux, 1, (1, 16, 16), [mx.cpu()])
    for path, row in zip(paths, rows):
        grey = cv2.imread(path, cv2.IMREAD_GRAYSCALE).astype(np.float32)
        x = ((grey - 120) / 60)[None, None]
        probs = [evaluate.predict(mod, mx.io.DataBatch([mx.nd.array(v)], [mx.nd.zeros(1)]))[0]
                 .asnumpy()[0] for v in (x, x[..., ::-1].copy())]
        want = (probs[0] + probs[1]) / 2
        for entry in row['top']:
            assert entry['probability'] == pytest.approx(want[entry['label']], abs=1e-5)


def test_tta_flip_averages_each_image_with_its_mirror(trained):
    folder, _ = trained
    sym, arg, aux, _ = checkpoint.load_model(str(folder / 'm'), 2, (3, 16, 16))
    mod = bind_for_inference(sym, arg, aux, 8, (3, 16, 16), [mx.cpu()])
    x = np.random.RandomState(0).normal(size=(8, 3, 16, 16)).astype(np.float32)

    def probs(v, tta='none'):
        batch = mx.io.DataBatch([mx.nd.array(v)], [mx.nd.zeros(8)])
        return evaluate.predict(mod, batch, tta)[0].asnumpy()
    both = probs(x, 'flip')
    np.testing.assert_allclose(both, (probs(x) + probs(x[..., ::-1].copy())) / 2, atol=1e-6)
    assert not np.allclose(both, probs(x), atol=1e-4)  # the mirror changes the answer
    assert np.allclose(both.sum(1), 1, atol=1e-5)


def test_a_model_shipped_in_models_is_found_by_name(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, 'MODELS_DIR', str(tmp_path))
    sym = mx.sym.FullyConnected(mx.sym.Variable('data'), num_hidden=2, name='fc')
    params = {'fc_weight': mx.nd.ones((2, 3)), 'fc_bias': mx.nd.zeros(2)}
    for epoch in (3, 12):
        checkpoint.save_checkpoint(str(tmp_path / 'shirts-igcv3'), epoch, sym, params, {})
    assert checkpoint.find_model('shirts-igcv3', None) == (str(tmp_path / 'shirts-igcv3'), 12)
    assert checkpoint.find_model('shirts-igcv3', 3) == (str(tmp_path / 'shirts-igcv3'), 3)
    assert checkpoint.find_model('igcv3', None) == ('igcv3', 0)  # the released weights
    assert checkpoint.find_model('nothing-here', None) == ('nothing-here', 0)


def test_tta_needs_a_mirrored_model_in_training(tmp_path):
    make_rec(tmp_path / 'train', 64, 4, size=16, seed=0)
    proc = run_script('train_cifar.py', '--data-train', tmp_path / 'train.rec', '--num-classes',
                      '4', '--image-shape', '3,16,16', '--tta', 'flip', '--random-mirror', '0',
                      '--model-prefix', tmp_path / 'm', '--gpus=')
    assert_one_line_error(proc, '--tta flip', '--random-mirror 1')
    assert not list(tmp_path.glob('m-*'))


@pytest.mark.parametrize('flags, needle', [
    (['--rgb-std', '0,0,0'], 'a std of 0 cannot normalize images'),
    (['--rgb-std', '1,-2,1'], 'a std of -2'),
    (['--rgb-mean', 'nan,nan,nan'], 'a mean of nan'),
    (['--rgb-std', 'inf,1,1'], 'a std of inf'),
    (['--seed', '-1'], '--seed must be in 0..2147483647'),
    (['--seed', '99999999999'], '--seed must be in 0..2147483647'),
    (['--num-val-examples', '0'], '--num-val-examples must be positive'),
])
def test_normalization_and_seed_flags_are_checked(flags, needle):
    """A std of 0 or a NaN mean trained to NaN weights with exit 0; a seed out of numpy's
    range ended in a traceback."""
    args = train_cifar.parse_args(flags)
    with pytest.raises(UserError, match=re.escape(needle)):
        training_flags.validate_args(args)


def test_scoring_refuses_bad_normalization_and_counts(trained, tmp_path):
    folder, _ = trained
    common = ['--model', folder / 'm', '--load-epoch', '2', '--gpus=']
    proc = run_script('score.py', *common, '--data-val', folder / 'val.rec', '--rgb-std', '0,0,0')
    assert_one_line_error(proc, '--rgb-mean/--rgb-std', 'a std of 0')
    proc = run_script('score.py', *common, '--data-val', folder / 'val.rec',
                      '--max-num-examples', '-5', '--json')
    assert_one_line_error(proc, '--max-num-examples must be at least 1')
    assert proc.stdout == ''
    # a model info whose mean is not finite: named, not scored at chance
    for name in ('m-symbol.json', 'm-0002.params'):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    info = json.loads((folder / 'm-model.json').read_text())
    (tmp_path / 'm-model.json').write_text(json.dumps(dict(info, mean=[float('nan')] * 3)))
    proc = run_script('tools/predict.py', str(tmp_path / 'img.png'), '--model', tmp_path / 'm',
                      '--load-epoch', '2', '--gpus=')
    assert_one_line_error(proc, 'm-model.json', 'a mean of nan')
    proc = run_script('tools/predict.py', str(tmp_path / 'img.png'), *common, '--top-k', '-1')
    assert_one_line_error(proc, '--top-k must be at least 1')


GOOD_INFO = {'format': checkpoint.MODEL_INFO, 'version': 1, 'image_shape': [3, 32, 32],
             'mean': [128, 128, 128], 'std': [64, 64, 64], 'resize': 0, 'num_classes': 4,
             'classes': ['a', 'b', 'c', 'd']}


@pytest.mark.parametrize('change, needle', [
    ({'mean': [128]}, "'mean' must be a list of 3 numbers, got [128]"),
    ({'mean': ['128', '128', '128']}, "'mean' must be a list of 3 numbers"),
    ({'std': '64,64,64'}, "'std' must be a list of 3 numbers"),
    ({'classes': 7}, "'classes' must be a list of names, got 7"),
    ({'classes': 'abcd'}, "'classes' must be a list of names, got 'abcd'"),
    ({'classes': ['a', 'b', 'c']}, "'classes' names 3 classes, 'num_classes' is 4"),
    ({'image_shape': '3,32,32'}, "'image_shape' must be a list of 3 positive whole numbers"),
    ({'image_shape': [3, 0, 32]}, "'image_shape' must be a list of 3 positive whole numbers"),
    ({'resize': '0'}, "'resize' must be a whole number"),
    ({'resize': None}, "'resize' must be a whole number"),
    ({'tta': 'five-crop'}, "'tta' must be 'none' or 'flip'"),
    ({'resize': -1}, "'resize' must be a whole number, 0 or more"),
    ({'resize': 100000}, "'resize' must be at most 8192"),
    ({'image_shape': [3, 100000, 100000]}, "'image_shape' sides must be at most 8192"),
])
def test_a_model_info_of_wrong_types_is_one_line(tmp_path, change, needle):
    """Values of the wrong type, length or range were tracebacks in score.py, predict.py,
    export and quantize, or (classes 'abcd') taken as four names."""
    (tmp_path / 'm-model.json').write_text(json.dumps(dict(GOOD_INFO, **change)))
    with pytest.raises(UserError, match=re.escape(needle)):
        checkpoint.read_model_info(str(tmp_path / 'm'))
    only = {'format': checkpoint.MODEL_INFO, 'version': 1}
    (tmp_path / 'm-model.json').write_text(json.dumps(only))
    with pytest.raises(UserError, match="it has no 'image_shape'"):
        checkpoint.read_model_info(str(tmp_path / 'm'))
    (tmp_path / 'm-model.json').write_text(json.dumps(GOOD_INFO))
    assert checkpoint.read_model_info(str(tmp_path / 'm'))['classes'] == ['a', 'b', 'c', 'd']


def test_every_tool_refuses_a_model_info_of_wrong_types_in_one_line(trained, tmp_path):
    """The same bad model info through each tool that reads one: one line naming the key
    and the file, non-zero, nothing written."""
    folder, _ = trained
    for name in ('m-symbol.json', 'm-0002.params'):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    info = json.loads((folder / 'm-model.json').read_text())
    (tmp_path / 'm-model.json').write_text(json.dumps(dict(info, classes=7)))
    cv2.imwrite(str(tmp_path / 'img.png'), np.full((16, 16, 3), 200, np.uint8))
    model = ['--model', tmp_path / 'm', '--load-epoch', '2']
    for cmd in (['score.py'] + model + ['--data-val', folder / 'val.rec', '--gpus='],
                ['tools/predict.py', tmp_path / 'img.png'] + model + ['--gpus='],
                ['tools/export_onnx.py'] + model + ['-o', tmp_path / 'out.onnx'],
                ['tools/quantize.py'] + model + ['--calib-data', folder / 'val.rec', '-o',
                                                 tmp_path / 'q'],
                ['fine_tune.py', '--pretrained-model', tmp_path / 'm', '--load-epoch', '2',
                 '--num-classes', '2', '--data-train', folder / 'train.rec', '--gpus=',
                 '--model-prefix', tmp_path / 'ft']):
        proc = run_script(*cmd)
        assert_one_line_error(proc, 'm-model.json', "'classes' must be a list of names, got 7")
    assert sorted(p.name for p in tmp_path.iterdir()) == ['img.png', 'm-0002.params',
                                                          'm-model.json', 'm-symbol.json']


def test_an_output_that_is_its_own_input_is_refused(trained, tmp_path):
    """quantize.py -o PREFIX over the FP32 checkpoint replaced its graph and model info;
    export_onnx.py -o PREFIX-0002.params replaced the weights with the ONNX file."""
    folder, _ = trained
    for name in ('m-symbol.json', 'm-0002.params', 'm-model.json'):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    proc = run_script('tools/quantize.py', '--model', tmp_path / 'm', '--load-epoch', '2',
                      '--calib-data', folder / 'val.rec', '-o', tmp_path / 'm')
    assert_one_line_error(proc, '-o', 'm-symbol.json', 'a file of the checkpoint it reads')
    proc = run_script('tools/export_onnx.py', '--model', tmp_path / 'm', '--load-epoch', '2',
                      '-o', tmp_path / 'm-0002.params')
    assert_one_line_error(proc, 'm-0002.params would overwrite', 'write somewhere else')
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_launch_with_no_worker_is_refused_at_once():
    """-n 0 printed nothing and waited for good."""
    proc = run_script('tools/launch.py', '-n', '0', '-s', '1', '--launcher', 'local', 'python',
                      '-c', 'pass', timeout=60)
    assert_one_line_error(proc, '-n/--num-workers must be at least 1', '-n 0')


def test_nothing_writes_over_the_shipped_model(tmp_path):
    """The released Fashion-MNIST model's prefix is never a run's default, and naming it
    is refused before anything is written."""
    args = train_cifar.parse_args(['--dataset', 'fashion-mnist'])
    assert args.model_prefix == 'models/fashion-mnist-igcv3-run'
    assert train_cifar.parse_args(['--dataset', 'fashion-mnist', '--network', 'mobilenetv2']
                                  ).model_prefix == 'models/fashion-mnist-mobilenetv2'
    with pytest.raises(UserError, match='is the model this repository ships'):
        checkpoint.refuse_shipped(checkpoint.MODELS_DIR + '/fashion-mnist-igcv3')
    checkpoint.refuse_shipped(str(tmp_path / 'fashion-mnist-igcv3'))  # (elsewhere: fine)
    make_rec(tmp_path / 'train', 64, 4, size=16, seed=0)
    shipped = glob.glob(checkpoint.MODELS_DIR + '/fashion-mnist-igcv3*')
    assert len(shipped) == 4  # (graph, weights, model info, log: models/README.md)
    before = {p: pathlib.Path(p).read_bytes() for p in shipped}
    proc = run_script('train_cifar.py', '--data-train', tmp_path / 'train.rec', '--num-classes',
                      '4', '--image-shape', '3,16,16', '--batch-size', '32', '--num-epochs', '1',
                      '--data-val=', '--gpus=', '--model-prefix', 'models/fashion-mnist-igcv3')
    assert_one_line_error(proc, 'is the model this repository ships', 'give another prefix')
    after = glob.glob(checkpoint.MODELS_DIR + '/fashion-mnist-igcv3*')
    assert sorted(after) == sorted(shipped)
    assert {p: pathlib.Path(p).read_bytes() for p in shipped} == before


def test_setup_with_another_python_says_which_it_needs(tmp_path):
    """make setup PYTHON=python3.12 failed deep inside pip (no numpy 1.23.5 wheel)."""
    import subprocess
    import sys as _sys
    fake = tmp_path / 'python3.12'
    fake.write_text('#!/bin/sh\nexec %s -c "import sys; sys.exit(1)"\n' % _sys.executable)
    fake.chmod(0o755)
    proc = subprocess.run(['make', 'setup', 'PYTHON=%s' % fake, 'VENV=%s' % (tmp_path / 'venv')],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert 'is not Python 3.11' in proc.stderr and 'PYTHON=python3.11' in proc.stderr
    assert not (tmp_path / 'venv').exists()


def test_a_model_info_of_another_layout_and_huge_shapes_are_refused(trained, tmp_path):
    """A model info whose image_shape gives another layout than its network_args bound
    silently (the same shape as a flag is refused without --any-shape); --image-shape
    3,100000,100000 --any-shape ended in an allocation traceback."""
    folder, _ = trained
    for name in ('m-0002.params', 'm-symbol.json'):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    info = json.loads((folder / 'm-model.json').read_text())
    assert info['network_args']['layout'] == 'cifar'
    (tmp_path / 'm-model.json').write_text(json.dumps(dict(info, image_shape=[3, 224, 224])))
    proc = run_script('score.py', '--model', tmp_path / 'm', '--data-val', folder / 'val.rec',
                      '--gpus=')
    assert_one_line_error(proc, 'm-model.json: image_shape 3,224,224 gives the imagenet layout',
                          'the cifar layout')
    proc = run_script('score.py', '--model', folder / 'm', '--data-val', folder / 'val.rec',
                      '--gpus=', '--image-shape', '3,100000,100000', '--any-shape')
    assert_one_line_error(proc, '--image-shape 3,100000,100000: a side of at most 8192')
