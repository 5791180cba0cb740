#!/usr/bin/env python
"""Plot training curves from a training log: accuracy, images/s and learning rate per epoch.

    python tools/plot_log.py models/igcv3.log -o curves.png

Reads the log lines of common/fit.py through common/training_log.py, which defines an
epoch's speed (its images over its ``Time cost``) for every tool; for a log that does not
say how many images an epoch trained, the images/s it gives are lower bounds, and the tool
says so.
"""
import logging
import os

import _path  # noqa: F401
from common.atomic import atomic_path
from common.cli import ArgumentParser, UserError, run, setup_logging
from common.training_log import parse_log


def plot(curves, out):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (acc_ax, speed_ax, lr_ax) = plt.subplots(1, 3, figsize=(15, 4))
    for key, label in (('train', 'train'), ('val', 'validation')):
        if curves[key]:
            epochs = sorted(curves[key])
            acc_ax.plot(epochs, [curves[key][e] for e in epochs], marker='.', label=label)
    acc_ax.set_ylabel('top-1 accuracy')
    if curves['train'] or curves['val']:
        acc_ax.legend()
    if curves['speed']:
        epochs = sorted(curves['speed'])
        speed_ax.plot(epochs, [curves['speed'][e] for e in epochs], marker='.')
    speed_ax.set_ylabel('training images/s (epoch images / Time cost)')
    if curves['lr']:
        epochs = sorted(curves['lr'])
        rates = [curves['lr'][e] for e in epochs]
        lr_ax.plot(epochs, rates, marker='.')
        if min(rates) > 0 and max(rates) >= 10 * min(rates):
            lr_ax.set_yscale('log')
    lr_ax.set_ylabel('learning rate at the epoch start')
    for ax in (acc_ax, speed_ax, lr_ax):
        ax.set_xlabel('epoch')
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    with atomic_path(out, keep_extension=True) as tmp:
        fig.savefig(tmp, dpi=100, format='png')
    plt.close(fig)


def main():
    parser = ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('log', help='training log (--log-file of the training scripts)')
    parser.add_argument('-o', '--output', default='curves.png', help='PNG to write')
    args = parser.parse_args()
    setup_logging()
    if not os.path.isfile(args.log):
        raise UserError('%s: no such log file' % args.log)
    curves = parse_log(args.log)
    if not curves['train'] and not curves['val']:
        raise UserError('%s holds no "Epoch[N] Train-accuracy=" lines; is it a training log?'
                        % args.log)
    guessed = sorted(e for e, how in curves['counted'].items() if how == 'speed lines')
    if guessed:
        logging.warning('images/s of epochs %s are lower bounds: the log does not say how '
                        'many batches they ran (the Speed lines\' last batch is counted)',
                        ', '.join(map(str, guessed)))
    plot(curves, args.output)
    logging.info('wrote %s (%d epochs)', args.output, len(curves['train'] or curves['val']))


if __name__ == '__main__':
    run(main)
