"""The model this repository releases (models/fashion-mnist-igcv3): its files are those
models/README.md lists (SHA-256, parameters, every epoch's figures: the card that
tools/model_card.py prints from them), it classifies the shipped example images as
labelled, and score.py with no flags gives the README's top-1 to the image: on the full
test set when Debian's dataset-fashion-mnist is installed (make fashion-mnist), else on
the committed sample of test images."""
import glob
import json
import os
import re

import pytest

from helpers import ROOT, run_script

PREFIX = os.path.join(ROOT, 'models', 'fashion-mnist-igcv3')
README = os.path.join(ROOT, 'models', 'README.md')
SAMPLE = os.path.join(ROOT, 'tests', 'data', 'fashion-mnist-test-sample.rec')
DEBIAN_DIR = '/usr/share/datasets/fashion-mnist'


def _epoch():
    found = glob.glob(PREFIX + '-[0-9][0-9][0-9][0-9].params')
    assert len(found) == 1, 'one epoch of weights is released, found %s' % found
    return int(found[0][-11:-7])


def _readme():
    with open(README) as f:
        return f.read()


def _figure(pattern):
    """(correct, images) the README states with ``pattern``."""
    m = re.search(pattern, _readme())
    assert m, 'models/README.md states no figure matching %r' % pattern
    return int(m.group(1).replace(',', '')), int(m.group(2).replace(',', ''))


def test_the_files_are_those_the_readme_lists():
    from common import model_card
    assert model_card.markdown(model_card.card(PREFIX, _epoch())) in _readme()
    assert not glob.glob(PREFIX + '-*.states')  # (the optimizer state is not released)


def test_it_classifies_the_shipped_examples_as_labelled():
    with open(PREFIX + '-model.json') as f:
        names = json.load(f)['classes']
    images = sorted(glob.glob(os.path.join(ROOT, 'examples', 'fashion-mnist', '*.png')))
    assert len(images) == 10
    proc = run_script('tools/predict.py', *images, '--model', 'fashion-mnist-igcv3', '--json',
                      '--top-k', '1', '--gpus=')
    assert proc.returncode == 0, proc.stderr
    for line, image in zip(proc.stdout.splitlines(), images):
        label = int(os.path.basename(image)[:2])
        assert json.loads(line)['top'][0]['name'] == names[label], image


def _score(rec):
    proc = run_script('score.py', '--model', 'fashion-mnist-igcv3', '--data-val', rec,
                      '--gpus=', '--json')
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return round(result['accuracy'] * result['images']), result['images']


@pytest.mark.skipif(not os.path.isdir(DEBIAN_DIR),
                    reason="Debian's dataset-fashion-mnist is not installed (make fashion-mnist)")
def test_score_gives_the_readme_top1_on_the_full_test_set(tmp_path):
    convert = run_script('tools/mnist_to_rec.py', DEBIAN_DIR, tmp_path)
    assert convert.returncode == 0, convert.stderr
    assert _score(tmp_path / 'val.rec') == _figure(r'\(([\d,]+) of ([\d,]+) test images\)')


def test_score_gives_the_readme_top1_on_the_committed_sample():
    assert _score(SAMPLE) == _figure(r'\(([\d,]+) of the ([\d,]+) sample images\)')
