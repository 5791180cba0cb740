"""tools/benchmark.py: every phase measured, the JSON report, bad input."""
import importlib.util
import json

from helpers import run_script


def test_benchmark_tool_measures_every_phase(tmp_path):
    out = tmp_path / 'bench.json'
    proc = run_script('tools/benchmark.py', '--network', 'igcv3_0.5x', '--image-shape', '3,16,16',
                      '--num-classes', '4', '--batch-size', '4', '--iterations', '1',
                      '--warmup', '0', '--data-images', '16', '--compare-torch',
                      '--json', out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    results = report['results']
    for phase, key in (('train', 'train_images_per_sec'), ('train_exact', 'train_images_per_sec'),
                       ('infer_fused', 'images_per_sec'), ('infer_fused', 'latency_ms'),
                       ('infer_plain', 'images_per_sec'), ('data', 'data_images_per_sec')):
        assert results[phase][key] > 0, (phase, results[phase])
    assert results['train']['peak_mb'] > 0
    assert results['train']['dnnl_max_cpu_isa'] == 'AVX2'
    assert results['train']['training_form'] == 'fused' and \
        results['train_exact']['training_form'] == 'released'
    assert 'training images/s' in proc.stdout
    if importlib.util.find_spec('torch'):
        assert results['torch_train']['train_images_per_sec'] > 0
        assert 'training speed, ours / PyTorch' in proc.stdout
    else:
        assert 'torch is not installed' in results['torch_train']['skipped']
        assert 'PyTorch comparison skipped' in proc.stdout


def test_benchmark_rejects_an_unknown_phase():
    proc = run_script('tools/benchmark.py', '--phases', 'train,warp')
    assert proc.returncode != 0
    assert 'unknown --phases warp' in proc.stderr.strip().splitlines()[-1]
