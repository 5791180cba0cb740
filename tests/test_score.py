"""score.py, tools/predict.py and checkpoint loading."""
import json
import re

import mxnet as mx
import numpy as np
import pytest

from common import scoring
import symbol
from common import checkpoint
from common.inference import bind_for_inference
from datasets import make_rec
from helpers import assert_one_line_error, module_outputs, run_script

from conftest import NORM


def test_score_matches_training_validation_and_counts_each_image_once(trained):
    folder, reported = trained
    proc = run_script('score.py', '--model', folder / 'm', '--load-epoch', '2', '--data-val',
                      folder / 'val.rec', '--batch-size', '32', '--top-k', '2', '--json', *NORM)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result['images'] == 100
    assert result['accuracy'] == pytest.approx(reported, abs=1e-6)
    assert result['accuracy'] * 100 == pytest.approx(round(result['accuracy'] * 100))
    assert re.search(r'Finished with [\d.]+ images per second', proc.stderr)
    assert "('accuracy', " in proc.stderr and "('top_k_accuracy_2', " in proc.stderr
    # The same images in another batching give the same answer.
    proc = run_script('score.py', '--model', folder / 'm', '--load-epoch', '2', '--data-val',
                      folder / 'val.rec', '--batch-size', '7', '--json', *NORM)
    assert json.loads(proc.stdout)['accuracy'] == result['accuracy']
    proc = run_script('score.py', '--model', folder / 'm', '--load-epoch', '2', '--data-val',
                      folder / 'val.rec', '--max-num-examples', '37', '--json', *NORM)
    assert json.loads(proc.stdout)['images'] == 37


# SymbolBlock.imports itself warns while inferring types before it knows the input's.
@pytest.mark.filterwarnings('ignore:Cannot decide type for the following arguments')
def test_symbolblock_imports_give_the_module_outputs(trained):
    folder, _ = trained
    net = mx.gluon.SymbolBlock.imports(str(folder / 'm-symbol.json'), ['data', 'softmax_label'],
                                       str(folder / 'm-0002.params'))
    x = np.random.RandomState(1).uniform(-2, 2, (8, 3, 16, 16)).astype(np.float32)
    gluon_out = net(mx.nd.array(x), mx.nd.zeros(8)).asnumpy()
    sym, arg, aux, _ = checkpoint.load_model(str(folder / 'm'), 2, (3, 16, 16))
    module_out = module_outputs(bind_for_inference(sym, arg, aux, 8, (3, 16, 16), [mx.cpu()], False), x)
    np.testing.assert_allclose(gluon_out, module_out, rtol=1e-5, atol=1e-6)


def test_registered_name_rebuilds_the_graph_from_params_alone(trained, tmp_path, monkeypatch):
    folder, _ = trained
    arg, aux = checkpoint.load_params(str(folder / 'm-0002.params'))
    blob = {'arg:' + k: v for k, v in arg.items()}
    blob.update({'aux:' + k: v for k, v in aux.items()})
    mx.nd.save(str(tmp_path / 'igcv3_0.5x-0000.params'), blob)
    monkeypatch.setattr(checkpoint, 'MODELS_DIR', str(tmp_path))
    result, _ = scoring.score('IGCV3_0.5x', None, str(folder / 'val.rec'),
                              mean=NORM[NORM.index('--rgb-mean') + 1],
                              std=NORM[NORM.index('--rgb-std') + 1])
    direct = run_script('score.py', '--model', folder / 'm', '--load-epoch', '2', '--data-val',
                        folder / 'val.rec', '--json', *NORM)
    assert result['accuracy'] == json.loads(direct.stdout)['accuracy']
    assert result['images'] == 100


