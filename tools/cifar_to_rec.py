#!/usr/bin/env python
"""Turn the official CIFAR python archives into train/val .rec + .idx for train_cifar.py.

    python tools/cifar_to_rec.py cifar-10-python.tar.gz data/cifar10
    python tools/cifar_to_rec.py cifar-100-python.tar.gz data/cifar100   # fine labels

Writes OUT/train.rec (50,000 images) and OUT/val.rec (10,000), PNG-encoded (lossless).
The archives hold pickles, which can run code when loaded: this tool never extracts the
archive to disk, reads only the members it needs, refuses archives with members outside
their folder or with links, and unpickles with a loader that admits only the numpy
arrays the format is made of, refusing anything else. It reads a member only if its size
fits the images of a CIFAR batch (a compressed member can inflate a thousandfold), and
refuses a batch whose label count is not its image count, a label outside the classes,
and a truncated or damaged archive.
"""
import os

import _path  # noqa: F401
from common.cifar_archive import read_archive
from common.classes import write_class_names
from common.cli import ArgumentParser, run, setup_logging
from common.recordio import write_image_records


def main():
    parser = ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('archive', help='cifar-10-python.tar.gz or cifar-100-python.tar.gz')
    parser.add_argument('out', help='output folder for train.rec/.idx and val.rec/.idx')
    args = parser.parse_args()
    setup_logging()
    splits = read_archive(args.archive)
    names = splits.pop('classes')
    for split, (images, labels) in splits.items():
        write_image_records(os.path.join(args.out, split), images, labels, rgb=True)
    write_class_names(os.path.join(args.out, 'classes.txt'), names)


if __name__ == '__main__':
    run(main)
