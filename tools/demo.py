#!/usr/bin/env python
"""The whole pipeline on a real dataset that ships with scikit-learn: `make demo`.

    python tools/demo.py                       # about 3 minutes on a 2-core CPU (README)
    python tools/demo.py --epochs 2 --limit 300 --network igcv3_0.5x   # a quick look

1. writes scikit-learn's 1,797 handwritten digits as a class-per-folder tree of 32x32 RGB
   PNGs (data/digits/images/0 ... 9);
2. lists and packs them with tools/im2rec.py (its fixed shuffle: 80% train, 20% val);
3. trains IGCV3 in the CIFAR layout with train_cifar.py on the CPU;
4. scores the last checkpoint with score.py;
5. plots the training curves with tools/plot_log.py;
6. prints a summary: validation top-1, wall time, training images/s, where things are.
Each step is the repository's own command, run as a user would run it.
"""
import json
import os
import sys
import time

import _path  # noqa: F401
from _path import ROOT
from common import training_log
from common.digits import channel_stats, write_digit_folders
from common.cli import ArgumentParser, run, setup_logging
from common.commands import run_step
from common.image_lists import read_list



def main():
    parser = ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--network', default='igcv3')
    parser.add_argument('--multiplier', type=float, default=1.0)
    parser.add_argument('--epochs', type=int, default=10)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--lr', type=float, default=0.1)
    parser.add_argument('--limit', type=int, default=None, help='use only the first N digits')
    parser.add_argument('--data-dir', default='data/digits')
    parser.add_argument('--model-prefix', default='models/digits-igcv3')
    args = parser.parse_args()
    setup_logging()
    start = time.time()
    data_dir = os.path.join(ROOT, args.data_dir)
    images = os.path.join(data_dir, 'images')
    prefix = os.path.join(ROOT, args.model_prefix)

    sys.stderr.write('=== writing scikit-learn digits to %s\n' % images)
    if os.path.isdir(images):
        import shutil
        shutil.rmtree(images)
    count = write_digit_folders(images, args.limit)
    sys.stderr.write('%d images of 32x32 in 10 class folders\n' % count)

    lst = os.path.join(data_dir, 'digits')
    run_step('listing (tools/im2rec.py --list)', ['tools/im2rec.py', lst, images, '--list',
                                              '--recursive', '--train-ratio', '0.8'])
    run_step('packing (tools/im2rec.py)', ['tools/im2rec.py', lst, images, '--encoding', '.png',
                                       '--num-thread', str(os.cpu_count() or 1)])
    train_rec, val_rec = lst + '_train.rec', lst + '_val.rec'
    n_train, n_val = (len(list(read_list(lst + part))) for part in ('_train.lst', '_val.lst'))
    mean, std = channel_stats(images)
    norm = ['--rgb-mean', ','.join('%.3f' % v for v in mean),
            '--rgb-std', ','.join('%.3f' % v for v in std)]

    log = prefix + '.log'
    if os.path.exists(log):
        os.remove(log)
    run_step('training (train_cifar.py)', [
        'train_cifar.py', '--network', args.network, '--multiplier', args.multiplier,
        '--data-train', train_rec, '--data-val', val_rec, '--num-classes', '10',
        '--num-examples', n_train, '--image-shape', '3,32,32', '--num-epochs', args.epochs,
        '--batch-size', args.batch_size, '--lr', args.lr, '--lr-scheduler', 'cosine',
        '--warmup-epochs', '1', '--wd', '1e-4', '--pad-size', '4', '--random-mirror', '0',
        '--gpus', '', '--seed', '0', '--model-prefix', prefix, '--log-file', log,
        '--disp-batches', '10'] + norm)
    scored = json.loads(run_step('scoring (score.py)', [
        'score.py', '--model', prefix, '--load-epoch', args.epochs, '--data-val', val_rec,
        '--image-shape', '3,32,32', '--resize', '0', '--gpus', '', '--json'] + norm)[0])
    plot = prefix + '-curves.png'
    run_step('plotting (tools/plot_log.py)', ['tools/plot_log.py', log, '-o', plot])

    _, _, speed = training_log.run_speed(training_log.parse_log(log))
    summary = {
        'validation_top1': scored['accuracy'], 'validation_images': scored['images'],
        'train_images': n_train, 'val_images': n_val, 'epochs': args.epochs,
        'network': '%s x%g (CIFAR layout)' % (args.network, args.multiplier),
        'train_images_per_sec': speed,
        'wall_seconds': time.time() - start,
        'checkpoint': '%s-%04d.params' % (args.model_prefix, args.epochs),
        'curves': os.path.relpath(plot, ROOT), 'log': os.path.relpath(log, ROOT),
    }
    with open(prefix + '-summary.json', 'w') as f:
        json.dump(summary, f, indent=2)
    sys.stdout.write(
        '\nDemo finished: %s on %d digits, %d epochs on the CPU.\n'
        '  validation top-1   %.2f%% (%d images)\n'
        '  wall time          %.0f s\n'
        '  training speed     %.1f images/s\n'
        '  checkpoint         %s (+ -symbol.json)\n'
        '  training curves    %s\n'
        '  log                %s\n' % (
            summary['network'], n_train, args.epochs, 100 * summary['validation_top1'],
            scored['images'], summary['wall_seconds'], summary['train_images_per_sec'],
            summary['checkpoint'], summary['curves'], summary['log']))


if __name__ == '__main__':
    run(main)
