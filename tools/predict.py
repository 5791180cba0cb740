#!/usr/bin/env python
"""Top-5 classes of images, with the same preprocessing as score.py.

    python tools/predict.py cat.jpg dog.jpg --model igcv3 --synset synset.txt
    python tools/predict.py digit.png --model models/digits-igcv3 --load-epoch 10

Input shape, resize, mean, std and class names default to the checkpoint's model info
(PREFIX-model.json, written by training; see score.py). --synset names the classes, one
per line in label order (ImageNet's synset.txt: "n01440764 tench, Tinca tinca"), or
tools/im2rec.py's PREFIX_classes.txt; without either the labels are printed as numbers.
Images are read in grey for a model of one input channel (as its records were decoded),
and a model trained with --tta flip averages each image with its mirror (--tta none: not).
"""
import json
import logging
import sys

import _path  # noqa: F401
from common import runtime
runtime.configure()  # before mxnet loads

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402

from common import checkpoint, evaluate, packing, protocol  # noqa: E402
from common.cli import (ArgumentParser, UserError, add_gpus_argument, run,  # noqa: E402
                        setup_logging)
from common.classes import class_names  # noqa: E402
from common.images import MAX_IMAGE_PIXELS, read_image  # noqa: E402
from common.inference import bind_for_inference, preprocess  # noqa: E402


def parse_args(argv=None):
    parser = ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('images', nargs='+', help='image files')
    parser.add_argument('--model', required=True, help='checkpoint prefix or registered network')
    parser.add_argument('--load-epoch', type=int, default=None,
                        help='checkpoint number; default 0 (the released weights), or the last '
                             'epoch of a model shipped in models/ and named alone')
    parser.add_argument('--synset', type=str, default='', help='class names, one per line')
    add_gpus_argument(parser)
    protocol.add_protocol_args(parser, tta=True)
    parser.add_argument('--top-k', type=int, default=5)
    parser.add_argument('--json', action='store_true', help='JSON lines on stdout')
    parser.add_argument('--max-image-pixels', type=int, default=MAX_IMAGE_PIXELS,
                        help='refuse an image of more pixels, decoded or resized (read from '
                             'its header before decoding), as tools/im2rec.py does')
    return parser.parse_args(argv)


def main():
    setup_logging()
    args = parse_args()
    args.model, args.load_epoch = checkpoint.find_model(args.model,
                                                        getattr(args, 'load_epoch', None))
    if args.top_k < 1:
        raise UserError('--top-k must be at least 1, got %d' % args.top_k)
    proto = protocol.resolve(args.model, args.load_epoch, **protocol.given_flags(args))
    shape, mean, std = proto.image_shape, proto.mean, proto.std
    sym, arg, aux, _ = checkpoint.load_model(args.model, args.load_epoch, shape)
    names = class_names(args.synset, proto.classes, checkpoint.num_classes_of(arg))
    mod = bind_for_inference(sym, arg, aux, 1, shape, runtime.get_devices(args.gpus))
    pack = (proto.info or {}).get('pack') or {'resize': 0, 'center_crop': False}
    if pack['resize'] or pack['center_crop']:
        logging.info("the training records were packed with%s%s (the model info's pack): "
                     'applied to each image first', ' --center-crop' * pack['center_crop'],
                     ' --resize %d' % pack['resize'] if pack['resize'] else '')
    for path in args.images:
        bgr = read_image(path, grey=shape[0] == 1, resize=max(proto.resize, pack['resize']),
                         max_pixels=args.max_image_pixels)
        # First what im2rec did to the training images (its pack info in the model info),
        # then what training's validation does to a record.
        bgr = packing.transform(bgr, pack['resize'], pack['center_crop'])
        x = preprocess(bgr, shape, proto.resize, mean, std)
        batch = mx.io.DataBatch([mx.nd.array(x)], [mx.nd.zeros(1)])
        probs = evaluate.predict(mod, batch, proto.tta)[0].asnumpy()[0]
        top = np.argsort(-probs)[:args.top_k]
        if args.json:
            sys.stdout.write(json.dumps({'image': path, 'top': [
                {'label': int(i), 'name': names[i], 'probability': float(probs[i])} for i in top]}) + '\n')
        else:
            sys.stdout.write('%s\n' % path)
            for i in top:
                sys.stdout.write('  %.4f  %s\n' % (probs[i], names[i]))


if __name__ == '__main__':
    run(main)
