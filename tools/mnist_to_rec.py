#!/usr/bin/env python
"""Turn a dataset in the MNIST IDX format (Fashion-MNIST, MNIST, KMNIST) into .rec + .idx.

    make fashion-mnist                                       # install, then convert
    python tools/mnist_to_rec.py data/fashion-mnist          # from Debian's package
    python tools/mnist_to_rec.py ~/mnist data/mnist          # any folder with the 4 files

Reads SRC_DIR/train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte
and t10k-labels-idx1-ubyte, each gzipped (.gz) or plain (told apart by their first
bytes), and writes OUT_DIR/train.rec (+ .idx) from the training files, OUT_DIR/val.rec
(+ .idx) from the t10k (test) files, and OUT_DIR/classes.txt, the class names one a line
in label order. Images are 28x28 single-channel PNG (lossless: they decode to exactly
the original pixels, as 1 or 3 channels). SRC_DIR defaults to where Debian's package
dataset-fashion-mnist puts the files.

Every file is checked before anything is written: its IDX header (magic number, data
type, number of dimensions, 28x28 images), its size against the header, images and labels
counted alike, labels within the classes. The decompressed contents are compared with
the pinned SHA-256 digests of Fashion-MNIST; other contents are converted with a warning
naming their digest, and their class names are the label numbers.
"""
import os

import _path  # noqa: F401
from common.classes import write_class_names
from common.cli import ArgumentParser, run, setup_logging
from common.mnist_format import (CLASS_NAMES, DEBIAN_DIR, find_files, read_dataset,
                                 write_examples)
from common.recordio import write_image_records


def main():
    parser = ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', nargs='?', default=DEBIAN_DIR, metavar='SRC_DIR',
                        help='folder with the four IDX files, .gz or plain (default: '
                             '%(default)s, where Debian\'s dataset-fashion-mnist installs them)')
    parser.add_argument('out', metavar='OUT_DIR',
                        help='output folder for train.rec/.idx, val.rec/.idx and classes.txt')
    parser.add_argument('--num-classes', type=int, default=10,
                        help='labels must lie in 0..num-classes-1 (10 for Fashion-MNIST, '
                             'MNIST and KMNIST)')
    parser.add_argument('--examples', metavar='DIR', default=None,
                        help='also write the first test image of each class to DIR as '
                             'LABEL-NAME.png (the repository ships examples/fashion-mnist)')
    parser.add_argument('--test-sample', metavar='PREFIX', default=None,
                        help='also write the first --test-sample-size test images to '
                             'PREFIX.rec/.idx (the repository ships '
                             'tests/data/fashion-mnist-test-sample)')
    parser.add_argument('--test-sample-size', type=int, default=1000,
                        help='images of --test-sample')
    args = parser.parse_args()
    if args.num_classes < 1:
        parser.error('--num-classes must be at least 1')
    if args.test_sample_size < 1:
        parser.error('--test-sample-size must be at least 1')
    setup_logging()
    paths = find_files(args.src, args.src == DEBIAN_DIR)
    splits, dataset = read_dataset(paths, args.num_classes)
    for split in ('train', 'val'):
        write_image_records(os.path.join(args.out, split), *splits[split])
    names = CLASS_NAMES[dataset] if dataset else [str(i) for i in range(args.num_classes)]
    write_class_names(os.path.join(args.out, 'classes.txt'), names)
    if args.examples:
        write_examples(args.examples, *splits['val'], names)
    if args.test_sample:
        images, labels = splits['val']
        write_image_records(args.test_sample, images[:args.test_sample_size],
                            labels[:args.test_sample_size])


if __name__ == '__main__':
    run(main)
