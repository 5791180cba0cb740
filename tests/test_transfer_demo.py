"""tools/transfer_demo.py end to end in miniature: pretraining on Fashion-MNIST-shaped
records the test writes, fine-tuning and training from scratch on scikit-learn's digits,
both scored by score.py, the table and the summary."""
import json

import pytest

from datasets import make_rec
from helpers import run_script


@pytest.mark.slow
def test_transfer_demo_runs_every_step_and_writes_its_summary(tmp_path):
    fashion = tmp_path / 'fashion'
    fashion.mkdir()
    make_rec(fashion / 'train', 128, 10, size=28, seed=0)  # (read as 1x28x28 grey)
    proc = run_script('tools/transfer_demo.py', '--network', 'igcv3_0.5x',
                      '--pretrain-examples', '128', '--pretrain-epochs', '1',
                      '--train-digits', '200', '--epochs', '2', '--fashion-dir', fashion,
                      '--digits-dir', tmp_path / 'digits', '--out', tmp_path / 't', timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / 't-summary.json').read_text())
    results = summary['results']
    assert set(results) == {'fine-tuned from Fashion-MNIST', 'from scratch'}
    for name, result in results.items():
        assert result['images'] == 1597, result  # the other digits, each once
        assert 0 <= result['accuracy'] <= 1 and result['train_seconds'] > 0
        assert '%-32s top-1 %.2f%%' % (name, 100 * result['accuracy']) in proc.stdout
    assert summary['target']['train'] == 200 and summary['pretrain']['images'] == 128
    # The pretrained checkpoint fine-tuning started from, and the digits records.
    assert (tmp_path / 't-fashion-0001.params').exists()
    assert (tmp_path / 'digits' / 'val.rec').exists()