def test_predict_uses_score_preprocessing(trained, tmp_path):
    import cv2
    from common.recordio import AtomicRecordWriter
    from datasets import class_image
    folder, _ = trained
    img = cv2.resize(class_image(2, 16, np.random.RandomState(0)), (24, 20))
    cv2.imwrite(str(tmp_path / 'two.png'), img)
    (tmp_path / 'names.txt').write_text('zero\none\ntwo\nthree\n')
    proc = run_script('tools/predict.py', tmp_path / 'two.png', '--model', folder / 'm',
                      '--load-epoch', '2', '--synset', tmp_path / 'names.txt', '--top-k', '3',
                      '--json', '--image-shape', '3,16,16', '--resize', '16',
                      '--rgb-mean', '128,128,128', '--rgb-std', '64,64,64')
    assert proc.returncode == 0, proc.stderr
    top = json.loads(proc.stdout)['top']
    assert len(top) == 3 and [t['name'] for t in top] == [['zero', 'one', 'two', 'three'][t['label']] for t in top]
    # The same image through ImageRecordIter's validation path (what score.py reads).
    with AtomicRecordWriter(str(tmp_path / 'one')) as w:
        w.write(0, 2.0, cv2.imencode('.png', img)[1].tobytes())
    it = mx.io.ImageRecordIter(path_imgrec=str(tmp_path / 'one.rec'), data_shape=(3, 16, 16),
                               batch_size=1, resize=16, mean_r=128, mean_g=128, mean_b=128,
                               std_r=64, std_g=64, std_b=64)
    sym, arg, aux, _ = checkpoint.load_model(str(folder / 'm'), 2, (3, 16, 16))
    mod = bind_for_inference(sym, arg, aux, 1, (3, 16, 16), [mx.cpu()])
    probs = module_outputs(mod, next(iter(it)).data[0].asnumpy())[0]
    for t in top:
        assert t['probability'] == pytest.approx(float(probs[t['label']]), abs=2e-3)


def test_missing_released_weights_point_to_models_readme(tmp_path):
    make_rec(tmp_path / 'v', 4, 2, size=16)
    proc = run_script('score.py', '--model', 'igcv3', '--data-val', tmp_path / 'v.rec')
    assert_one_line_error(proc, 'igcv3-0000.params', 'models/README.md')


def test_checkpoint_of_another_network_lists_the_differences(trained, tmp_path):
    folder, _ = trained
    sym = symbol.get_symbol('mobilenetv2', image_shape='3,16,16', num_classes=4)
    sym.save(str(tmp_path / 'other-symbol.json'))
    import shutil
    shutil.copy(folder / 'm-0002.params', tmp_path / 'other-0002.params')
    proc = run_script('score.py', '--model', tmp_path / 'other', '--load-epoch', '2',
                      '--data-val', folder / 'val.rec', *NORM)
    assert_one_line_error(proc, 'does not match the graph', 'wrong shape')
    proc = run_script('score.py', '--model', folder / 'm', '--load-epoch', '7',
                      '--data-val', folder / 'val.rec', *NORM)
    assert_one_line_error(proc, 'm-0007.params: no such checkpoint')


