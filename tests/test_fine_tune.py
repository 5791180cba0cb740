"""fine_tune.py: a trained checkpoint fine-tuned to another class count, keeping every
pretrained weight; frozen stages and learning-rate multipliers; refusals."""
import json

import mxnet as mx
import numpy as np
import pytest

from datasets import make_rec
from helpers import assert_one_line_error, run_script


@pytest.fixture(scope='module')
def target(tmp_path_factory):
    folder = tmp_path_factory.mktemp('target')
    make_rec(folder / 'train', 64, 2, size=16, seed=9)
    return folder


def _load(path):
    return {k: v.asnumpy() for k, v in mx.nd.load(str(path)).items()}


def tune(trained, target, prefix, *extra):
    folder, _ = trained
    return run_script('fine_tune.py', '--pretrained-model', folder / 'm', '--load-epoch', '2',
                      '--num-classes', '2', '--data-train', target / 'train.rec', '--data-val=',
                      '--num-epochs', '1', '--batch-size', '16', '--lr', '0.05', '--gpus=',
                      '--data-nthreads', '1', '--seed', '0', '--model-prefix', prefix, *extra)


def test_fine_tuning_keeps_the_pretrained_weights_and_replaces_the_classifier(trained, target,
                                                                              tmp_path):
    folder, _ = trained
    before = _load(folder / 'm-0002.params')
    proc = tune(trained, target, tmp_path / 'f', '--freeze-stages', '2')
    assert proc.returncode == 0, proc.stderr[-2000:]
    after = _load(tmp_path / 'f-0001.params')
    assert after['arg:fc_weight'].shape == (2,) + before['arg:fc_weight'].shape[1:]
    assert set(after) == set(before)
    for name in before:
        if name.startswith(('arg:first-3x3-conv-', 'arg:seq-0-', 'arg:seq-1-')):
            np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    assert not np.array_equal(after['arg:seq-3-block0-linear-conv2d_weight'],
                              before['arg:seq-3-block0-linear-conv2d_weight'])
    info = json.loads((tmp_path / 'f-model.json').read_text())
    assert info['num_classes'] == 2 and info['image_shape'] == [3, 16, 16]
    assert info['mean'] == [128, 128, 128] and info['std'] == [64, 64, 64]  # the pretrained's
    assert 'dropped fc_bias, fc_weight' in proc.stderr
    # Resumed, the optimizer state (none for the frozen layers) fits.
    proc = tune(trained, target, tmp_path / 'f', '--freeze-stages', '2', '--num-epochs', '2',
                '--resume')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'Loaded optimizer state' in proc.stderr and (tmp_path / 'f-0002.params').exists()


def test_zero_learning_rate_for_the_pretrained_layers_trains_only_the_classifier(
        trained, target, tmp_path):
    folder, _ = trained
    before = _load(folder / 'm-0002.params')
    proc = tune(trained, target, tmp_path / 'z', '--lr-mult-pretrained', '0')
    assert proc.returncode == 0, proc.stderr[-2000:]
    after = _load(tmp_path / 'z-0001.params')
    for name in before:
        if name.startswith('arg:') and not name.startswith('arg:fc_'):
            np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    # The classifier trained from its initialization: not all equal to a fresh one.
    assert np.abs(after['arg:fc_bias']).max() > 0
    # The checkpoint's graph does not keep the multiplier.
    assert '__lr_mult__' not in (tmp_path / 'z-symbol.json').read_text()


def test_a_checkpoint_of_another_network_is_refused(trained, target, tmp_path):
    proc = tune(trained, target, tmp_path / 'x', '--network', 'mobilenetv2')
    assert_one_line_error(proc, 'does not fit --network mobilenetv2', 'does not match the graph')
    proc = tune(trained, target, tmp_path / 'y', '--layer-before-fullc', 'nope')
    assert_one_line_error(proc, '--layer-before-fullc nope: no such layer')
    proc = tune(trained, target, tmp_path / 'w', '--load-epoch', '9')
    assert_one_line_error(proc, 'm-0009.params not found')
    assert not list(tmp_path.glob('*.params'))


