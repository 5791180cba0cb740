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
import os
import sys

import _path  # noqa: F401
from _path import ROOT
from common import runtime
runtime.configure()  # before mxnet loads

from common import speed, timing  # noqa: E402
from common.atomic import write_text  # noqa: E402
from common.cli import (ArgumentParser, UserError, add_gpus_argument, run,  # noqa: E402
                        setup_logging)


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
                        choices=tuple(speed.TORCH_TRAINING.values()),
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


def parse_settings(args):
    """The Settings of the parsed flags (common.speed measures with them)."""
    return speed.Settings(
        network=args.network, num_classes=args.num_classes, multiplier=args.multiplier,
        batch_size=args.batch_size, iterations=args.iterations, warmup=args.warmup,
        data_images=args.data_images, fit_images=args.fit_images, gpus=args.gpus,
        dtype=args.dtype, compare_torch=args.compare_torch,
        torch_compile_config=args.torch_compile_config, gemm_size=args.gemm_size)


def main():
    setup_logging()
    argv = sys.argv[1:]
    args = parse_args(argv)
    from common.data import parse_image_shape_flag
    shape = parse_image_shape_flag(args.image_shape)
    if args.phase:
        sys.stdout.write(json.dumps(speed.phase_result(parse_settings(args), args.phase, shape)) + '\n')
        return
    passthrough = list(argv)
    for flag in ('--json', '--batch-sizes'):  # (the parent's own)
        passthrough = [a for a in passthrough if not a.startswith(flag + '=')]
        if flag in passthrough:
            i = passthrough.index(flag)
            passthrough = passthrough[:i] + passthrough[i + 2:]
    wanted, args.compare_torch = speed.wanted_phases(args.phases, args.compare_torch)
    sizes = speed.parse_batch_sizes(args.batch_sizes)
    script = os.path.abspath(__file__)
    report = {'command': 'python tools/benchmark.py ' + ' '.join(argv),
              'machine': timing.machine_description(), 'network': args.network,
              'image_shape': args.image_shape, 'batch_size': args.batch_size,
              'omp_num_threads': os.environ.get('OMP_NUM_THREADS'),
              'environment': {k: os.environ.get(k) for k in (
                  'OMP_NUM_THREADS', 'MXNET_USE_OPERATOR_TUNING', 'DNNL_MAX_CPU_ISA')}}
    if sizes:
        entries, text = speed.run_sweep(
            parse_settings(args), shape, sizes, args.rounds,
            lambda phase, extra: speed.measure(script, passthrough, phase, ROOT, extra))
    else:
        entries, text = speed.run_phases(
            parse_settings(args), shape, wanted, args.rounds,
            lambda phase: speed.measure(script, passthrough, phase, ROOT))
    report.update(entries)
    sys.stdout.write(text)
    if args.json:
        write_text(args.json, json.dumps(report, indent=2))


if __name__ == '__main__':
    run(main)
