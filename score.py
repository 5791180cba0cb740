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
import os
import sys

from common import runtime
runtime.configure()  # before mxnet loads

from common import checkpoint, evaluate, protocol  # noqa: E402
from common.cli import (ArgumentParser, UserError, add_gpus_argument, run,  # noqa: E402
                        setup_logging)
from common.data import check_labels, eval_record_iter, how_to_make  # noqa: E402
from common.inference import bind_for_inference  # noqa: E402
from common.progress import Progress  # noqa: E402


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


def score(args):
    """Score; returns (a dict of the results, the metrics)."""
    args.model, args.load_epoch = checkpoint.find_model(args.model,
                                                        getattr(args, 'load_epoch', None))
    proto = protocol.resolve(args, args.model, args.load_epoch)
    shape, mean, std = proto.image_shape, proto.mean, proto.std
    if args.batch_size < 1:
        raise UserError('--batch-size must be positive')
    if args.max_num_examples is not None and args.max_num_examples < 1:
        raise UserError('--max-num-examples must be at least 1 (leave it out to score every '
                        'image), got %d' % args.max_num_examples)
    if args.data_nthreads < 1:
        raise UserError('--data-nthreads must be at least 1, got %d' % args.data_nthreads)
    if not os.path.isfile(args.data_val):
        raise UserError('--data-val %s: no such file; %s'
                        % (args.data_val, how_to_make(args.data_val)))
    sym, arg, aux, params_path = checkpoint.load_model(args.model, args.load_epoch, shape)
    classes = checkpoint.num_classes_of(arg)
    total = check_labels(args.data_val, classes, 'data-val')
    shown = total if args.max_num_examples is None else min(total, args.max_num_examples)
    devices = runtime.get_devices(args.gpus)
    fused = not args.no_fuse
    # A batch larger than the images only allocates more (--batch-size 100000 on 70 images
    # asked for gigabytes): at most the images scored.
    batch_size = min(args.batch_size, max(shown, 1))
    mod = bind_for_inference(sym, arg, aux, batch_size, shape, devices, fused)
    data = eval_record_iter('data-val', args.data_val, '', shape, batch_size, proto.resize,
                            mean, std, args.data_nthreads)
    metrics = evaluate.make_metrics(args.top_k, classes)
    per_class = evaluate.PerClass(classes, args.top_k) if getattr(args, 'per_class', False) \
        else None
    logging.info('scoring %s on %d images of %s (%s; input %s, resize %d, mean %s, std %s, '
                 'tta %s: %s)', params_path, shown, args.data_val,
                 'fused' if fused else 'not fused', ','.join(map(str, shape)), proto.resize,
                 ','.join('%g' % v for v in mean), ','.join('%g' % v for v in std), proto.tta,
                 proto.source)
    count, seconds = evaluate.evaluate(mod, data, metrics + [per_class] if per_class else metrics,
                                       total, args.max_num_examples, Progress(shown, 'score'),
                                       tta=proto.tta)
    result = {'model': params_path, 'data': args.data_val, 'images': count,
              'images_per_sec': count / max(seconds, 1e-9), 'fused': fused, 'tta': proto.tta}
    result.update(dict(m.get() for m in metrics))
    if per_class is not None:
        names = proto.classes if proto.classes and len(proto.classes) == classes else None
        result['per_class'] = per_class.rows(names)
        seen = [r['accuracy'] for r in result['per_class'] if r['images']]
        result['mean_class_accuracy'] = sum(seen) / len(seen) if seen else None
    return result, metrics


def per_class_table(result):
    """The --per-class table: one line per class, then all images and the class mean."""
    rows = result['per_class']
    top_k = [k for k in rows[0] if k.startswith('top_k_accuracy_')] if rows else []
    width = max([len('all images')] + [len(r['name'] or '') for r in rows])

    def pct(value):
        return '%7.2f%%' % (100 * value) if value is not None else '%8s' % '-'
    head = '%5s  %-*s  %7s  %8s' % ('label', width, 'name', 'images', 'top-1')
    lines = [head + ''.join('  %8s' % ('top-' + k.rsplit('_', 1)[1]) for k in top_k)]
    for r in rows:
        lines.append('%5d  %-*s  %7d  %s' % (r['label'], width, r['name'] or '', r['images'],
                                            pct(r['accuracy']))
                     + ''.join('  ' + pct(r[k]) for k in top_k))
    lines.append('%5s  %-*s  %7d  %s' % ('', width, 'all images', result['images'],
                                        pct(result['accuracy']))
                 + ''.join('  ' + pct(result.get(k)) for k in top_k))
    lines.append('%5s  %-*s  %7s  %s' % ('', width, 'class mean', '',
                                        pct(result['mean_class_accuracy'])))
    return '\n'.join(lines) + '\n'


def main():
    setup_logging()
    args = parse_args()
    result, metrics = score(args)
    logging.info('Finished with %f images per second', result['images_per_sec'])
    for m in metrics:
        logging.info(m.get())
    if args.json:
        sys.stdout.write(json.dumps(result, sort_keys=True) + '\n')
    elif args.per_class:
        sys.stdout.write(per_class_table(result))


if __name__ == '__main__':
    run(main)