def test_a_classifier_on_an_inner_layer_trains_the_released_ops(trained, target, tmp_path):
    """Inner nodes of the CPU training forms may hold other values (a BatchNorm before
    ReLU6, padded channels): a classifier cut there trains the released ops, so the saved
    graph and its classifier fit (here the 24-channel stage, padded to 32 in the padded
    form)."""
    proc = tune(trained, target, tmp_path / 'i', '--layer-before-fullc', 'seq-1-block1-shortcut')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'training the released ops' in proc.stderr
    sym = mx.sym.load(str(tmp_path / 'i-symbol.json'))
    shapes = dict(zip(sym.list_arguments(), sym.infer_shape(data=(1, 3, 16, 16))[0]))
    saved = _load(tmp_path / 'i-0001.params')
    assert saved['arg:fc_weight'].shape == shapes['fc_weight'] == (2, 24 * 16 * 16)


def test_a_fine_tuned_model_scores_well_with_no_flags(trained, tmp_path):
    """Fine-tuning then scoring, as a user does: fine_tune.py onto two new classes, then
    score.py with no preprocessing flag (the fine-tuned model's info) on held-out images
    of those classes, well above chance (50%)."""
    make_rec(tmp_path / 'train', 128, 2, size=16, seed=11)
    make_rec(tmp_path / 'held', 100, 2, size=16, seed=12)
    folder, _ = trained
    proc = run_script('fine_tune.py', '--pretrained-model', folder / 'm', '--load-epoch', '2',
                      '--num-classes', '2', '--data-train', tmp_path / 'train.rec',
                      '--data-val=', '--num-epochs', '2', '--batch-size', '16', '--lr', '0.05',
                      '--gpus=', '--seed', '0', '--model-prefix', tmp_path / 'f')
    assert proc.returncode == 0, proc.stderr[-2000:]
    scored = run_script('score.py', '--model', tmp_path / 'f', '--data-val',
                        tmp_path / 'held.rec', '--gpus=', '--json')
    assert scored.returncode == 0, scored.stderr[-2000:]
    result = json.loads(scored.stdout)
    assert result['images'] == 100 and result['accuracy'] >= 0.9, result


@pytest.mark.parametrize('change,needle', [
    ({'drop': '--num-classes'}, '--num-classes is required'),
    ({'add': ['--layer-before-fullc', 'fc']}, 'is the classifier itself'),
    ({'add': ['--lr-mult-pretrained', 'inf']}, '--lr-mult-pretrained must be a finite'),
    ({'add': ['--freeze-stages', '99']}, 'the network has 7 stages'),
])
def test_bad_fine_tuning_flags_are_one_line(trained, target, tmp_path, change, needle):
    folder, _ = trained
    cmd = ['fine_tune.py', '--pretrained-model', folder / 'm', '--load-epoch', '2',
           '--num-classes', '2', '--data-train', target / 'train.rec', '--data-val=',
           '--num-epochs', '1', '--gpus=', '--model-prefix', tmp_path / 'f']
    if 'drop' in change:
        i = cmd.index(change['drop'])
        del cmd[i:i + 2]
    proc = run_script(*(cmd + change.get('add', [])))
    assert_one_line_error(proc, needle)
    assert not list(tmp_path.glob('f-*'))


def test_help_shows_the_pretrained_models_defaults(trained, capsys):
    """--help with --pretrained-model shows the input shape, mean and std this run takes
    from the checkpoint's model info, not ImageNet's."""
    import fine_tune
    folder, _ = trained
    info = json.loads((folder / 'm-model.json').read_text())
    with pytest.raises(SystemExit) as stop:
        fine_tune.parse_args(['--pretrained-model', str(folder / 'm'), '--load-epoch', '2',
                              '--help'])
    assert stop.value.code == 0
    shown = ' '.join(capsys.readouterr().out.split())
    assert '(default: %s)' % ','.join(map(str, info['image_shape'])) in shown
    assert '(default: %s)' % ','.join('%g' % v for v in info['mean']) in shown
    assert '(default: %s)' % ','.join('%g' % v for v in info['std']) in shown
    assert '123.68' not in shown