def test_tools_default_to_the_model_info_training_wrote(trained, tmp_path):
    """score.py with no preprocessing flag reproduces training's validation accuracy, from
    PREFIX-model.json; predict.py names the classes found beside the training data."""
    folder, reported = trained
    info = json.loads((folder / 'm-model.json').read_text())
    assert info['image_shape'] == [3, 16, 16] and info['resize'] == 0
    assert info['mean'] == [128, 128, 128] and info['std'] == [64, 64, 64]
    assert info['classes'] == ['red', 'green', 'blue', 'yellow']
    assert info['network'] == 'igcv3_0.5x' and info['network_args']['layout'] == 'cifar'
    proc = run_script('score.py', '--model', folder / 'm', '--load-epoch', '2', '--data-val',
                      folder / 'val.rec', '--json')
    assert proc.returncode == 0, proc.stderr[-2000:]
    default = json.loads(proc.stdout)
    assert default['accuracy'] == pytest.approx(reported, abs=1e-6)
    assert 'm-model.json' in proc.stderr and 'differs' not in proc.stderr
    assert 'std 64,64,64, tta none: ' in proc.stderr
    # An explicit flag wins, and a contradiction is said.
    proc = run_script('score.py', '--model', folder / 'm', '--load-epoch', '2', '--data-val',
                      folder / 'val.rec', '--rgb-std', '1,1,1', '--json')
    assert proc.returncode == 0 and '--rgb-std 1,1,1 differs' in proc.stderr
    # (The preprocessing that the iterator gets is the one logged: the default run above
    # reproduces training's accuracy with the model info's std 64.)
    assert 'std 1,1,1, tta none: ' in proc.stderr
    # A CIFAR-layout model at 224 is refused unless asked.
    proc = run_script('score.py', '--model', folder / 'm', '--load-epoch', '2', '--data-val',
                      folder / 'val.rec', '--image-shape', '3,224,224')
    assert_one_line_error(proc, 'imagenet layout', 'cifar layout', '--any-shape')
    import cv2
    from datasets import class_image
    cv2.imwrite(str(tmp_path / 'c.png'), class_image(2, 16, np.random.RandomState(3)))
    proc = run_script('tools/predict.py', tmp_path / 'c.png', '--model', folder / 'm',
                      '--load-epoch', '2', '--json', '--gpus=')
    assert proc.returncode == 0, proc.stderr[-2000:]
    top = json.loads(proc.stdout)['top']
    assert [t['name'] for t in top] == [['red', 'green', 'blue', 'yellow'][t['label']]
                                        for t in top]


def test_per_class_accuracy_adds_up_to_the_overall(trained):
    folder, _ = trained
    proc = run_script('score.py', '--model', folder / 'm', '--load-epoch', '2', '--data-val',
                      folder / 'val.rec', '--batch-size', '32', '--top-k', '2', '--per-class',
                      '--json')
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    rows = result['per_class']
    # The model info's class names, in label order; the 100 images are labels 0..3 in turn.
    assert [(r['label'], r['name']) for r in rows] == list(enumerate(['red', 'green', 'blue',
                                                                        'yellow']))
    assert [r['images'] for r in rows] == [25, 25, 25, 25]
    assert sum(r['images'] for r in rows) == result['images'] == 100
    # The overall top-1 and top-2 are the per-class ones weighted by the classes' images.
    assert sum(r['correct'] for r in rows) / 100 == pytest.approx(result['accuracy'], abs=1e-12)
    assert sum(r['accuracy'] * r['images'] for r in rows) / 100 == pytest.approx(
        result['accuracy'], abs=1e-12)
    assert sum(r['top_k_correct_2'] for r in rows) / 100 == pytest.approx(
        result['top_k_accuracy_2'], abs=1e-12)
    for r in rows:
        assert r['accuracy'] == r['correct'] / r['images'] <= r['top_k_accuracy_2']
    assert result['mean_class_accuracy'] == pytest.approx(
        sum(r['accuracy'] for r in rows) / 4, abs=1e-12)
    # A class without images (the first 3 images: labels 0, 1, 2) has no accuracy; the
    # default --top-k 5 is not below 4 classes, so no top-k; the table goes to stdout.
    proc = run_script('score.py', '--model', folder / 'm', '--load-epoch', '2', '--data-val',
                      folder / 'val.rec', '--max-num-examples', '3', '--per-class')
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ['label', 'name', 'images', 'top-1']
    assert [l.split()[:3] for l in lines[1:5]] == [['0', 'red', '1'], ['1', 'green', '1'],
                                                   ['2', 'blue', '1'], ['3', 'yellow', '0']]
    assert lines[4].split()[3] == '-'
    assert lines[5].split()[:3] == ['all', 'images', '3']
    assert lines[6].split()[:2] == ['class', 'mean'] and len(lines) == 7


