"""What tools/benchmark.py measures, each phase a function of its Settings run in a process
of its own (so that peak memory is its own): the bare training step (the released ops or
the training form), the recipe's whole run through common/fit.py (on records or
synthetic data, float32 or bfloat16), inference (fused and not), the data pipeline, the
dense GEMM peak that makes the compute ceiling (6 x the multiply-adds a training image,
2 x an inference image), MXNet's profile of the step, and the same network in PyTorch
(common/torch_igcv3.py); then the tables of the results. tools/benchmark.py's docstring
describes each phase as a user reads it.
"""
import collections
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time

from . import commands, runtime, timing
from .errors import UserError


class Settings(collections.namedtuple('Settings', [
        'network', 'num_classes', 'multiplier', 'batch_size', 'iterations', 'warmup',
        'data_images', 'fit_images', 'gpus', 'dtype', 'compare_torch',
        'torch_compile_config', 'gemm_size'])):
    """What a benchmark measures (tools/benchmark.py's flags of the same names): the
    network, its classes and width; the batch; timed and untimed iterations; the images
    of the data phase and of each epoch of the fit phases; the devices and precision;
    whether PyTorch is compared and which of its configurations torch.compile compiles;
    the GEMM's matrix size."""


def _training_step(s, shape, fast, dtype):
    """(step, form): one training step of the bare loop (forward, backward, SGD update,
    waited for) on a fixed random batch, and the training form it runs in."""
    devices = runtime.get_devices(s.gpus)
    # As common/fit.py: the CPU training form on the CPU (train), or the released ops
    # (train_exact, and both phases on GPUs).
    import mxnet as mx
    import numpy as np
    import symbol
    form, sym = runtime.training_network(
        None if fast else 0, devices,
        lambda f: symbol.get_symbol(s.network, num_classes=s.num_classes,
                                    image_shape=shape, dtype=dtype,
                                    multiplier=s.multiplier, form=f),
        (s.batch_size,) + shape)
    runtime.check_dtype(dtype, devices, form)
    mod = mx.mod.Module(sym, context=devices)
    mod.bind(data_shapes=[('data', (s.batch_size,) + shape)],
             label_shapes=[('softmax_label', (s.batch_size,))])
    mod.init_params(mx.init.Xavier(rnd_type='gaussian', factor_type='in', magnitude=2))
    mod.init_optimizer(optimizer='sgd', optimizer_params={
        'learning_rate': 0.01, 'momentum': 0.9, 'wd': 4e-5,
        'multi_precision': dtype == 'float16'})
    rng = np.random.RandomState(0)
    batch = mx.io.DataBatch([mx.nd.array(rng.uniform(-1, 1, (s.batch_size,) + shape))],
                            [mx.nd.array(rng.randint(0, s.num_classes, s.batch_size))])

    def step():
        mod.forward_backward(batch)
        mod.update()
        mx.nd.waitall()
    return step, form


def phase_train(s, shape, fast, dtype=None):
    step, form = _training_step(s, shape, fast, dtype or s.dtype)
    seconds = timing.median_seconds(step, s.warmup, s.iterations)
    return {'train_images_per_sec': s.batch_size / seconds, 'peak_mb': timing.peak_mb(),
            'training_form': form.value, 'dnnl_max_cpu_isa': os.environ.get('DNNL_MAX_CPU_ISA')}


def phase_profile(s, shape, dtype=None):
    """Where the bare training step's time goes: MXNet's profiler (operator times,
    aggregated by operator type, each operator run on its own rather than in the
    executor's bulks) over --iterations steps after --warmup; ms per step of each
    operator type (forward and backward apart), the most costly first, and the step's
    wall time (the profiler's own cost included)."""
    import mxnet as mx
    # Operator by operator: the executor otherwise runs (and the profiler times) bulks of
    # operators as one; read when the graph is bound.
    os.environ['MXNET_EXEC_BULK_EXEC_TRAIN'] = '0'
    step, form = _training_step(s, shape, True, dtype or s.dtype)
    for _ in range(s.warmup):
        step()
    mx.profiler.set_config(profile_all=True, aggregate_stats=True,
                           filename=os.path.join(tempfile.mkdtemp(prefix='bench-prof-'),
                                                 'profile.json'))
    mx.profiler.set_state('run')
    tic = time.time()
    for _ in range(s.iterations):
        step()
    seconds = (time.time() - tic) / s.iterations
    mx.profiler.set_state('stop')
    stats = json.loads(mx.profiler.dumps(reset=True, format='json'))['Time']['operator']
    ops = sorted(((name, v['Total'] / s.iterations) for name, v in stats.items()),
                 key=lambda kv: -kv[1])
    return {'step_ms': seconds * 1000, 'profiled_images_per_sec': s.batch_size / seconds,
            'operator_ms': sum(ms for _, ms in ops), 'training_form': form.value,
            'ops': [[name, round(ms, 2)] for name, ms in ops[:15]]}


