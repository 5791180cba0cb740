"""tools/benchmark.py: every phase measured, the JSON report, bad input."""
import importlib.util
import json

import pytest

import symbol
from common.complexity import complexity
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


@pytest.mark.parametrize('network', symbol.list_networks())
def test_torch_twin_is_built_from_the_same_record(network):
    """The PyTorch twin of every registered network has the MXNet network's parameters
    (optional: needs torch, requirements-bench.txt)."""
    pytest.importorskip('torch')
    import torch_igcv3
    for shape, classes in (((3, 32, 32), 10), ((3, 224, 224), 1000)):
        ours = complexity(symbol.get_symbol(network, image_shape=shape, num_classes=classes),
                          shape)['params']
        assert torch_igcv3.parameter_count(torch_igcv3.build(network, classes, shape)) == ours


def test_benchmark_takes_a_checkpoints_network_and_input(trained, tmp_path):
    folder, _ = trained
    out = tmp_path / 'b.json'
    proc = run_script('tools/benchmark.py', '--model', folder / 'm', '--phases', 'infer_plain',
                      '--batch-size', '2', '--iterations', '1', '--warmup', '0', '--json', out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert (report['network'], report['image_shape']) == ('igcv3_0.5x', '3,16,16')
    assert report['results']['infer_plain']['images_per_sec'] > 0
    proc = run_script('tools/benchmark.py', '--model', tmp_path / 'none')
    assert proc.returncode != 0 and 'none-model.json' in proc.stderr.splitlines()[-1]
