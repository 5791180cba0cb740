#!/usr/bin/env python
"""Pack image folders into RecordIO (.rec + .idx), with MXNet's im2rec command line.

    # list: one label per class folder, 95% train / 5% val, shuffled
    python tools/im2rec.py data/imagenet/train ~/ILSVRC2012/train --list --recursive
    # pack every PREFIX*.lst, shorter side 480, 16 threads
    python tools/im2rec.py data/imagenet/train ~/ILSVRC2012/train --resize 480 --quality 95 --num-thread 16
    # check a packed file
    python tools/im2rec.py --verify data/imagenet/train

Same flags, .lst format (index, label(s), relative path, tab-separated) and record layout
as the im2rec.py in the mxnet wheel, so commands from MXNet's documentation work. On top:
decoding and encoding run in a pool of threads (OpenCV releases the GIL) feeding an
ordered writer; progress with rate and ETA; unreadable images (empty, not decodable,
over --max-image-pixels before or after --resize, measured from the file's header before
decoding) are skipped, counted and listed (--strict makes them an error); outputs are
written under temporary names and renamed when complete; --verify checks a packed file
the way training will read it. List mode refuses a symbolic link loop in the image tree
and file names a .lst cannot hold (a tab or line break, a leading or trailing space).
The library: common/image_lists.py (lists), common/packing.py (packing) and
common/record_checks.py (--verify, whose checks training shares).
"""
import logging
import os

import _path  # noqa: F401
from common import image_lists, packing, record_checks
from common.images import MAX_IMAGE_PIXELS
from common.cli import ArgumentParser, UserError, run, setup_logging

import PIL.Image


def parse_args(argv=None):
    parser = ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('prefix', nargs='?', help='prefix of the .lst and .rec files')
    parser.add_argument('root', nargs='?', help='folder holding the images')
    parser.add_argument('--verify', metavar='PREFIX',
                        help='check PREFIX.rec/.idx instead of packing: every record decodes '
                             "with MXNet's decoder and holds one label, the .idx matches")
    parser.add_argument('--multi-label', action='store_true',
                        help='with --verify: records with several labels (--pack-label) are '
                             'expected')
    lst = parser.add_argument_group('Options for creating image lists')
    lst.add_argument('--list', action='store_true', help='make .lst files instead of packing')
    lst.add_argument('--exts', nargs='+', default=list(image_lists.DEFAULT_EXTS),
                     help='image file extensions')
    lst.add_argument('--chunks', type=int, default=1, help='number of chunks')
    lst.add_argument('--train-ratio', type=float, default=1.0, help='fraction for training')
    lst.add_argument('--test-ratio', type=float, default=0, help='fraction for testing')
    lst.add_argument('--label-file', default='',
                     help='labels of a flat folder (ImageNet\'s validation images): CSV '
                          '"name,class" lines such as LOC_val_solution.csv, or "name class"')
    lst.add_argument('--classes', default='',
                     help="with --label-file: the training list's PREFIX_classes.txt, so that "
                          "class names get the training labels (else sorted order)")
    lst.add_argument('--recursive', action='store_true',
                     help='walk subfolders; each folder of images is a class')
    lst.add_argument('--no-shuffle', dest='shuffle', action='store_false',
                     help='keep the sorted order')
    rec = parser.add_argument_group('Options for creating database')
    rec.add_argument('--pass-through', action='store_true',
                     help='store the files as they are, without decoding')
    rec.add_argument('--resize', type=int, default=0, help='shorter side resized to this (0: off)')
    rec.add_argument('--center-crop', action='store_true', help='crop the center square first')
    rec.add_argument('--quality', type=int, default=95,
                     help='JPEG quality (1-100) or PNG compression (0-9)')
    rec.add_argument('--num-thread', type=int, default=1, help='decoding/encoding threads')
    rec.add_argument('--color', type=int, default=1, choices=[-1, 0, 1],
                     help='1 color, 0 grayscale, -1 as stored (alpha kept)')
    rec.add_argument('--encoding', type=str, default='.jpg', choices=['.jpg', '.png'],
                     help='encoding of the stored images')
    rec.add_argument('--pack-label', action='store_true',
                     help='store every label column of the .lst (multi-label)')
    rec.add_argument('--strict', action='store_true',
                     help='fail on an unreadable image instead of skipping it')
    rec.add_argument('--max-image-pixels', type=int, default=MAX_IMAGE_PIXELS,
                     help='skip (or with --strict, fail on) an image of more pixels, or one '
                          '--resize would make larger; the size is read from the file header '
                          'before decoding, and each thread holds one image of up to this '
                          'many pixels x 3 bytes')
    # Options may come between the positionals (OUT --list --recursive ROOT), as MXNet's
    # own im2rec takes them.
    args = parser.parse_intermixed_args(argv)
    if args.verify and args.verify.endswith(('.rec', '.idx')):
        args.verify = args.verify[:-4]  # the file itself named instead of its prefix
    if not args.verify and (args.prefix is None or args.root is None):
        parser.error('give PREFIX ROOT, or --verify PREFIX')
    if args.resize < 0:
        parser.error('--resize must be 0 (off) or a positive size, not %d' % args.resize)
    if args.max_image_pixels < 1:
        parser.error('--max-image-pixels must be positive, not %d' % args.max_image_pixels)
    return args


def main():
    setup_logging()
    args = parse_args()
    # Pillow reads headers only here; --max-image-pixels is the limit, not Pillow's own.
    PIL.Image.MAX_IMAGE_PIXELS = None
    if args.verify:
        record_checks.verify(args.verify, args.multi_label)
    elif args.list:
        image_lists.make_lists(args.prefix, args.root, args.recursive, args.exts, args.chunks,
                               args.train_ratio, args.test_ratio, args.label_file, args.classes,
                               args.shuffle)
    else:
        if not os.path.isdir(args.root):
            raise UserError('%s: no such folder of images' % args.root)
        options = packing.pack_options(
            resize=args.resize, center_crop=args.center_crop, color=args.color,
            encoding=args.encoding, quality=args.quality, pass_through=args.pass_through,
            pack_label=args.pack_label, max_image_pixels=args.max_image_pixels,
            strict=args.strict, num_thread=args.num_thread)
        for lst in packing.list_files_to_pack(args.prefix):
            logging.info('packing %s', lst)
            packing.pack_list(lst, args.root, options)

if __name__ == '__main__':
    run(main)
