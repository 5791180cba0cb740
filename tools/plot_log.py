#!/usr/bin/env python
"""Plot training curves from a training log: accuracy, images/s and learning rate per epoch.

    python tools/plot_log.py models/igcv3.log -o curves.png

Reads the log lines of common/fit.py (MXNet's formats): ``Epoch[e] Train-accuracy=``,
``Epoch[e] Validation-accuracy=``, ``Epoch[e] Learning-rate=``, ``Epoch[e] Time cost=``,
``Epoch[e] Batch [a-b]\\tSpeed: N samples/sec`` and the ``start with arguments`` line.

An epoch's speed is its training images divided by its ``Time cost`` seconds, not the mean
of the Speed lines' window rates (those leave out the epoch's first batch and the batches
after the last window: on a digits demo log of a busy machine, one epoch's windows averaged
37.2 images/s against a true 12.4).
The images of an epoch are its batches times --batch-size, as common/fit.py runs them:
--num-examples (or the records of --data-train, counted from its .idx, when the flag was
not given) in whole batches, the last one filled. When the log does not tell (its
training data gone, or a distributed run, whose worker count is not logged), the Speed
lines' last batch number gives a lower bound, and the tool says so.
"""
import ast
import logging
import os
import re

import _path  # noqa: F401
from common import recordio
from common.atomic import atomic_path
from common.cli import ArgumentParser, UserError, run, setup_logging

NUMBER = r'([\d.eE+-]+|nan|inf)'
TRAIN = re.compile(r'Epoch\[(\d+)\] Train-accuracy=' + NUMBER)
VAL = re.compile(r'Epoch\[(\d+)\] Validation-accuracy=' + NUMBER)
LR = re.compile(r'Epoch\[(\d+)\] Learning-rate=' + NUMBER)
TIME = re.compile(r'Epoch\[(\d+)\] Time cost=' + NUMBER)
SPEED = re.compile(r'Epoch\[(\d+)\] Batch \[\d+-(\d+)\]\tSpeed: ([\d.]+) samples/sec')
ARGUMENTS = re.compile(r'start with arguments (\{.*\})\s*$')
# common/fit.py when --num-examples exceeds the records: it trains on the records.
USING = re.compile(r'--num-examples \d+ but .* holds \d+ records; using (\d+)')
# The arguments an epoch's length depends on (common/fit.py, common/data.py).
KEYS = ('batch_size', 'num_examples', 'kv_store', 'benchmark', 'data_train', 'data_train_idx')


def parse_arguments(text):
    """{key: value} of KEYS found in a ``start with arguments {...}`` dict (each value read
    as a Python literal on its own, so one odd value does not hide the others)."""
    found = {}
    for key in KEYS:
        m = re.search(r"'%s': ('(?:[^'\\]|\\.)*'|[^,}]+)" % key, text)
        if m:
            try:
                found[key] = ast.literal_eval(m.group(1).strip())
            except (ValueError, SyntaxError):
                pass
    return found


def count_records(arguments):
    """The records of --data-train, from its .idx (None when it cannot be read)."""
    data = arguments.get('data_train')
    if not data:
        return None
    index = arguments.get('data_train_idx') or os.path.splitext(data)[0] + '.idx'
    try:
        return len(recordio.read_index(index))
    except (OSError, ValueError):
        return None


def epoch_batches(arguments, records):
    """Training batches of an epoch as common/fit.py runs them, or None when the log's
    arguments do not tell (``records``: --data-train's record count, or None)."""
    batch = arguments.get('batch_size')
    if not isinstance(batch, int) or batch < 1 or 'dist' in str(arguments.get('kv_store')):
        return None
    examples = arguments.get('num_examples')
    if arguments.get('benchmark'):
        return max(1, examples // batch) if examples else 10
    if records is not None:
        examples = records if examples is None else min(examples, records)
    if not isinstance(examples, int) or examples < 1:
        return None
    return max(1, -(-examples // batch))


def parse_log(path):
    """{'train', 'val': {epoch: accuracy}, 'lr': {epoch: learning rate}, 'seconds':
    {epoch: Time cost}, 'images': {epoch: training images}, 'speed': {epoch: images/s},
    'counted': {epoch: how the images were counted}}. A log holding several runs (a
    resumed one appends) is read in order, each epoch with its own run's arguments; an
    epoch logged twice keeps its last values."""
    curves = {key: {} for key in ('train', 'val', 'lr', 'seconds', 'images', 'speed', 'counted')}
    arguments, batches, last_batch = {}, None, {}
    with open(path, errors='replace') as f:
        for line in f:
            m = ARGUMENTS.search(line)
            if m:
                arguments = parse_arguments(m.group(1))
                batches = epoch_batches(arguments, count_records(arguments))
                last_batch = {}
                continue
            m = USING.search(line)
            if m:
                arguments['num_examples'] = int(m.group(1))
                batches = epoch_batches(arguments, None)
                continue
            for key, pattern in (('train', TRAIN), ('val', VAL), ('lr', LR)):
                m = pattern.search(line)
                if m:
                    curves[key][int(m.group(1))] = float(m.group(2))
            m = SPEED.search(line)
            if m:
                epoch = int(m.group(1))
                last_batch[epoch] = max(last_batch.get(epoch, 0), int(m.group(2)))
            m = TIME.search(line)
            if m:
                epoch, seconds = int(m.group(1)), float(m.group(2))
                size = arguments.get('batch_size')
                if batches is not None:
                    images, counted = batches * size, 'arguments'
                elif isinstance(size, int) and epoch in last_batch:
                    # Batch [a-b] is logged after batch b (0-based): at least b + 1 ran.
                    images, counted = (last_batch[epoch] + 1) * size, 'speed lines'
                else:
                    continue
                curves['seconds'][epoch] = seconds
                curves['images'][epoch] = images
                curves['counted'][epoch] = counted
                if seconds > 0:
                    curves['speed'][epoch] = images / seconds
    return curves


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
