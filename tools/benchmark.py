#!/usr/bin/env python
"""Speed of a registered network: training, inference (fused and not), data pipeline.

    python tools/benchmark.py --network igcv3 --image-shape 3,224,224 --batch-size 32
    python tools/benchmark.py --network igcv3 --image-shape 3,32,32 --num-classes 10 --json out.json
    python tools/benchmark.py --network igcv3 --gpus 0 --dtype float16     # on a GPU machine
    python tools/benchmark.py --model models/digits-igcv3    # a checkpoint's network and input

Each measurement runs in a fresh process (so peak memory is its own), after warm-up
iterations, and reports the median of the timed ones; with --rounds N every measurement
is repeated N times, the phases interleaved, and the medians reported:
- train: images/s of forward + backward + SGD update (the training step of common/fit.py),
  in the form training uses (common.runtime.training_network: on the CPU the CPU training
  form with the oneDNN training kernels), and (train_exact) with the released ops;
- infer: batch-1 latency (ms) and batch-N throughput (images/s), fused (the inference
  form of symbol.inference_form plus MXNet's oneDNN conv+BN+ReLU6 fusion, what score.py
  runs) and not (the released graph as it is);
- data: images/s of the training iterator (ImageRecordIter with the ImageNet recipe's
  augmentations, or the CIFAR recipe's for small inputs) on a generated .rec of JPEGs;
- --compare-torch: the same network in PyTorch, built from the same stage table
  (common/torch_igcv3.py; needs torch, see requirements-bench.txt), trained and run the
  same way; trained eager in three configurations (torch_train: float32 NCHW;
  torch_train_cl: channels_last; torch_train_bf16: bfloat16 autocast, float32
  parameters and optimizer) and under torch.compile (torch_compile: the configuration of
  --torch-compile-config), its compile time (cold: inductor's caches in a fresh folder
  each time) reported apart; the ratios, also to PyTorch's fastest of the four;
- gemm: the dense float32 GEMM rate of this machine in the same run (the faster of
  oneDNN's inner product and numpy's BLAS), which makes the compute ceiling: a training
  image costs 6 x the network's multiply-adds in FLOPs (2 forward, 4 backward), an
  inference image 2 x, and every speed is also printed as a fraction of peak / cost.
  (The ceiling counts the released network's multiply-adds; depthwise convs and
  BatchNorm are memory-bound, so no implementation reaches it.)
- profile, profile_bf16: where the bare step's time goes, by MXNet's profiler: each
  operator's milliseconds per step (forward and backward apart), most costly first.

With --batch-sizes 32,64,128 it measures training (and PyTorch's with --compare-torch)
at each batch size instead. With a 1-channel --image-shape (1,28,28) the data phase packs
28x28 grey PNG records as tools/mnist_to_rec.py does and reads them with the
Fashion-MNIST recipe's augmentations.
"""
import argparse
import json
import logging
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import _path  # noqa: F401
from _path import ROOT
from common import runtime
runtime.configure()  # before mxnet loads

from common.cli import (ArgumentParser, UserError, add_gpus_argument,  # noqa: E402
                        machine_description,
                        median_seconds, run, setup_logging)


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _training_step(args, shape, fast, dtype):
    """(step, form): one training step of the bare loop (forward, backward, SGD update,
    waited for) on a fixed random batch, and the training form it runs in."""
    devices = runtime.get_devices(args.gpus)
    # As common/fit.py: the CPU training form on the CPU (train), or the released ops
    # (train_exact, and both phases on GPUs).
    import mxnet as mx
    import numpy as np
    import symbol
    form, sym = runtime.training_network(
        None if fast else 0, devices,
        lambda f: symbol.get_symbol(args.network, num_classes=args.num_classes,
                                    image_shape=shape, dtype=dtype,
                                    multiplier=args.multiplier, form=f),
        (args.batch_size,) + shape)
    runtime.check_dtype(dtype, devices, form)
    mod = mx.mod.Module(sym, context=devices)
    mod.bind(data_shapes=[('data', (args.batch_size,) + shape)],
             label_shapes=[('softmax_label', (args.batch_size,))])
    mod.init_params(mx.init.Xavier(rnd_type='gaussian', factor_type='in', magnitude=2))
    mod.init_optimizer(optimizer='sgd', optimizer_params={
        'learning_rate': 0.01, 'momentum': 0.9, 'wd': 4e-5,
        'multi_precision': dtype == 'float16'})
    rng = np.random.RandomState(0)
    batch = mx.io.DataBatch([mx.nd.array(rng.uniform(-1, 1, (args.batch_size,) + shape))],
                            [mx.nd.array(rng.randint(0, args.num_classes, args.batch_size))])

    def step():
        mod.forward_backward(batch)
        mod.update()
        mx.nd.waitall()
    return step, form