def phase_infer(s, shape, fused):
    import mxnet as mx
    import numpy as np
    import symbol
    from .inference import bind_for_inference
    sym = symbol.get_symbol(s.network, num_classes=s.num_classes, image_shape=shape,
                            dtype=s.dtype, multiplier=s.multiplier)
    init = mx.mod.Module(sym, context=mx.cpu())
    init.bind(data_shapes=[('data', (1,) + shape)], label_shapes=[('softmax_label', (1,))],
              for_training=False)
    init.init_params(mx.init.Xavier(rnd_type='gaussian', factor_type='in', magnitude=2))
    arg, aux = init.get_params()
    out = {}
    rng = np.random.RandomState(0)
    for batch_size, key in ((1, 'latency_ms'), (s.batch_size, 'images_per_sec')):
        mod = bind_for_inference(sym, arg, aux, batch_size, shape,
                                 runtime.get_devices(s.gpus), fused)
        batch = mx.io.DataBatch([mx.nd.array(rng.uniform(-1, 1, (batch_size,) + shape))],
                                [mx.nd.zeros(batch_size)])

        def step():
            mod.forward(batch, is_train=False)
            mod.get_outputs()[0].wait_to_read()
        seconds = timing.median_seconds(step, s.warmup, s.iterations)
        out[key] = seconds * 1000 if batch_size == 1 else batch_size / seconds
    out['peak_mb'] = timing.peak_mb()
    return out


