#!/usr/bin/env python
"""Turn the official CIFAR python archives into train/val .rec + .idx for train_cifar.py.

    python tools/cifar_to_rec.py cifar-10-python.tar.gz data/cifar10
    python tools/cifar_to_rec.py cifar-100-python.tar.gz data/cifar100   # fine labels

Writes OUT/train.rec (50,000 images) and OUT/val.rec (10,000), PNG-encoded (lossless).
The archives hold pickles, which can run code when loaded: this tool never extracts the
archive to disk, reads only the members it needs, refuses archives with members outside
their folder or with links, and unpickles with a loader that admits only the numpy
arrays the format is made of, refusing anything else.
"""
import logging
import posixpath
import tarfile

import _path  # noqa: F401
from common import safe_pickle
from common.cli import ArgumentParser, UserError, run, setup_logging
from common.recfile import AtomicRecordWriter

import cv2
import numpy as np

# (member suffixes of the training part, of the test part, label key) per dataset.
LAYOUTS = {
    'cifar-10-batches-py': (['data_batch_%d' % i for i in range(1, 6)], ['test_batch'], b'labels'),
    'cifar-100-python': (['train'], ['test'], b'fine_labels'),
}

# Everything a CIFAR pickle may reference: numpy's array reconstruction, and the bytes
# codec a Python 3 protocol-2 pickle uses for the array's raw data. Nothing else.
ALLOWED_GLOBALS = {
    ('numpy.core.multiarray', '_reconstruct'),
    ('numpy', 'ndarray'),
    ('numpy', 'dtype'),
    ('_codecs', 'encode'),
}


def safe_load_batch(raw):
    """A CIFAR batch dict from pickle bytes, admitting numpy arrays only."""
    try:
        batch = safe_pickle.load(raw, ALLOWED_GLOBALS, ('a CIFAR batch', 'numpy arrays'),
                                 encoding='bytes')
    except UserError:
        raise
    except Exception as err:
        raise UserError('not a CIFAR batch (%s); download the python version archive again'
                        % err.__class__.__name__)
    if not isinstance(batch, dict) or b'data' not in batch:
        raise UserError('not a CIFAR batch: no data array; use the python version archive')
    return batch


def check_members(archive, tar):
    """Refuse links, devices and names that would land outside the archive's folder."""
    for member in tar.getmembers():
        name = member.name
        normal = posixpath.normpath(name)
        if name.startswith('/') or normal == '..' or normal.startswith('../'):
            raise UserError('%s: member %s points outside the archive folder; refusing it'
                            % (archive, name))
        if not (member.isfile() or member.isdir()):
            raise UserError('%s: member %s is a link or special file; refusing it'
                            % (archive, name))


def read_archive(archive):
    """{'train': (images NHWC uint8, labels), 'val': (...)} from an official archive."""
    try:
        tar = tarfile.open(archive, 'r:*')
    except FileNotFoundError:
        raise UserError('%s: no such file; download cifar-10-python.tar.gz or '
                        'cifar-100-python.tar.gz' % archive)
    except (tarfile.TarError, OSError):
        raise UserError('%s is not a readable tar archive; download the python version '
                        'archive again' % archive)
    with tar:
        check_members(archive, tar)
        files = {m.name: m for m in tar.getmembers() if m.isfile()}
        for folder, (train_parts, val_parts, label_key) in LAYOUTS.items():
            if all('%s/%s' % (folder, p) in files for p in train_parts + val_parts):
                break
        else:
            raise UserError('%s holds neither cifar-10-batches-py/ nor cifar-100-python/; '
                            'use the official python version archive' % archive)
        out = {}
        for split, parts in (('train', train_parts), ('val', val_parts)):
            images, labels = [], []
            for part in parts:
                batch = safe_load_batch(tar.extractfile(files['%s/%s' % (folder, part)]).read())
                data = np.asarray(batch[b'data'], dtype=np.uint8)
                if data.ndim != 2 or data.shape[1] != 3072 or label_key not in batch:
                    raise UserError('%s/%s: unexpected layout; use the official archive'
                                    % (folder, part))
                images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
                labels.extend(int(l) for l in batch[label_key])
            out[split] = (np.concatenate(images), np.asarray(labels))
        return out


def write_split(prefix, images, labels):
    with AtomicRecordWriter(prefix) as writer:
        for i, (rgb, label) in enumerate(zip(images, labels)):
            ok, png = cv2.imencode('.png', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            writer.write(i, float(label), png.tobytes())
    logging.info('wrote %d images to %s', writer.count, writer.rec)


def main():
    parser = ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('archive', help='cifar-10-python.tar.gz or cifar-100-python.tar.gz')
    parser.add_argument('out', help='output folder for train.rec/.idx and val.rec/.idx')
    args = parser.parse_args()
    setup_logging()
    splits = read_archive(args.archive)
    for split, (images, labels) in splits.items():
        write_split('%s/%s' % (args.out.rstrip('/'), split), images, labels)


if __name__ == '__main__':
    run(main)