def phase_train(args, shape, fast, dtype=None):
    step, form = _training_step(args, shape, fast, dtype or args.dtype)
    seconds = median_seconds(step, args.warmup, args.iterations)
    return {'train_images_per_sec': args.batch_size / seconds, 'peak_mb': _peak_mb(),
            'training_form': form.value, 'dnnl_max_cpu_isa': os.environ.get('DNNL_MAX_CPU_ISA')}


def phase_profile(args, shape, dtype=None):
    """Where the bare training step's time goes: MXNet's profiler (operator times,
    aggregated by operator type, each operator run on its own rather than in the
    executor's bulks) over --iterations steps after --warmup; ms per step of each
    operator type (forward and backward apart), the most costly first, and the step's
    wall time (the profiler's own cost included)."""
    import mxnet as mx
    # Operator by operator: the executor otherwise runs (and the profiler times) bulks of
    # operators as one; read when the graph is bound.
    os.environ['MXNET_EXEC_BULK_EXEC_TRAIN'] = '0'
    step, form = _training_step(args, shape, True, dtype or args.dtype)
    for _ in range(args.warmup):
        step()
    mx.profiler.set_config(profile_all=True, aggregate_stats=True,
                           filename=os.path.join(tempfile.mkdtemp(prefix='bench-prof-'),
                                                 'profile.json'))
    mx.profiler.set_state('run')
    tic = time.time()
    for _ in range(args.iterations):
        step()
    seconds = (time.time() - tic) / args.iterations
    mx.profiler.set_state('stop')
    stats = json.loads(mx.profiler.dumps(reset=True, format='json'))['Time']['operator']
    ops = sorted(((name, v['Total'] / args.iterations) for name, v in stats.items()),
                 key=lambda kv: -kv[1])
    return {'step_ms': seconds * 1000, 'profiled_images_per_sec': args.batch_size / seconds,
            'operator_ms': sum(ms for _, ms in ops), 'training_form': form.value,
            'ops': [[name, round(ms, 2)] for name, ms in ops[:15]]}


def phase_infer(args, shape, fused):
    import mxnet as mx
    import numpy as np
    import symbol
    from common.inference import bind_for_inference
    sym = symbol.get_symbol(args.network, num_classes=args.num_classes, image_shape=shape,
                            dtype=args.dtype, multiplier=args.multiplier)
    init = mx.mod.Module(sym, context=mx.cpu())
    init.bind(data_shapes=[('data', (1,) + shape)], label_shapes=[('softmax_label', (1,))],
              for_training=False)
    init.init_params(mx.init.Xavier(rnd_type='gaussian', factor_type='in', magnitude=2))
    arg, aux = init.get_params()
    out = {}
    rng = np.random.RandomState(0)
    for batch_size, key in ((1, 'latency_ms'), (args.batch_size, 'images_per_sec')):
        mod = bind_for_inference(sym, arg, aux, batch_size, shape,
                                 runtime.get_devices(args.gpus), fused)
        batch = mx.io.DataBatch([mx.nd.array(rng.uniform(-1, 1, (batch_size,) + shape))],
                                [mx.nd.zeros(batch_size)])

        def step():
            mod.forward(batch, is_train=False)
            mod.get_outputs()[0].wait_to_read()
        seconds = median_seconds(step, args.warmup, args.iterations)
        out[key] = seconds * 1000 if batch_size == 1 else batch_size / seconds
    out['peak_mb'] = _peak_mb()
    return out