def test_no_fuse_scores_as_the_fused_graph(trained):
    """--no-fuse binds the checkpoint's graph as it is (no inference form, no oneDNN
    fusion): the same images, the same top-1."""
    folder, reported = trained
    results = []
    for extra in ([], ['--no-fuse']):
        proc = run_script('score.py', '--model', folder / 'm', '--data-val', folder / 'val.rec',
                          '--gpus=', '--json', *extra)
        assert proc.returncode == 0, proc.stderr[-2000:]
        results.append(json.loads(proc.stdout)['accuracy'])
    assert results[0] == results[1] == pytest.approx(reported, abs=1e-6)


@pytest.mark.parametrize('damage', ['missing', 'not json', 'not a graph'])
def test_a_missing_or_corrupt_symbol_file_is_one_line(trained, tmp_path, damage):
    folder, _ = trained
    for name in ('m-0002.params', 'm-model.json', 'm-symbol.json'):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    symbol_file = tmp_path / 'm-symbol.json'
    if damage == 'missing':
        symbol_file.unlink()
    else:
        symbol_file.write_text('{"nodes": [' if damage == 'not json' else '{"nodes": 7}')
    import cv2
    cv2.imwrite(str(tmp_path / 'red.png'), np.full((16, 16, 3), (0, 0, 255), np.uint8))
    for tool in (['score.py', '--data-val', folder / 'val.rec'],
                 ['tools/predict.py', tmp_path / 'red.png']):
        proc = run_script(tool[0], '--model', tmp_path / 'm', '--gpus=', *tool[1:])
        assert_one_line_error(proc, 'm-symbol.json')


def test_predict_refuses_an_image_too_large_before_decoding_it(trained, tmp_path):
    """A 1 x 20,000 PNG is a few hundred bytes; --resize 480 of its short side would make
    it 9.6 million x 480 pixels: refused from its header, as tools/im2rec.py refuses it;
    a missing file is one line too."""
    import cv2
    folder, _ = trained
    cv2.imwrite(str(tmp_path / 'strip.png'), np.zeros((1, 20000, 3), np.uint8))
    assert (tmp_path / 'strip.png').stat().st_size < 2000
    proc = run_script('tools/predict.py', tmp_path / 'strip.png', '--model', folder / 'm',
                      '--resize', '480', '--gpus=')
    assert_one_line_error(proc, 'strip.png resized would be 9600000 x 480 pixels',
                          '--max-image-pixels')
    proc = run_script('tools/predict.py', tmp_path / 'strip.png', '--model', folder / 'm',
                      '--max-image-pixels', '10000', '--gpus=')
    assert_one_line_error(proc, 'strip.png is 20000 x 1 pixels')
    proc = run_script('tools/predict.py', tmp_path / 'none.png', '--model', folder / 'm', '--gpus=')
    assert_one_line_error(proc, 'none.png: cannot read it')


def test_a_batch_larger_than_the_images_scores_them_once(trained):
    """--batch-size 100000 on 100 images allocated for 100,000 (at 224x224, 60 GB): the
    batch is at most the images scored, each counted once."""
    folder, reported = trained
    proc = run_script('score.py', '--model', folder / 'm', '--data-val', folder / 'val.rec',
                      '--gpus=', '--json', '--batch-size', '100000')
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result['images'] == 100 and result['accuracy'] == pytest.approx(reported, abs=1e-6)


def test_loading_logs_the_checkpoints_sha256(trained):
    """So that a downloaded copy can be compared with another (models/README.md)."""
    import hashlib
    folder, _ = trained
    proc = run_script('score.py', '--model', folder / 'm', '--data-val', folder / 'val.rec',
                      '--gpus=', '--max-num-examples', '10')
    assert proc.returncode == 0, proc.stderr[-2000:]
    digest = hashlib.sha256((folder / 'm-0002.params').read_bytes()).hexdigest()
    assert 'm-0002.params (SHA-256 %s)' % digest in proc.stderr
