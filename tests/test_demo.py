"""`make demo` in miniature: the same script on 200 digits, one epoch, a smaller IGCV3."""
import json
import os

from helpers import run_script


def test_demo_pipeline_in_miniature(tmp_path):
    proc = run_script('tools/demo.py', '--epochs', '1', '--limit', '200', '--network', 'igcv3_0.5x',
                      '--data-dir', tmp_path / 'data', '--model-prefix', tmp_path / 'models' / 'd',
                      timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for step in ('listing', 'packing', 'training', 'scoring', 'plotting'):
        assert '=== %s' % step in proc.stderr
    assert 'Demo finished' in proc.stdout and 'validation top-1' in proc.stdout
    summary = json.loads((tmp_path / 'models' / 'd-summary.json').read_text())
    assert summary['train_images'] == 160 and summary['val_images'] == 40
    assert summary['validation_images'] == 40
    assert 0 <= summary['validation_top1'] <= 1 and summary['train_images_per_sec'] > 0
    assert os.path.exists(tmp_path / 'models' / 'd-0001.params')
    assert (tmp_path / 'models' / 'd-curves.png').read_bytes()[:4] == b'\x89PNG'
    digits = sorted(os.listdir(tmp_path / 'data' / 'images'))
    assert digits == [str(d) for d in range(10)]
