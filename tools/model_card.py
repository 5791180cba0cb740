#!/usr/bin/env python
"""Release a trained checkpoint as files anyone can check, and print its card.

    python tools/model_card.py runs/release/fashion-mnist-igcv3 --epoch 50 \\
        --release models/fashion-mnist-igcv3         # copy, then the card of the copies
    python tools/model_card.py models/fashion-mnist-igcv3 --epoch 50   # the card alone

The release copies PREFIX-symbol.json, PREFIX-NNNN.params of --epoch, PREFIX-model.json
and PREFIX.log (not the optimizer state) to the --release prefix, refusing to overwrite
anything. The card (Markdown on stdout; --json writes it too) gives each file's bytes and
SHA-256, the parameters, and every epoch's training and validation top-1, seconds and
images/s as the log recorded them: models/README.md shows it as printed.
"""
import sys

import _path  # noqa: F401
from common import runtime
runtime.configure()  # before mxnet loads

from common.cli import ArgumentParser, run, setup_logging  # noqa: E402
from common.model_card import card, markdown, release, write_card  # noqa: E402


def main():
    parser = ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('prefix', help='the checkpoint prefix (PREFIX-symbol.json, ...)')
    parser.add_argument('--epoch', type=int, required=True, help='the epoch to release')
    parser.add_argument('--release', metavar='OUT_PREFIX', default='',
                        help='copy the files to this prefix first; the card is of the copies')
    parser.add_argument('--json', default='', help='write the card as JSON here too')
    args = parser.parse_args()
    setup_logging()
    if args.epoch < 1:
        parser.error('--epoch must be at least 1, got %d' % args.epoch)
    prefix = args.prefix
    if args.release:
        release(prefix, args.epoch, args.release)
        prefix = args.release
    numbers = card(prefix, args.epoch)
    if args.json:
        write_card(args.json, numbers)
    sys.stdout.write(markdown(numbers))


if __name__ == '__main__':
    run(main)
