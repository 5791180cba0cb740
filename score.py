#!/usr/bin/env python
"""Evaluate a checkpoint on a validation .rec: top-1 and top-k accuracy, images/s.

    # the released IGCV3 (models/igcv3-0000.params; the graph is rebuilt from symbol/):
    python score.py --model igcv3 --data-val data/imagenet/val.rec
    # a checkpoint of yours, epoch 120:
    python score.py --model models/igcv3 --load-epoch 120 --data-val data/imagenet/val.rec
    # a CIFAR checkpoint: its input size, resize and mean/std come from its model info
    python score.py --model models/cifar10-igcv3 --load-epoch 400 --data-val data/cifar10/val.rec

Input shape, resize, mean and std default to the checkpoint's PREFIX-model.json, which
training writes; a flag given overrides it (with a warning when they differ). The released
weights have no such file and get the upstream protocol: shorter side resized to 256,
center crop 224, mean subtraction (123.68,116.779,103.939), no std. A model trained with
``--tta flip`` is scored on each image and its mirror (probabilities averaged) unless
``--tta none`` is given.

--per-class adds each class's images and top-1 (and top-k) accuracy, named by the model
info's class names when it has them: a table on stdout, or ``per_class`` (and
``mean_class_accuracy``, the unweighted mean over the classes with images) in --json.
"""
import json
import logging
import sys

from common import runtime
runtime.configure()  # before mxnet loads

from common import protocol  # noqa: E402
from common.cli import ArgumentParser, add_gpus_argument, run, setup_logging  # noqa: E402
from common.scoring import per_class_table, score  # noqa: E402


def parse_args(argv=None):
    parser = ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', required=True,
                        help='checkpoint prefix (PREFIX-symbol.json, PREFIX-%%04d.params) or a '
                             'registered network name (reads models/NAME-%%04d.params)')
    parser.add_argument('--load-epoch', type=int, default=None,
                        help='checkpoint number; default 0 (the released weights), or the last '
                             'epoch of a model shipped in models/ and named alone')
    parser.add_argument('--data-val', required=True, help='validation .rec (its .idx beside it)')
    add_gpus_argument(parser)
    parser.add_argument('--batch-size', type=int, default=32, help='images per batch')
    protocol.add_protocol_args(parser, tta=True)
    parser.add_argument('--data-nthreads', type=int, default=4, help='decoding threads')
    parser.add_argument('--max-num-examples', type=int, default=None,
                        help='score only the first N images')
    parser.add_argument('--top-k', type=int, default=5, help='also report top-k accuracy (0: off)')
    parser.add_argument('--no-fuse', action='store_true',
                        help="bind the checkpoint's graph as it is, instead of its inference "
                             "form with MXNet's oneDNN conv+BN+ReLU6 fusion")
    parser.add_argument('--per-class', action='store_true',
                        help="each class's images and accuracy (names from the model info)")
    parser.add_argument('--json', action='store_true', help='print the results as JSON on stdout')
    return parser.parse_args(argv)


def main():
    setup_logging()
    args = parse_args()
    result, metrics = score(
        args.model, args.load_epoch, args.data_val, gpus=args.gpus, batch_size=args.batch_size,
        data_nthreads=args.data_nthreads, max_num_examples=args.max_num_examples,
        top_k=args.top_k, fused=not args.no_fuse, per_class=args.per_class,
        **protocol.given_flags(args))
    logging.info('Finished with %f images per second', result['images_per_sec'])
    for m in metrics:
        logging.info(m.get())
    if args.json:
        sys.stdout.write(json.dumps(result, sort_keys=True) + '\n')
    elif args.per_class:
        sys.stdout.write(per_class_table(result))


if __name__ == '__main__':
    run(main)
