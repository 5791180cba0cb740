import os
import re
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (ROOT, os.path.join(ROOT, 'tools')):
    if path not in sys.path:
        sys.path.insert(0, path)

from common import runtime  # noqa: E402
runtime.configure()  # before mxnet loads
from datasets import make_rec  # noqa: E402
from helpers import run_script  # noqa: E402

REFERENCE_SYMBOL = os.path.join(ROOT, '..', 'shared', 'reference', 'igcv3-symbol.json')


@pytest.fixture
def reference_symbol_path():
    if not os.path.exists(REFERENCE_SYMBOL):
        pytest.skip('released graph not present at %s' % REFERENCE_SYMBOL)
    return REFERENCE_SYMBOL


# The preprocessing of the checkpoint `trained` makes: 16x16 inputs, no resize.
NORM = ['--image-shape', '3,16,16', '--resize', '0', '--rgb-mean', '128,128,128',
        '--rgb-std', '64,64,64']


@pytest.fixture(scope='session')
def trained(tmp_path_factory):
    """A checkpoint trained by train_cifar.py to at least 90% on held-out images, and the
    validation accuracy it reported."""
    folder = tmp_path_factory.mktemp('trained')
    make_rec(folder / 'train', 1024, 4, size=16, seed=0)
    make_rec(folder / 'val', 100, 4, size=16, seed=5)  # 100: not a multiple of the batch
    (folder / 'classes.txt').write_text('red\ngreen\nblue\nyellow\n')  # found beside train.rec
    proc = run_script('train_cifar.py', '--network', 'igcv3_0.5x', '--data-train', folder / 'train.rec',
                      '--data-val', folder / 'val.rec', '--num-classes', '4', '--num-examples', '1024',
                      '--batch-size', '32', '--num-epochs', '2', '--lr', '0.05', '--lr-scheduler', 'cosine',
                      '--seed', '1', '--pad-size', '2', '--gpus=', '--model-prefix', folder / 'm',
                      *[a for a in NORM if a not in ('--resize', '0')])
    assert proc.returncode == 0, proc.stderr[-2000:]
    reported = float(re.findall(r'Epoch\[1\] Validation-accuracy=([\d.]+)', proc.stderr)[-1])
    # Well above chance (0.25), so the tests that compare accuracies through it (score.py
    # against training, INT8 against FP32, ONNX, fine-tuning) compare a model that learned.
    assert reported >= 0.9, proc.stderr[-2000:]
    return folder, reported


