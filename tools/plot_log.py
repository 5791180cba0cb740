#!/usr/bin/env python
"""Plot training curves from a training log: accuracy, loss, images/s and learning rate per epoch.

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


def title(curves, path):
    """The run a log is of: network, width, dataset and epochs from its arguments, and
    the file."""
    a = curves.get('arguments', {})
    parts = [str(a['network']) if a.get('network') else None,
             '%gx' % a['multiplier'] if isinstance(a.get('multiplier'), (int, float)) else None,
             str(a['dataset']) if a.get('dataset') else None,
             '%s epochs' % a['num_epochs'] if a.get('num_epochs') else None]
    return '%s (%s)' % (', '.join(p for p in parts if p) or 'training', os.path.basename(path))


def complete(series, curves):
    """``series`` {epoch: value} without the epochs stopped part way (their values are
    those of a fraction of an epoch)."""
    return {e: v for e, v in series.items() if e not in curves['interrupted']}


def plot(curves, out, name=''):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (acc_ax, loss_ax, speed_ax, lr_ax) = plt.subplots(1, 4, figsize=(19, 4))
    for ax, pairs, ylabel in (
            (acc_ax, (('train', 'train'), ('val', 'validation')), 'top-1 accuracy'),
            (loss_ax, (('train_loss', 'train'), ('val_loss', 'validation')), 'cross-entropy')):
        drawn = False
        for key, label in pairs:
            series = complete(curves[key], curves)
            if series:
                epochs = sorted(series)
                ax.plot(epochs, [series[e] for e in epochs], marker='.', label=label)
                drawn = True
        ax.set_ylabel(ylabel)
        if drawn:
            ax.legend()
    if not curves['val']:
        acc_ax.text(0.5, 0.02, 'no validation in this log', transform=acc_ax.transAxes,
                    ha='center', va='bottom', fontsize=8, color='gray')
    speed = complete(curves['speed'], curves)
    if speed:
        epochs = sorted(speed)
        speed_ax.plot(epochs, [speed[e] for e in epochs], marker='.')
    speed_ax.set_ylabel('training images/s (epoch images / Time cost)')
    if curves['lr']:
        epochs = sorted(curves['lr'])
        rates = [curves['lr'][e] for e in epochs]
        lr_ax.plot(epochs, rates, marker='.')
        if min(rates) > 0 and max(rates) >= 10 * min(rates):
            lr_ax.set_yscale('log')
    lr_ax.set_ylabel('learning rate at the epoch start')
    for ax in (acc_ax, loss_ax, speed_ax, lr_ax):
        ax.set_xlabel('epoch')
        ax.grid(True, alpha=0.3)
    if name:
        fig.suptitle(name)
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
    for epoch, (ran, full) in sorted(curves['interrupted'].items()):
        logging.info('epoch %d was stopped after %d of %d batches and not run again: left '
                     'out of the curves', epoch, ran, full)
    plot(curves, args.output, title(curves, args.log))
    logging.info('wrote %s (%d epochs)', args.output, len(curves['train'] or curves['val']))


if __name__ == '__main__':
    run(main)
