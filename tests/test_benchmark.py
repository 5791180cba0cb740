"""tools/benchmark.py (over common/speed.py and common/timing.py): every phase measured, the
JSON report, the tables, bad input."""
import importlib.util
import json

import pytest

import symbol
from common.complexity import complexity
from helpers import run_script


@pytest.mark.slow
def test_benchmark_tool_measures_every_phase(tmp_path):
    out = tmp_path / 'bench.json'
    proc = run_script('tools/benchmark.py', '--network', 'igcv3_0.5x', '--image-shape', '3,16,16',
                      '--num-classes', '4', '--batch-size', '4', '--iterations', '1',
                      '--warmup', '0', '--data-images', '16', '--gemm-size', '256',
                      '--fit-images', '8', '--compare-torch',
                      '--json', out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    results = report['results']
    for phase, key in (('train', 'train_images_per_sec'), ('train_exact', 'train_images_per_sec'),
                       ('infer_fused', 'images_per_sec'), ('infer_fused', 'latency_ms'),
                       ('infer_plain', 'images_per_sec'), ('data', 'data_images_per_sec')):
        assert results[phase][key] > 0, (phase, results[phase])
    assert results['train']['peak_mb'] > 0
    # The recipe's own run, 2 epochs of 8 images: on generated records (small enough to be
    # held in memory, and validated on), and on synthetic data.
    for phase in ('fit_records', 'fit_synthetic'):
        assert results[phase]['fit_images_per_sec'] > 0, (phase, results[phase])
    assert results['fit_records']['validation_images_per_sec'] > 0
    assert 'validation_images_per_sec' not in results['fit_synthetic']
    assert results['fit_records']['data_path'].startswith(
        'training data decoded once into memory (8 images'), results['fit_records']
    assert 'synthetic' in results['fit_synthetic']['data_path'], results['fit_synthetic']
    for row in ("training images/s, the recipe's run on records",
                "training images/s, the recipe's run on synthetic data",
                'training on records / on synthetic data'):
        assert row in proc.stdout, row
    from common.runtime import cpu_has_avx512, cpu_has_bf16  # (see test_runtime)
    if cpu_has_bf16():  # --dtype bfloat16 beside float32, the same run and step
        assert results['fit_records_bf16']['fit_images_per_sec'] > 0
        assert results['train_bf16']['training_form'] == 'padded'
        assert "training images/s, the recipe's run on records, --dtype bfloat16" in proc.stdout
    else:
        assert 'bfloat16 (train_bf16) skipped: this CPU has no AVX512_BF16' in proc.stdout
    assert (results['train']['training_form'], results['train']['dnnl_max_cpu_isa']) == \
        (('padded', None) if cpu_has_avx512() else ('fused', 'AVX2'))
    assert results['train_exact']['training_form'] == 'released'
    assert 'training images/s' in proc.stdout
    # The compute ceiling from the GEMM rate measured in the run and the released
    # network's multiply-adds: 6 FLOPs per multiply-add for training.
    gemm = results['gemm']['gemm_gflops']
    assert gemm == max(results['gemm']['gemm_gflops_onednn'], results['gemm']['gemm_gflops_numpy'])
    macs = complexity(symbol.get_symbol('igcv3_0.5x', image_shape=(3, 16, 16), num_classes=4),
                      (3, 16, 16))['macs']
    ceiling = report['ceiling_images_per_sec']['training']
    assert ceiling == pytest.approx(gemm * 1e9 / (6 * macs))
    line = next(l for l in proc.stdout.splitlines() if l.startswith('training, ours / ceiling'))
    assert line.split()[-1] == '%.1f%%' % (100 * results['train']['train_images_per_sec'] / ceiling)
    if importlib.util.find_spec('torch'):
        for phase, config in (('torch_train', 'eager'), ('torch_train_cl', 'channels_last'),
                              ('torch_train_bf16', 'bf16'), ('torch_compile', 'bf16')):
            assert results[phase]['train_images_per_sec'] > 0, phase
            assert results[phase]['config'] == config
        assert results['torch_compile']['compile_seconds'] > 0
        assert 'training speed, ours / torch.compile' in proc.stdout
        assert "training speed, ours / PyTorch's fastest" in proc.stdout
    else:
        for phase in ('torch_train', 'torch_train_cl', 'torch_train_bf16', 'torch_infer',
                      'torch_compile'):
            assert 'torch is not installed' in results[phase]['skipped']
            assert 'PyTorch comparison (%s) skipped' % phase in proc.stdout


def test_benchmark_batch_size_sweep_and_grey_records(tmp_path):
    out = tmp_path / 'sweep.json'
    common = ('--network', 'igcv3_0.5x', '--num-classes', '4', '--iterations', '1',
              '--warmup', '0', '--gemm-size', '128')
    proc = run_script('tools/benchmark.py', *common, '--image-shape', '3,16,16',
                      '--batch-sizes', '2,4', '--json', out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert sorted(report['results']) == ['2', '4']
    for size in ('2', '4'):
        assert report['results'][size]['train']['train_images_per_sec'] > 0
    rows = [l.split() for l in proc.stdout.splitlines()[1:]]
    assert [r[0] for r in rows] == ['2', '4']
    # 28x28 grey records as tools/mnist_to_rec.py packs them, through the Fashion-MNIST
    # recipe's iterator.
    proc = run_script('tools/benchmark.py', *common, '--image-shape', '1,28,28', '--phases',
                      'data', '--batch-size', '8', '--data-images', '32', '--json', out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(out.read_text())['results']['data']['data_images_per_sec'] > 0
    proc = run_script('tools/benchmark.py', '--batch-sizes', '32,x')
    assert proc.returncode != 0 and '--batch-sizes' in proc.stderr.strip().splitlines()[-1]


def test_benchmark_table_names_pytorchs_fastest_training_configuration():
    """The fastest of PyTorch's four training configurations is the maximum images/s of
    those that ran, and the ours / fastest ratio divides by it (no torch needed)."""
    from common import speed
    args = speed.Settings(network='igcv3', num_classes=10, multiplier=1.0, batch_size=8,
                          iterations=5, warmup=2, data_images=512, fit_images=3200, gpus='',
                          dtype='float32', compare_torch=True,
                          torch_compile_config='channels_last', gemm_size=2048)

    def rows(results):
        results = dict({p: {} for p in speed.PHASES}, **results)
        lines = speed.table(results, args).splitlines()
        return {name: line.rsplit('  ', 1)[-1].strip() for line in lines
                for name in ("PyTorch's fastest training configuration",
                             "training speed, ours / PyTorch's fastest",
                             'training speed, ours / PyTorch',
                             'PyTorch training images/s, bf16',
                             'PyTorch peak memory MB (training, channels_last)')
                if line.startswith(name + ' ')}
    speeds = {'train': {'train_images_per_sec': 120.0},
              'torch_train': {'train_images_per_sec': 30.0, 'peak_mb': 900.0},
              'torch_train_cl': {'train_images_per_sec': 40.0, 'peak_mb': 800.0},
              'torch_train_bf16': {'train_images_per_sec': 60.0, 'peak_mb': 700.0},
              'torch_compile': {'train_images_per_sec': 50.0, 'compile_seconds': 70.0}}
    assert rows(speeds) == {"PyTorch's fastest training configuration": 'bf16',
                            "training speed, ours / PyTorch's fastest": '2.00',
                            'training speed, ours / PyTorch': '4.00',
                            'PyTorch training images/s, bf16': '60.0',
                            'PyTorch peak memory MB (training, channels_last)': '800.0'}
    speeds['torch_compile'] = {'train_images_per_sec': 80.0}
    assert speed.fastest_torch_training(speeds, args) == \
        ('torch.compile (channels_last)', 80.0)
    assert rows(speeds)["training speed, ours / PyTorch's fastest"] == '1.50'
    # a configuration that errored or was skipped is not a candidate, and the table says so
    speeds['torch_compile'] = {'error': 'RuntimeError: boom'}
    speeds['torch_train_bf16'] = {'skipped': 'torch is not installed'}
    out = speed.table(dict({p: {} for p in speed.PHASES}, **speeds), args)
    assert rows(speeds)["PyTorch's fastest training configuration"] == 'channels_last'
    assert rows(speeds)['PyTorch training images/s, bf16'] == '-'
    assert 'PyTorch comparison (torch_compile) skipped: RuntimeError: boom' in out
    assert 'PyTorch comparison (torch_train_bf16) skipped: torch is not installed' in out
    assert speed.fastest_torch_training({p: {} for p in speed.PHASES}, args) == \
        (None, None)


def test_benchmark_profile_names_where_the_step_goes(tmp_path):
    out = tmp_path / 'prof.json'
    proc = run_script('tools/benchmark.py', '--network', 'igcv3_0.5x', '--image-shape', '3,16,16',
                      '--num-classes', '4', '--batch-size', '4', '--iterations', '2',
                      '--warmup', '1', '--phases', 'profile', '--json', out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())['results']['profile']
    names = [name for name, _ in result['ops']]
    assert 'Convolution' in names and '_backward_Convolution' in names  # (one type a row)
    assert result['step_ms'] > 0 and 0 < result['operator_ms']
    ms = [v for _, v in result['ops']]
    assert ms == sorted(ms, reverse=True) and ms[0] > 0
    assert 'profile: ' in proc.stdout and '| operator | ms per step |' in proc.stdout


def test_benchmark_rejects_an_unknown_phase():
    proc = run_script('tools/benchmark.py', '--phases', 'train,warp')
    assert proc.returncode != 0
    assert 'unknown --phases warp' in proc.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize('network', symbol.list_networks())
def test_torch_twin_is_built_from_the_same_record(network):
    """The PyTorch twin of every registered network has the MXNet network's parameters
    (optional: needs torch, requirements-bench.txt)."""
    pytest.importorskip('torch')
    from common import torch_igcv3
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


def test_median_of_rounds_takes_each_numbers_median_and_a_failed_round_wins():
    from common.timing import median_of_rounds
    rounds = [{'images_per_sec': 10.0, 'form': 'padded'}, {'images_per_sec': 30.0,
              'form': 'padded'}, {'images_per_sec': 12.0, 'form': 'padded'}]
    assert median_of_rounds(rounds) == {'images_per_sec': 12.0, 'form': 'padded', 'rounds': 3}
    assert median_of_rounds(rounds + [{'error': 'boom'}]) == {'error': 'boom'}
    assert median_of_rounds([]) == {}