def _write_records(args, shape, path, count):
    """A .rec of ``count`` generated images at ``path`` (+ .idx): grey 28x28 PNGs as
    tools/mnist_to_rec.py packs Fashion-MNIST for a 1-channel shape, JPEGs of the input
    size for small inputs (32x32 as tools/cifar_to_rec.py packs CIFAR), larger JPEGs (480
    high) otherwise."""
    import cv2
    import numpy as np
    from common.recordio import write_image_records
    rng = np.random.RandomState(0)

    def images():
        for _ in range(count):
            if shape[0] == 1:
                yield rng.randint(0, 256, shape[1:]).astype(np.uint8)
            else:
                h, w = shape[1:] if shape[1] <= 64 else (480, int(480 * rng.uniform(1.0, 1.5)))
                yield cv2.resize(rng.randint(0, 256, (h // 8, w // 8, 3)).astype(np.uint8),
                                 (w, h))
    write_image_records(path, images(), [i % args.num_classes for i in range(count)],
                        '.png' if shape[0] == 1 else '.jpg')
    return path + '.rec'


def _recipe_flags(args, shape, rec, count):
    """(recipe's parse function, its flags) training on ``rec`` with the recipe's
    augmentations: train_cifar's (Fashion-MNIST's for 1 channel) for inputs up to 64, else
    train_imagenet's (common/recipes.py)."""
    from common import recipes
    small = shape[1] <= 64
    flags = (['--dataset', 'fashion-mnist'] if shape[0] == 1 and small else []) + [
        '--data-train', rec, '--data-val=', '--batch-size', str(args.batch_size),
        '--num-examples', str(count), '--num-classes', str(args.num_classes),
        '--image-shape', ','.join(map(str, shape)), '--seed', '0']
    return (recipes.parse_small_image_args if small else recipes.parse_imagenet_args), flags


def phase_data(args, shape):
    from common import data
    folder = tempfile.mkdtemp(prefix='bench-data-')
    try:
        rec = _write_records(args, shape, os.path.join(folder, 'd'), args.data_images)
        recipe, flags = _recipe_flags(args, shape, rec, args.data_images)
        targs = recipe(flags + ['--data-nthreads', str(os.cpu_count()),
                                '--data-in-memory', '0'])  # (times ImageRecordIter)
        train, _ = data.get_rec_iter(targs)

        def epoch():
            train.reset()
            for _ in train:
                pass
        seconds = median_seconds(epoch, 1, 3)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {'data_images_per_sec': args.data_images / seconds, 'peak_mb': _peak_mb()}


def phase_fit(args, shape, source, dtype=None):
    """A user's training run: the recipe's entry point (common/fit.py's loop, the recipe's
    data path and augmentations, the per-batch metric and log) for 2 epochs of
    --fit-images images, on generated records (source 'records', validated on them
    too) or on synthetic data (--benchmark 1), in ``dtype`` (default --dtype); the
    second epoch's images/s as its log reports them (common.training_log), so the
    first's warm-up is not counted."""
    from common import fit, train, training_log
    folder = tempfile.mkdtemp(prefix='bench-fit-')
    try:
        count = args.fit_images
        rec = _write_records(args, shape, os.path.join(folder, 'd'), count) \
            if source == 'records' else os.path.join(folder, 'none.rec')
        recipe, flags = _recipe_flags(args, shape, rec, count)
        log = os.path.join(folder, 'train.log')
        flags += ['--num-epochs', '2', '--network', args.network,
                  '--multiplier', str(args.multiplier), '--model-prefix',
                  os.path.join(folder, 'm'), '--log-file', log, '--disp-batches', '1000000',
                  '--dtype', dtype or args.dtype]
        flags += ['--data-val', rec] if source == 'records' else ['--benchmark', '1']
        if args.gpus is not None:  # (else the recipe's default: every visible GPU, else the CPU)
            flags += ['--gpus', args.gpus]
        targs = recipe(flags)
        fit.fit(targs, train.get_network)
        for handler in logging.getLogger().handlers:  # (fit's log file, read whole below)
            handler.flush()
        curves = training_log.parse_log(log)
        out = {'fit_images_per_sec': curves['speed'].get(1), 'peak_mb': _peak_mb()}
        if curves['val_seconds'].get(1):
            out['validation_images_per_sec'] = training_log.training_speed(
                curves['val_images'][1], curves['val_seconds'][1])
        with open(log) as f:  # (the path fit's data loader logged it took)
            out['data_path'] = next((line[line.index('training data '):].strip() for line in f
                                     if 'training data ' in line), 'synthetic (--benchmark 1)')
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out


def phase_bf16(args, measure):
    """A --dtype bfloat16 phase's result, or why it does not run here."""
    if args.dtype != 'float32':
        return {'skipped': 'the bfloat16 phases run beside --dtype float32'}
    if not runtime.cpu_has_bf16():
        return {'skipped': 'this CPU has no AVX512_BF16'}
    return measure()


def phase_gemm(args):
    """GFLOP/s of a dense float32 GEMM of --gemm-size, with this process's threads: the
    faster of oneDNN's inner product (MXNet's FullyConnected) and numpy's BLAS."""
    import mxnet as mx
    import numpy as np
    n = args.gemm_size
    rng = np.random.RandomState(0)
    a, b = (rng.uniform(-1, 1, (n, n)).astype(np.float32) for _ in range(2))
    x, w = mx.nd.array(a), mx.nd.array(b)
    rates = {}
    for name, step in (
            ('onednn', lambda: mx.nd.FullyConnected(x, w, num_hidden=n, no_bias=True).wait_to_read()),
            ('numpy', lambda: a @ b)):
        rates['gemm_gflops_' + name] = 2.0 * n ** 3 / median_seconds(step, 1, 5) / 1e9
    rates['gemm_gflops'] = max(rates.values())
    rates['gemm_size'] = n
    return rates


def phase_torch(args, shape, config=None, compiled=False):
    """PyTorch training in the configuration ``config`` (torch_igcv3.TRAINING_CONFIGS),
    under torch.compile if ``compiled``; inference if ``config`` is None."""
    if compiled:  # a cold compile every time: inductor's caches in a fresh folder
        os.environ['TORCHINDUCTOR_CACHE_DIR'] = tempfile.mkdtemp(prefix='bench-inductor-')
    try:
        import torch
    except ImportError:
        return {'skipped': 'torch is not installed (pip install -r requirements-bench.txt)'}
    from common import torch_igcv3
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS') or os.cpu_count()))
    torch.manual_seed(0)
    model = torch_igcv3.build(args.network.lower(), args.num_classes, shape)
    x = torch.randn((args.batch_size,) + shape)
    y = torch.randint(0, args.num_classes, (args.batch_size,))
    if config:
        step = torch_igcv3.training_step(model, x, y, config, compiled)
        out = {'config': config}
        if compiled:
            tic = time.time()
            step()
            out['first_step_seconds'] = time.time() - tic
        seconds = median_seconds(step, args.warmup, args.iterations)
        if compiled:  # the first step's time beyond a compiled step's
            out['compile_seconds'] = out['first_step_seconds'] - seconds
            shutil.rmtree(os.environ['TORCHINDUCTOR_CACHE_DIR'], ignore_errors=True)
        out.update({'train_images_per_sec': args.batch_size / seconds, 'peak_mb': _peak_mb(),
                    'params': torch_igcv3.parameter_count(model), 'torch': torch.__version__})
        return out
    model.eval()
    out = {}
    with torch.no_grad():
        for batch_size, key in ((1, 'latency_ms'), (args.batch_size, 'images_per_sec')):
            xb = x[:batch_size] if batch_size <= args.batch_size else torch.randn((batch_size,) + shape)
            seconds = median_seconds(lambda: model(xb), args.warmup, args.iterations)
            out[key] = seconds * 1000 if batch_size == 1 else batch_size / seconds
    out['peak_mb'] = _peak_mb()
    return out


PHASES = ('train', 'train_exact', 'fit_records', 'fit_synthetic', 'train_bf16',
          'fit_records_bf16', 'infer_fused', 'infer_plain', 'data', 'gemm', 'torch_train',
          'torch_train_cl', 'torch_train_bf16', 'torch_infer', 'torch_compile', 'profile',
          'profile_bf16')
TORCH_PHASES = ('torch_train', 'torch_train_cl', 'torch_train_bf16', 'torch_infer',
                'torch_compile')
# PyTorch's eager training phases -> their configurations (torch_igcv3.TRAINING_CONFIGS);
# torch_compile compiles the one of --torch-compile-config.
TORCH_TRAINING = {'torch_train': 'eager', 'torch_train_cl': 'channels_last',
                  'torch_train_bf16': 'bf16'}


def run_phase(args, phase, extra=()):
    cmd = [sys.executable, os.path.abspath(__file__), '--phase', phase] + args.passthrough + \
        list(extra)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        return {'error': proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'failed'}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def median_of_rounds(rounds):
    """{metric: median over rounds} of one phase's round results (numbers only)."""
    if not rounds or any('error' in r or 'skipped' in r for r in rounds):
        return next((r for r in rounds if 'error' in r or 'skipped' in r), {})
    keys = [k for k, v in rounds[0].items() if isinstance(v, (int, float))]
    out = {k: statistics.median(r[k] for r in rounds) for k in keys}
    out.update({k: v for k, v in rounds[0].items() if not isinstance(v, (int, float))})
    out['rounds'] = len(rounds)
    return out


def ceilings(args, shape, gemm_gflops):
    """(training, inference) images/s at the GEMM peak: FLOPs per image are 6x and 2x
    the released network's multiply-adds."""
    if not gemm_gflops:
        return None, None
    import symbol
    from common.complexity import complexity
    macs = complexity(symbol.get_symbol(args.network, num_classes=args.num_classes,
                                        image_shape=shape, multiplier=args.multiplier),
                      shape)['macs']
    return gemm_gflops * 1e9 / (6.0 * macs), gemm_gflops * 1e9 / (2.0 * macs)


def _cell(v):
    if v is None:
        return '-'
    if isinstance(v, str):
        return v
    return '%.2f' % v if v < 10 else '%.1f' % v


def _percent(a, b):
    return '%.1f%%' % (100.0 * a / b) if a and b else None


def torch_training_configs(args):
    """{phase: configuration name} of PyTorch's four training phases."""
    return dict(TORCH_TRAINING, torch_compile='torch.compile (%s)' % args.torch_compile_config)


def fastest_torch_training(results, args):
    """(configuration name, images/s) of the fastest of PyTorch's training phases that
    ran; (None, None) if none did."""
    ran = [(results[p].get('train_images_per_sec'), name)
           for p, name in torch_training_configs(args).items()
           if results[p].get('train_images_per_sec')]
    speed, name = max(ran) if ran else (None, None)
    return name, speed


def table(results, args, ceiling=(None, None)):
    def ratio(a, b):
        return a / b if a and b else None
    mx_train, th_train = results['train'].get('train_images_per_sec'), \
        results['torch_train'].get('train_images_per_sec')
    th_compile = results['torch_compile'].get('train_images_per_sec')
    train_ceiling, infer_ceiling = ceiling
    mx_infer, th_infer = results['infer_fused'].get('images_per_sec'), \
        results['torch_infer'].get('images_per_sec')
    fit_records = results['fit_records'].get('fit_images_per_sec')
    fit_synthetic = results['fit_synthetic'].get('fit_images_per_sec')
    fit_bf16 = results['fit_records_bf16'].get('fit_images_per_sec')
    train_bf16 = results['train_bf16'].get('train_images_per_sec')
    rows = [
        ("training images/s, the recipe's run on records (batch %d)" % args.batch_size,
         fit_records),
        ("training images/s, the recipe's run on synthetic data", fit_synthetic),
        ('training on records / on synthetic data', ratio(fit_records, fit_synthetic)),
        ("validation images/s, the recipe's run (fused inference form)",
         results['fit_records'].get('validation_images_per_sec')),
        ('training images/s, bare step (fwd+bwd+update, batch %d)' % args.batch_size,
         results['train'].get('train_images_per_sec')),
        ('training images/s, released grouped-conv ops',
         results['train_exact'].get('train_images_per_sec')),
        ("training images/s, the recipe's run on records, --dtype bfloat16", fit_bf16),
        ('training images/s, bare step, --dtype bfloat16', train_bf16),
        ('bfloat16 / float32, the recipe\'s run on records', ratio(fit_bf16, fit_records)),
        ('inference images/s, fused (batch %d)' % args.batch_size,
         results['infer_fused'].get('images_per_sec')),
        ('inference images/s, not fused (batch %d)' % args.batch_size,
         results['infer_plain'].get('images_per_sec')),
        ('inference latency ms, fused (batch 1)', results['infer_fused'].get('latency_ms')),
        ('inference latency ms, not fused (batch 1)', results['infer_plain'].get('latency_ms')),
        ('data pipeline images/s (training augmentations)',
         results['data'].get('data_images_per_sec')),
        ('peak memory MB (training)', results['train'].get('peak_mb')),
        ('data pipeline / training consumption',
         ratio(results['data'].get('data_images_per_sec'), mx_train)),
    ]
    if args.compare_torch:
        configs = torch_training_configs(args)
        rows += [('PyTorch training images/s, %s' % name, results[p].get('train_images_per_sec'))
                 for p, name in configs.items()]
        rows += [
            ('torch.compile compile time s (apart)',
             results['torch_compile'].get('compile_seconds')),
            ('PyTorch inference images/s (batch %d)' % args.batch_size, th_infer),
            ('PyTorch inference latency ms (batch 1)', results['torch_infer'].get('latency_ms')),
        ]
        rows += [('PyTorch peak memory MB (training, %s)' % name, results[p].get('peak_mb'))
                 for p, name in configs.items()]
        best_name, th_best = fastest_torch_training(results, args)
        rows += [
            ("PyTorch's fastest training configuration", best_name),
            ('training speed, ours / PyTorch', ratio(mx_train, th_train)),
            ('training speed, ours / torch.compile', ratio(mx_train, th_compile)),
            ("training speed, ours / PyTorch's fastest", ratio(mx_train, th_best)),
            ("training speed, the recipe's run on records / PyTorch's fastest",
             ratio(fit_records, th_best)),
            ("training speed, the recipe's run on records in bfloat16 / PyTorch's fastest",
             ratio(fit_bf16, th_best)),
            ("training speed, bare step in bfloat16 / PyTorch's fastest",
             ratio(train_bf16, th_best)),
            ('inference speed, ours (fused) / PyTorch', ratio(mx_infer, th_infer)),
        ]
    if train_ceiling:
        rows += [
            ('dense GEMM peak GFLOP/s (this run)', results['gemm'].get('gemm_gflops')),
            ('compute ceiling, training images/s (peak / 6 MACs)', train_ceiling),
            ('training, ours / ceiling', _percent(mx_train, train_ceiling)),
            ('inference (fused), ours / ceiling (peak / 2 MACs)',
             _percent(mx_infer, infer_ceiling)),
        ]
        if args.compare_torch:
            rows += [('training, PyTorch / ceiling', _percent(th_train, train_ceiling)),
                     ('training, torch.compile / ceiling', _percent(th_compile, train_ceiling)),
                     ("training, PyTorch's fastest / ceiling", _percent(th_best, train_ceiling))]
    width = max(len(r[0]) for r in rows)
    lines = ['%s  %s' % (name.ljust(width), _cell(v)) for name, v in rows]
    for phase in ('train_bf16', 'fit_records_bf16'):
        if results[phase].get('skipped'):
            lines.append('bfloat16 (%s) skipped: %s' % (phase, results[phase]['skipped']))
    if args.compare_torch:
        for phase in TORCH_PHASES:
            problem = results[phase].get('skipped') or results[phase].get('error')
            if problem:
                lines.append('PyTorch comparison (%s) skipped: %s' % (phase, problem))
    return '\n'.join(lines)


def sweep_table(sweep, args, train_ceiling):
    """Training images/s (and PyTorch's) per batch size."""
    lines = ['batch  ours images/s  peak MB' + ('  PyTorch images/s  peak MB  ours / PyTorch'
                                                if args.compare_torch else '')
             + ('  ours / ceiling' if train_ceiling else '')]
    for batch_size, res in sorted(sweep.items()):
        ours, theirs = res['train'], res.get('torch_train', {})
        cells = [str(batch_size).ljust(5), _cell(ours.get('train_images_per_sec')).rjust(13),
                 _cell(ours.get('peak_mb')).rjust(8)]
        if args.compare_torch:
            a, b = ours.get('train_images_per_sec'), theirs.get('train_images_per_sec')
            cells += [_cell(b).rjust(17), _cell(theirs.get('peak_mb')).rjust(8),
                      _cell(a / b if a and b else None).rjust(15)]
        if train_ceiling:
            cells.append(_cell(_percent(ours.get('train_images_per_sec'), train_ceiling)).rjust(15))
        lines.append('  '.join(cells))
    return '\n'.join(lines)


def parse_args(argv=None):
    parser = ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', default='',
                        help="a checkpoint prefix: its model info (PREFIX-model.json) gives "
                             "the defaults of --network, --image-shape, --num-classes and "
                             "--multiplier")
    parser.add_argument('--network', default=None, help='default igcv3')
    parser.add_argument('--image-shape', default=None, help='default 3,224,224')
    parser.add_argument('--num-classes', type=int, default=None, help='default 1000')
    parser.add_argument('--multiplier', type=float, default=None, help='default 1.0')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--iterations', type=int, default=5, help='timed iterations')
    parser.add_argument('--warmup', type=int, default=2, help='untimed iterations first')
    parser.add_argument('--data-images', type=int, default=512, help='images in the data test')
    parser.add_argument('--fit-images', type=int, default=None,
                        help="images per epoch of the fit phases' 2-epoch runs (default 3200 "
                             "up to 64x64 inputs, else 320)")
    add_gpus_argument(parser)
    parser.add_argument('--dtype', default='float32', choices=('float32', 'float16', 'bfloat16'),
                        help="ours' precision in the train and fit phases (the bfloat16 "
                             "phases measure --dtype bfloat16 beside float32)")
    parser.add_argument('--phases', default='fit_records,fit_synthetic,train,train_exact,'
                                            'fit_records_bf16,train_bf16,'
                                            'infer_fused,infer_plain,data,gemm',
                        help='which measurements (torch_train,torch_train_cl,torch_train_bf16,'
                             'torch_infer,torch_compile with --compare-torch; profile and '
                             "profile_bf16: the bare step's operator times from MXNet's "
                             'profiler)')
    parser.add_argument('--compare-torch', action='store_true',
                        help='add the same network in PyTorch (optional torch), interleaved')
    parser.add_argument('--torch-compile-config', default='bf16',
                        choices=tuple(TORCH_TRAINING.values()),
                        help="the PyTorch training configuration torch_compile compiles "
                             "(float32 NCHW, float32 channels_last, or bfloat16 autocast); "
                             "default bf16, PyTorch's recommended mixed precision on CPUs with "
                             "AVX512_BF16; compile the fastest one the eager phases measure")
    parser.add_argument('--rounds', type=int, default=1,
                        help='repeat every measurement this many times, interleaved; medians')
    parser.add_argument('--batch-sizes', default='',
                        help='e.g. 32,64,128: measure training (and PyTorch training with '
                             '--compare-torch) at each batch size instead of the phases')
    parser.add_argument('--gemm-size', type=int, default=2048,
                        help='matrix size of the GEMM peak measurement')
    parser.add_argument('--json', default='', help='write the results here too')
    parser.add_argument('--phase', default='', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    defaults = dict(network='igcv3', image_shape='3,224,224', num_classes=1000, multiplier=1.0)
    if args.model:
        from common import checkpoint
        info = checkpoint.read_model_info(args.model)
        if info is None:
            raise UserError('--model %s: no %s (training writes it); give --network and '
                            '--image-shape instead' % (args.model,
                                                      checkpoint.model_info_path(args.model)))
        defaults = dict(network=info['network'], num_classes=info['num_classes'],
                        image_shape=','.join(map(str, info['image_shape'])),
                        multiplier=info.get('network_args', {}).get('multiplier', 1.0))
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.fit_images is None:
        from common.data import parse_image_shape_flag
        args.fit_images = 3200 if parse_image_shape_flag(args.image_shape)[1] <= 64 else 320
    if args.fit_images < args.batch_size:
        raise UserError('--fit-images %d is fewer than one batch of %d; raise it'
                        % (args.fit_images, args.batch_size))
    return args


def parse_batch_sizes(text):
    try:
        sizes = [int(b) for b in text.split(',') if b.strip()]
    except ValueError:
        sizes = [0]
    if any(b < 1 for b in sizes):
        raise UserError("--batch-sizes '%s' must be positive numbers separated by commas, "
                        "e.g. 32,64,128" % text)
    return sizes


def profile_table(phase, result):
    """A profile phase's operators, ms per step (round 1's list; the step's median)."""
    lines = ['', '%s: %.0f ms a step (%.1f images/s under the profiler), %.0f ms in '
             'operators (MXNet counts operators that overlap in time each in full)'
             % (phase, result['step_ms'], result['profiled_images_per_sec'],
                result['operator_ms']), '| operator | ms per step |', '|---|---|']
    lines += ['| %s | %.1f |' % (name, ms) for name, ms in result['ops']]
    return '\n'.join(lines) + '\n'


def main():
    setup_logging()
    argv = sys.argv[1:]
    args = parse_args(argv)
    from common.data import parse_image_shape_flag
    shape = parse_image_shape_flag(args.image_shape)
    if args.phase:
        fn = {'train': lambda: phase_train(args, shape, True),
              'train_exact': lambda: {'skipped': 'bfloat16 trains the padded form only'}
              if args.dtype == 'bfloat16' else phase_train(args, shape, False),
              'infer_fused': lambda: phase_infer(args, shape, True),
              'infer_plain': lambda: phase_infer(args, shape, False),
              'data': lambda: phase_data(args, shape),
              'fit_records': lambda: phase_fit(args, shape, 'records'),
              'fit_synthetic': lambda: phase_fit(args, shape, 'synthetic'),
              'train_bf16': lambda: phase_bf16(args, lambda: phase_train(
                  args, shape, True, 'bfloat16')),
              'fit_records_bf16': lambda: phase_bf16(args, lambda: phase_fit(
                  args, shape, 'records', 'bfloat16')),
              'gemm': lambda: phase_gemm(args),
              'profile': lambda: phase_profile(args, shape),
              'profile_bf16': lambda: phase_bf16(args, lambda: phase_profile(
                  args, shape, 'bfloat16')),
              'torch_infer': lambda: phase_torch(args, shape),
              'torch_compile': lambda: phase_torch(args, shape, args.torch_compile_config,
                                                   compiled=True)}
        fn.update((p, lambda c=c: phase_torch(args, shape, c)) for p, c in TORCH_TRAINING.items())
        sys.stdout.write(json.dumps(fn[args.phase]()) + '\n')
        return
    args.passthrough = list(argv)
    for flag in ('--json', '--batch-sizes'):  # (the parent's own)
        args.passthrough = [a for a in args.passthrough if not a.startswith(flag + '=')]
        if flag in args.passthrough:
            i = args.passthrough.index(flag)
            args.passthrough = args.passthrough[:i] + args.passthrough[i + 2:]
    wanted = [p for p in args.phases.split(',') if p]
    if args.compare_torch:
        wanted += [p for p in TORCH_PHASES if p not in wanted]
    # PyTorch phases named in --phases compare as --compare-torch does (without the others)
    args.compare_torch = args.compare_torch or any(p in TORCH_PHASES for p in wanted)
    unknown = [p for p in wanted if p not in PHASES]
    if unknown:
        raise UserError('unknown --phases %s: choose from %s' % (','.join(unknown), ','.join(PHASES)))
    sizes = parse_batch_sizes(args.batch_sizes)
    report = {'command': 'python tools/benchmark.py ' + ' '.join(argv),
              'machine': machine_description(), 'network': args.network,
              'image_shape': args.image_shape, 'batch_size': args.batch_size,
              'omp_num_threads': os.environ.get('OMP_NUM_THREADS'),
              'environment': {k: os.environ.get(k) for k in (
                  'OMP_NUM_THREADS', 'MXNET_USE_OPERATOR_TUNING', 'DNNL_MAX_CPU_ISA')}}
    if sizes:
        wanted = ['train'] + (['torch_train'] if args.compare_torch else [])
        rounds = {b: {p: [] for p in wanted} for b in sizes}
        gemm = []
        for r in range(args.rounds):
            gemm.append(run_phase(args, 'gemm'))
            for b in sizes:
                for p in wanted:
                    rounds[b][p].append(run_phase(args, p, ['--batch-size', str(b)]))
                    logging.info('round %d batch %d %s: %s', r, b, p, rounds[b][p][-1])
        sweep = {b: {p: median_of_rounds(rounds[b][p]) for p in wanted} for b in sizes}
        train_ceiling, _ = ceilings(args, shape, median_of_rounds(gemm).get('gemm_gflops'))
        report.update(rounds={str(b): v for b, v in rounds.items()}, gemm_rounds=gemm,
                      results={str(b): v for b, v in sweep.items()},
                      training_ceiling_images_per_sec=train_ceiling)
        sys.stdout.write(sweep_table(sweep, args, train_ceiling) + '\n')
    else:
        rounds = {p: [] for p in PHASES}
        for r in range(args.rounds):
            for p in wanted:
                rounds[p].append(run_phase(args, p))
                logging.info('round %d %s: %s', r, p, rounds[p][-1])
        results = {p: median_of_rounds(rounds[p]) for p in PHASES}
        ceiling = ceilings(args, shape, results['gemm'].get('gemm_gflops'))
        report.update(rounds=rounds, results=results,
                      ceiling_images_per_sec={'training': ceiling[0], 'inference': ceiling[1]})
        sys.stdout.write(table(results, args, ceiling) + '\n')
        for p in ('profile', 'profile_bf16'):
            if results[p].get('ops'):
                sys.stdout.write(profile_table(p, results[p]))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)


if __name__ == '__main__':
    run(main)
