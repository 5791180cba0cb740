#!/usr/bin/env python
"""Fine-tuning against training from scratch, on real data this machine has.

    python tools/transfer_demo.py                 # about 10 minutes on a 2-core CPU
    python tools/transfer_demo.py --pretrain-examples 2000 --pretrain-epochs 1 --epochs 3

1. Fashion-MNIST (make fashion-mnist; converted here if data/fashion-mnist is missing):
   IGCV3 pretrained with train_cifar.py on --pretrain-examples of its 60,000 images (kept
   and reused by later runs with the same --out: --resume);
2. scikit-learn's 1,797 handwritten digits as 28x28 grey images, --train-digits of them
   (a fixed shuffle) to train on, the rest to score (--digits-dir, data/digits28/);
3. the same network trained on those digits twice with the same schedule and budget:
   fine_tune.py from the Fashion-MNIST checkpoint, and train_cifar.py from scratch;
4. both scored with score.py on the held-out digits, with no preprocessing flag (each
   checkpoint's model info); a table and OUT-summary.json.
Each step is the repository's own command, run as a user would run it.
"""
import json
import os
import sys
import time

import _path  # noqa: F401
from _path import ROOT
from common.cli import ArgumentParser, run, setup_logging
from common.commands import run_step
from common.digits import write_digit_records


# Fashion-MNIST's pixel mean and std (0..255), over its 60,000 training images.
FASHION_MEAN, FASHION_STD = '72.94,72.94,72.94', '90.02,90.02,90.02'


def main():
    parser = ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--network', default='igcv3')
    parser.add_argument('--pretrain-examples', type=int, default=12000)
    parser.add_argument('--pretrain-epochs', type=int, default=2)
    parser.add_argument('--train-digits', type=int, default=300)
    parser.add_argument('--epochs', type=int, default=15, help='fine-tuning and scratch epochs')
    parser.add_argument('--lr', type=float, default=0.05, help='both runs, cosine schedule')
    parser.add_argument('--fashion-dir', default='data/fashion-mnist')
    parser.add_argument('--digits-dir', default='data/digits28',
                        help='where the digits records are written')
    parser.add_argument('--out', default='models/transfer', help='prefix of the checkpoints')
    args = parser.parse_args()
    setup_logging()
    start = time.time()
    fashion = os.path.join(ROOT, args.fashion_dir)
    if not os.path.isfile(os.path.join(fashion, 'train.rec')):
        run_step('converting Fashion-MNIST (tools/mnist_to_rec.py)',
                 ['tools/mnist_to_rec.py', fashion])
    digits = os.path.join(ROOT, args.digits_dir)
    n_train, n_val = write_digit_records(digits, args.train_digits)
    common = ['--network', args.network, '--num-classes', '10', '--image-shape', '1,28,28',
              '--rgb-mean', FASHION_MEAN, '--rgb-std', FASHION_STD, '--lr-scheduler', 'cosine',
              '--gpus=', '--seed', '0', '--data-val=', '--batch-size', '32', '--pad-size', '2',
              '--disp-batches', '50']
    out = os.path.join(ROOT, args.out)
    pre = out + '-fashion'
    _, pretrain_seconds = run_step('pretraining on Fashion-MNIST (train_cifar.py)', [
        'train_cifar.py', '--data-train', os.path.join(fashion, 'train.rec'),
        '--num-examples', args.pretrain_examples, '--num-epochs', args.pretrain_epochs,
        '--lr', '0.1', '--warmup-epochs', '0.2', '--random-mirror', '1',
        '--model-prefix', pre, '--resume'] + common)
    budget = ['--data-train', os.path.join(digits, 'train.rec'), '--num-epochs', args.epochs,
              '--lr', args.lr, '--random-mirror', '0']
    runs = {
        'fine-tuned from Fashion-MNIST': ('fine_tune.py', out + '-tuned', [
            '--pretrained-model', pre, '--load-epoch', args.pretrain_epochs]),
        'from scratch': ('train_cifar.py', out + '-scratch', []),
    }
    results = {}
    for name, (script, prefix, extra) in runs.items():
        _, seconds = run_step('training %s (%s)' % (name, script),
                          [script, '--model-prefix', prefix] + extra + budget + common)
        scored, _ = run_step('scoring %s (score.py)' % name, [
            'score.py', '--model', prefix, '--load-epoch', args.epochs,
            '--data-val', os.path.join(digits, 'val.rec'), '--gpus=', '--json'])
        results[name] = dict(json.loads(scored), train_seconds=seconds)
    summary = {
        'command': 'python tools/transfer_demo.py ' + ' '.join(sys.argv[1:]),
        'pretrain': {'dataset': 'Fashion-MNIST', 'images': args.pretrain_examples,
                     'epochs': args.pretrain_epochs, 'seconds': pretrain_seconds},
        'target': {'dataset': "scikit-learn's digits, 28x28 grey", 'train': n_train,
                   'val': n_val, 'epochs': args.epochs, 'lr': args.lr},
        'results': results, 'wall_seconds': time.time() - start,
    }
    with open(out + '-summary.json', 'w') as f:
        json.dump(summary, f, indent=2)
    lines = ['', 'IGCV3 (%s) on %d digits, %d epochs, scored on the other %d:'
             % (args.network, n_train, args.epochs, n_val)]
    for name, r in results.items():
        lines.append('  %-32s top-1 %.2f%%' % (name, 100 * r['accuracy']))
    lines.append('  (pretraining: %d Fashion-MNIST images x %d epochs; wall time %.0f s)'
                 % (args.pretrain_examples, args.pretrain_epochs, summary['wall_seconds']))
    sys.stdout.write('\n'.join(lines) + '\n')


if __name__ == '__main__':
    run(main)
