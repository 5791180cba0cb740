"""Checks that can fail: the shared checkpoint learned (>= 90% on held-out images, chance
is 25%), and the comparisons made through it notice a broken model."""
import json

import mxnet as mx
import numpy as np

from helpers import run_script


def _score(prefix, val, *extra):
    proc = run_script('score.py', '--model', prefix, '--load-epoch', '2', '--data-val', val,
                      '--gpus=', '--json', *extra)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])['accuracy']


def test_the_shared_checkpoint_learned_and_a_broken_one_is_seen(trained, tmp_path):
    folder, reported = trained
    assert reported >= 0.9
    assert abs(_score(folder / 'm', folder / 'val.rec') - reported) < 1e-6
    # the classifier's rows rotated by one class: every right answer becomes a wrong one
    params = mx.nd.load(str(folder / 'm-0002.params'))
    for key in ('arg:fc_weight', 'arg:fc_bias'):
        params[key] = mx.nd.array(np.roll(params[key].asnumpy(), 1, axis=0))
    for name in ('m-symbol.json', 'm-model.json'):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    mx.nd.save(str(tmp_path / 'm-0002.params'), params)
    shuffled = _score(tmp_path / 'm', folder / 'val.rec')
    assert shuffled < 0.25 < 0.9 <= reported
    # fed with another preprocessing than it was trained with, it falls below the bar too
    wrong = _score(folder / 'm', folder / 'val.rec', '--rgb-mean', '0,0,0', '--rgb-std', '1,1,1')
    assert wrong < 0.9, wrong
