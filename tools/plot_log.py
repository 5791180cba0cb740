#!/usr/bin/env python
"""Plot training curves from a training log: accuracy per epoch and training speed.

    python tools/plot_log.py models/igcv3.log -o curves.png

Reads the log lines of common/fit.py (MXNet's formats): ``Epoch[e] Train-accuracy=``,
``Epoch[e] Validation-accuracy=`` and ``Epoch[e] Batch [a-b]\\tSpeed: N samples/sec``.
"""
import logging
import os
import re

import _path  # noqa: F401
from common.atomic import atomic_path
from common.cli import ArgumentParser, UserError, run, setup_logging

TRAIN = re.compile(r'Epoch\[(\d+)\] Train-accuracy=([\d.eE+-]+)')
VAL = re.compile(r'Epoch\[(\d+)\] Validation-accuracy=([\d.eE+-]+)')
SPEED = re.compile(r'Epoch\[(\d+)\] Batch \[\d+-\d+\]\tSpeed: ([\d.]+) samples/sec')


def parse_log(path):
    """{'train': {epoch: acc}, 'val': {epoch: acc}, 'speed': {epoch: mean samples/s}}."""
    curves = {'train': {}, 'val': {}}
    speeds = {}
    with open(path, errors='replace') as f:
        for line in f:
            for key, pattern in (('train', TRAIN), ('val', VAL)):
                m = pattern.search(line)
                if m:
                    curves[key][int(m.group(1))] = float(m.group(2))
            m = SPEED.search(line)
            if m:
                speeds.setdefault(int(m.group(1)), []).append(float(m.group(2)))
    curves['speed'] = {e: sum(v) / len(v) for e, v in speeds.items()}
    return curves


def plot(curves, out):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (acc_ax, speed_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for key, label in (('train', 'train'), ('val', 'validation')):
        if curves[key]:
            epochs = sorted(curves[key])
            acc_ax.plot(epochs, [curves[key][e] for e in epochs], marker='.', label=label)
    acc_ax.set_xlabel('epoch')
    acc_ax.set_ylabel('top-1 accuracy')
    acc_ax.grid(True, alpha=0.3)
    acc_ax.legend()
    if curves['speed']:
        epochs = sorted(curves['speed'])
        speed_ax.plot(epochs, [curves['speed'][e] for e in epochs], marker='.')
    speed_ax.set_xlabel('epoch')
    speed_ax.set_ylabel('training samples/sec')
    speed_ax.grid(True, alpha=0.3)
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
    plot(curves, args.output)
    logging.info('wrote %s (%d epochs)', args.output, len(curves['train'] or curves['val']))


if __name__ == '__main__':
    run(main)