def _write_records(s, shape, path, count):
    """A .rec of ``count`` generated images at ``path`` (+ .idx): grey 28x28 PNGs as
    tools/mnist_to_rec.py packs Fashion-MNIST for a 1-channel shape, JPEGs of the input
    size for small inputs (32x32 as tools/cifar_to_rec.py packs CIFAR), larger JPEGs (480
    high) otherwise."""
    import cv2
    import numpy as np
    from .recordio import write_image_records
    rng = np.random.RandomState(0)

    def images():
        for _ in range(count):
            if shape[0] == 1:
                yield rng.randint(0, 256, shape[1:]).astype(np.uint8)
            else:
                h, w = shape[1:] if shape[1] <= 64 else (480, int(480 * rng.uniform(1.0, 1.5)))
                yield cv2.resize(rng.randint(0, 256, (h // 8, w // 8, 3)).astype(np.uint8),
                                 (w, h))
    write_image_records(path, images(), [i % s.num_classes for i in range(count)],
                        '.png' if shape[0] == 1 else '.jpg')
    return path + '.rec'


def _recipe_flags(s, shape, rec, count):
    """(recipe's parse function, its flags) training on ``rec`` with the recipe's
    augmentations: train_cifar's (Fashion-MNIST's for 1 channel) for inputs up to 64, else
    train_imagenet's (common/recipes.py)."""
    from . import recipes
    small = shape[1] <= 64
    flags = (['--dataset', 'fashion-mnist'] if shape[0] == 1 and small else []) + [
        '--data-train', rec, '--data-val=', '--batch-size', str(s.batch_size),
        '--num-examples', str(count), '--num-classes', str(s.num_classes),
        '--image-shape', ','.join(map(str, shape)), '--seed', '0']
    return (recipes.parse_small_image_args if small else recipes.parse_imagenet_args), flags


def phase_data(s, shape):
    from . import data
    folder = tempfile.mkdtemp(prefix='bench-data-')
    try:
        rec = _write_records(s, shape, os.path.join(folder, 'd'), s.data_images)
        recipe, flags = _recipe_flags(s, shape, rec, s.data_images)
        targs = recipe(flags + ['--data-nthreads', str(os.cpu_count()),
                                '--data-in-memory', '0'])  # (times ImageRecordIter)
        train, _ = data.get_rec_iter(targs)

        def epoch():
            train.reset()
            for _ in train:
                pass
        seconds = timing.median_seconds(epoch, 1, 3)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {'data_images_per_sec': s.data_images / seconds, 'peak_mb': timing.peak_mb()}


def phase_fit(s, shape, source, dtype=None):
    """A user's training run: the recipe's entry point (common/fit.py's loop, the recipe's
    data path and augmentations, the per-batch metric and log) for 2 epochs of
    --fit-images images, on generated records (source 'records', validated on them
    too) or on synthetic data (--benchmark 1), in ``dtype`` (default --dtype); the
    second epoch's images/s as its log reports them (common.training_log), so the
    first's warm-up is not counted."""
    from . import fit, training_flags, training_log
    folder = tempfile.mkdtemp(prefix='bench-fit-')
    try:
        count = s.fit_images
        rec = _write_records(s, shape, os.path.join(folder, 'd'), count) \
            if source == 'records' else os.path.join(folder, 'none.rec')
        recipe, flags = _recipe_flags(s, shape, rec, count)
        log = os.path.join(folder, 'train.log')
        flags += ['--num-epochs', '2', '--network', s.network,
                  '--multiplier', str(s.multiplier), '--model-prefix',
                  os.path.join(folder, 'm'), '--log-file', log, '--disp-batches', '1000000',
                  '--dtype', dtype or s.dtype]
        flags += ['--data-val', rec] if source == 'records' else ['--benchmark', '1']
        if s.gpus is not None:  # (else the recipe's default: every visible GPU, else the CPU)
            flags += ['--gpus', s.gpus]
        targs = recipe(flags)
        fit.fit(targs, training_flags.get_network)
        for handler in logging.getLogger().handlers:  # (fit's log file, read whole below)
            handler.flush()
        curves = training_log.parse_log(log)
        out = {'fit_images_per_sec': curves['speed'].get(1), 'peak_mb': timing.peak_mb()}
        if curves['val_seconds'].get(1):
            out['validation_images_per_sec'] = training_log.training_speed(
                curves['val_images'][1], curves['val_seconds'][1])
        with open(log) as f:  # (the path fit's data loader logged it took)
            out['data_path'] = next((line[line.index('training data '):].strip() for line in f
                                     if 'training data ' in line), 'synthetic (--benchmark 1)')
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out


def phase_bf16(s, measure):
    """A --dtype bfloat16 phase's result, or why it does not run here."""
    if s.dtype != 'float32':
        return {'skipped': 'the bfloat16 phases run beside --dtype float32'}
    if not runtime.cpu_has_bf16():
        return {'skipped': 'this CPU has no AVX512_BF16'}
    return measure()


def phase_gemm(s):
    """GFLOP/s of a dense float32 GEMM of --gemm-size, with this process's threads: the
    faster of oneDNN's inner product (MXNet's FullyConnected) and numpy's BLAS."""
    import mxnet as mx
    import numpy as np
    n = s.gemm_size
    rng = np.random.RandomState(0)
    a, b = (rng.uniform(-1, 1, (n, n)).astype(np.float32) for _ in range(2))
    x, w = mx.nd.array(a), mx.nd.array(b)
    rates = {}
    for name, step in (
            ('onednn', lambda: mx.nd.FullyConnected(x, w, num_hidden=n,
                                                    no_bias=True).wait_to_read()),
            ('numpy', lambda: a @ b)):
        rates['gemm_gflops_' + name] = 2.0 * n ** 3 / timing.median_seconds(step, 1, 5) / 1e9
    rates['gemm_gflops'] = max(rates.values())
    rates['gemm_size'] = n
    return rates


def phase_torch(s, shape, config=None, compiled=False):
    """PyTorch training in the configuration ``config`` (torch_igcv3.TRAINING_CONFIGS),
    under torch.compile if ``compiled``; inference if ``config`` is None."""
    if compiled:  # a cold compile every time: inductor's caches in a fresh folder
        os.environ['TORCHINDUCTOR_CACHE_DIR'] = tempfile.mkdtemp(prefix='bench-inductor-')
    try:
        import torch
    except ImportError:
        return {'skipped': 'torch is not installed (pip install -r requirements-bench.txt)'}
    from . import torch_igcv3
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS') or os.cpu_count()))
    torch.manual_seed(0)
    model = torch_igcv3.build(s.network.lower(), s.num_classes, shape)
    x = torch.randn((s.batch_size,) + shape)
    y = torch.randint(0, s.num_classes, (s.batch_size,))
    if config:
        step = torch_igcv3.training_step(model, x, y, config, compiled)
        out = {'config': config}
        if compiled:
            tic = time.time()
            step()
            out['first_step_seconds'] = time.time() - tic
        seconds = timing.median_seconds(step, s.warmup, s.iterations)
        if compiled:  # the first step's time beyond a compiled step's
            out['compile_seconds'] = out['first_step_seconds'] - seconds
            shutil.rmtree(os.environ['TORCHINDUCTOR_CACHE_DIR'], ignore_errors=True)
        out.update({'train_images_per_sec': s.batch_size / seconds, 'peak_mb': timing.peak_mb(),
                    'params': torch_igcv3.parameter_count(model), 'torch': torch.__version__})
        return out
    model.eval()
    out = {}
    with torch.no_grad():
        for batch_size, key in ((1, 'latency_ms'), (s.batch_size, 'images_per_sec')):
            xb = x[:batch_size] if batch_size <= s.batch_size else \
                torch.randn((batch_size,) + shape)
            seconds = timing.median_seconds(lambda: model(xb), s.warmup, s.iterations)
            out[key] = seconds * 1000 if batch_size == 1 else batch_size / seconds
    out['peak_mb'] = timing.peak_mb()
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


def ceilings(s, shape, gemm_gflops):
    """(training, inference) images/s at the GEMM peak: FLOPs per image are 6x and 2x
    the released network's multiply-adds."""
    if not gemm_gflops:
        return None, None
    import symbol
    from .complexity import complexity
    macs = complexity(symbol.get_symbol(s.network, num_classes=s.num_classes,
                                        image_shape=shape, multiplier=s.multiplier),
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


def torch_training_configs(s):
    """{phase: configuration name} of PyTorch's four training phases."""
    return dict(TORCH_TRAINING, torch_compile='torch.compile (%s)' % s.torch_compile_config)


def fastest_torch_training(results, s):
    """(configuration name, images/s) of the fastest of PyTorch's training phases that
    ran; (None, None) if none did."""
    ran = [(results[p].get('train_images_per_sec'), name)
           for p, name in torch_training_configs(s).items()
           if results[p].get('train_images_per_sec')]
    speed, name = max(ran) if ran else (None, None)
    return name, speed


def table(results, s, ceiling=(None, None)):
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
        ("training images/s, the recipe's run on records (batch %d)" % s.batch_size,
         fit_records),
        ("training images/s, the recipe's run on synthetic data", fit_synthetic),
        ('training on records / on synthetic data', ratio(fit_records, fit_synthetic)),
        ("validation images/s, the recipe's run (fused inference form)",
         results['fit_records'].get('validation_images_per_sec')),
        ('training images/s, bare step (fwd+bwd+update, batch %d)' % s.batch_size,
         results['train'].get('train_images_per_sec')),
        ('training images/s, released grouped-conv ops',
         results['train_exact'].get('train_images_per_sec')),
        ("training images/s, the recipe's run on records, --dtype bfloat16", fit_bf16),
        ('training images/s, bare step, --dtype bfloat16', train_bf16),
        ('bfloat16 / float32, the recipe\'s run on records', ratio(fit_bf16, fit_records)),
        ('inference images/s, fused (batch %d)' % s.batch_size,
         results['infer_fused'].get('images_per_sec')),
        ('inference images/s, not fused (batch %d)' % s.batch_size,
         results['infer_plain'].get('images_per_sec')),
        ('inference latency ms, fused (batch 1)', results['infer_fused'].get('latency_ms')),
        ('inference latency ms, not fused (batch 1)', results['infer_plain'].get('latency_ms')),
        ('data pipeline images/s (training augmentations)',
         results['data'].get('data_images_per_sec')),
        ('peak memory MB (training)', results['train'].get('peak_mb')),
        ('data pipeline / training consumption',
         ratio(results['data'].get('data_images_per_sec'), mx_train)),
    ]
    if s.compare_torch:
        configs = torch_training_configs(s)
        rows += [('PyTorch training images/s, %s' % name, results[p].get('train_images_per_sec'))
                 for p, name in configs.items()]
        rows += [
            ('torch.compile compile time s (apart)',
             results['torch_compile'].get('compile_seconds')),
            ('PyTorch inference images/s (batch %d)' % s.batch_size, th_infer),
            ('PyTorch inference latency ms (batch 1)', results['torch_infer'].get('latency_ms')),
        ]
        rows += [('PyTorch peak memory MB (training, %s)' % name, results[p].get('peak_mb'))
                 for p, name in configs.items()]
        best_name, th_best = fastest_torch_training(results, s)
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
        if s.compare_torch:
            rows += [('training, PyTorch / ceiling', _percent(th_train, train_ceiling)),
                     ('training, torch.compile / ceiling', _percent(th_compile, train_ceiling)),
                     ("training, PyTorch's fastest / ceiling", _percent(th_best, train_ceiling))]
    width = max(len(r[0]) for r in rows)
    lines = ['%s  %s' % (name.ljust(width), _cell(v)) for name, v in rows]
    for phase in ('train_bf16', 'fit_records_bf16'):
        if results[phase].get('skipped'):
            lines.append('bfloat16 (%s) skipped: %s' % (phase, results[phase]['skipped']))
    if s.compare_torch:
        for phase in TORCH_PHASES:
            problem = results[phase].get('skipped') or results[phase].get('error')
            if problem:
                lines.append('PyTorch comparison (%s) skipped: %s' % (phase, problem))
    return '\n'.join(lines)


def sweep_table(sweep, s, train_ceiling):
    """Training images/s (and PyTorch's) per batch size."""
    lines = ['batch  ours images/s  peak MB' + ('  PyTorch images/s  peak MB  ours / PyTorch'
                                                if s.compare_torch else '')
             + ('  ours / ceiling' if train_ceiling else '')]
    for batch_size, res in sorted(sweep.items()):
        ours, theirs = res['train'], res.get('torch_train', {})
        cells = [str(batch_size).ljust(5), _cell(ours.get('train_images_per_sec')).rjust(13),
                 _cell(ours.get('peak_mb')).rjust(8)]
        if s.compare_torch:
            a, b = ours.get('train_images_per_sec'), theirs.get('train_images_per_sec')
            cells += [_cell(b).rjust(17), _cell(theirs.get('peak_mb')).rjust(8),
                      _cell(a / b if a and b else None).rjust(15)]
        if train_ceiling:
            cells.append(_cell(_percent(ours.get('train_images_per_sec'),
                                        train_ceiling)).rjust(15))
        lines.append('  '.join(cells))
    return '\n'.join(lines)


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


def phase_result(s, phase, shape):
    """The result of one phase (a dict of numbers and names; 'skipped' or 'error' when it
    did not run), measured in this process."""
    fn = {'train': lambda: phase_train(s, shape, True),
          'train_exact': lambda: {'skipped': 'bfloat16 trains the padded form only'}
          if s.dtype == 'bfloat16' else phase_train(s, shape, False),
          'infer_fused': lambda: phase_infer(s, shape, True),
          'infer_plain': lambda: phase_infer(s, shape, False),
          'data': lambda: phase_data(s, shape),
          'fit_records': lambda: phase_fit(s, shape, 'records'),
          'fit_synthetic': lambda: phase_fit(s, shape, 'synthetic'),
          'train_bf16': lambda: phase_bf16(s, lambda: phase_train(s, shape, True, 'bfloat16')),
          'fit_records_bf16': lambda: phase_bf16(s, lambda: phase_fit(
              s, shape, 'records', 'bfloat16')),
          'gemm': lambda: phase_gemm(s),
          'profile': lambda: phase_profile(s, shape),
          'profile_bf16': lambda: phase_bf16(s, lambda: phase_profile(s, shape, 'bfloat16')),
          'torch_infer': lambda: phase_torch(s, shape),
          'torch_compile': lambda: phase_torch(s, shape, s.torch_compile_config,
                                               compiled=True)}
    fn.update((p, lambda c=c: phase_torch(s, shape, c)) for p, c in TORCH_TRAINING.items())
    return fn[phase]()


def measure(script, argv, phase, cwd, extra=()):
    """One phase's result from a fresh ``python SCRIPT --phase PHASE ARGV...`` process."""
    return commands.run_json([script, '--phase', phase] + list(argv) + list(extra), cwd)


def wanted_phases(phases, compare_torch):
    """(phases to run, whether PyTorch is compared) of a --phases list; PyTorch phases
    named in it compare as --compare-torch does (without the others)."""
    wanted = [p for p in phases.split(',') if p]
    if compare_torch:
        wanted += [p for p in TORCH_PHASES if p not in wanted]
    unknown = [p for p in wanted if p not in PHASES]
    if unknown:
        raise UserError('unknown --phases %s: choose from %s'
                        % (','.join(unknown), ','.join(PHASES)))
    return wanted, compare_torch or any(p in TORCH_PHASES for p in wanted)


def run_phases(s, shape, wanted, rounds, measure_one):
    """(report entries, table text) of ``wanted`` phases measured ``rounds`` times,
    interleaved, by ``measure_one(phase)``; medians over the rounds."""
    per_phase = {p: [] for p in PHASES}
    for r in range(rounds):
        for p in wanted:
            per_phase[p].append(measure_one(p))
            logging.info('round %d %s: %s', r, p, per_phase[p][-1])
    results = {p: timing.median_of_rounds(per_phase[p]) for p in PHASES}
    ceiling = ceilings(s, shape, results['gemm'].get('gemm_gflops'))
    text = table(results, s, ceiling) + '\n'
    for p in ('profile', 'profile_bf16'):
        if results[p].get('ops'):
            text += profile_table(p, results[p])
    return dict(rounds=per_phase, results=results,
                ceiling_images_per_sec={'training': ceiling[0], 'inference': ceiling[1]}), text


def run_sweep(s, shape, sizes, rounds, measure_one):
    """(report entries, table text) of training (and PyTorch's with compare_torch) at each
    batch size of ``sizes``, ``rounds`` times interleaved, by ``measure_one(phase,
    extra flags)``; medians over the rounds."""
    wanted = ['train'] + (['torch_train'] if s.compare_torch else [])
    per_size = {b: {p: [] for p in wanted} for b in sizes}
    gemm = []
    for r in range(rounds):
        gemm.append(measure_one('gemm', ()))
        for b in sizes:
            for p in wanted:
                per_size[b][p].append(measure_one(p, ('--batch-size', str(b))))
                logging.info('round %d batch %d %s: %s', r, b, p, per_size[b][p][-1])
    sweep = {b: {p: timing.median_of_rounds(per_size[b][p]) for p in wanted} for b in sizes}
    train_ceiling, _ = ceilings(s, shape, timing.median_of_rounds(gemm).get('gemm_gflops'))
    return dict(rounds={str(b): v for b, v in per_size.items()}, gemm_rounds=gemm,
                results={str(b): v for b, v in sweep.items()},
                training_ceiling_images_per_sec=train_ceiling), \
        sweep_table(sweep, s, train_ceiling) + '\n'


# Packing speed (tools/bench_im2rec.py)

def photo_like_images(folder, count, seed=0):
    """``count`` JPEGs of mixed sizes around 500x375 in 10 class folders of ``folder``:
    smooth random content with a little noise, so that they compress like photographs."""
    import cv2
    import numpy as np
    rng = np.random.RandomState(seed)
    for i in range(count):
        cls = os.path.join(folder, 'class%d' % (i % 10))
        os.makedirs(cls, exist_ok=True)
        h, w = rng.randint(300, 451), rng.randint(400, 601)
        small = rng.randint(0, 256, (h // 8 + 1, w // 8 + 1, 3)).astype(np.uint8)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
        img = cv2.add(img, rng.randint(0, 12, img.shape).astype(np.uint8))
        cv2.imwrite(os.path.join(cls, '%05d.jpg' % i), img, [cv2.IMWRITE_JPEG_QUALITY, 90])


def time_packing(tool, work, images, lst, flags):
    """(seconds, .rec bytes) of one ``python TOOL PREFIX IMAGES FLAGS`` packing ``lst``
    in a folder of its own under ``work`` (removed after), the process's start counted."""
    out = os.path.join(work, os.path.basename(tool).replace('.py', '') + '_' + str(os.getpid()))
    os.makedirs(out, exist_ok=True)
    shutil.copy(lst, os.path.join(out, 'bench.lst'))
    start = time.time()
    proc = subprocess.run([sys.executable, tool, os.path.join(out, 'bench'), images] + flags,
                          capture_output=True, text=True, cwd=work)
    seconds = time.time() - start
    if proc.returncode != 0 or not os.path.exists(os.path.join(out, 'bench.rec')):
        raise RuntimeError('%s failed: %s' % (tool, proc.stderr[-500:]))
    size = os.path.getsize(os.path.join(out, 'bench.rec'))
    shutil.rmtree(out)
    return seconds, size
