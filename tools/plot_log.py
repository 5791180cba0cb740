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
from common.cli import ArgumentParser, UserError, run, setup_logging
from common.plots import plot, title
from common.training_log import parse_log


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
