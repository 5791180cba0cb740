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
import contextlib
import logging
import lzma
import os
import posixpath
import tarfile
import zlib

import _path  # noqa: F401
from common import safe_pickle
from common.atomic import write_text
from common.cli import ArgumentParser, UserError, run, setup_logging
from common.recfile import write_image_records

import numpy as np

# (member suffixes of the training part, of the test part, label key, classes) per dataset.
LAYOUTS = {
    'cifar-10-batches-py': (['data_batch_%d' % i for i in range(1, 6)], ['test_batch'], b'labels',
                            10),
    'cifar-100-python': (['train'], ['test'], b'fine_labels', 100),
}
# The member naming the classes, and its key, per dataset.
META = {'cifar-10-batches-py': ('batches.meta', b'label_names'),
        'cifar-100-python': ('meta', b'fine_label_names')}

# Images of each member: 10,000, except CIFAR-100's train (50,000). A member may take
# 3,072 bytes per image, plus 256 bytes of file name and labels (the official pickles
# use about 35) and 1 MB: the official 31 MB batch may be 34 MB, CIFAR-100's 155 MB train
# 168 MB. Nothing larger is read.
IMAGES_PER_MEMBER = {'train': 50000}
IMAGE_BYTES = 32 * 32 * 3


def member_limit(part):
    return IMAGES_PER_MEMBER.get(part, 10000) * (IMAGE_BYTES + 256) + (1 << 20)


# The official archives hold 9 (CIFAR-10) and 5 (CIFAR-100) members.
MAX_MEMBERS = 100

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


@contextlib.contextmanager
def reading(archive):
    """Errors of a truncated or damaged archive (a cut download) end in a UserError."""
    try:
        yield
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError) as err:
        raise UserError('%s is truncated or damaged (%s); download it again'
                        % (archive, str(err) or err.__class__.__name__))


def check_members(archive, tar):
    """The members of the archive, refusing links, devices, names that would land outside
    the archive's folder, and more members than a CIFAR archive has."""
    members = []
    for member in tar:
        members.append(member)
        if len(members) > MAX_MEMBERS:
            raise UserError('%s holds more than %d members, which no CIFAR archive does; use the '
                            'official python version archive' % (archive, MAX_MEMBERS))
        name = member.name
        normal = posixpath.normpath(name)
        if name.startswith('/') or normal == '..' or normal.startswith('../'):
            raise UserError('%s: member %s points outside the archive folder; refusing it'
                            % (archive, name))
        if not (member.isfile() or member.isdir()):
            raise UserError('%s: member %s is a link or special file; refusing it'
                            % (archive, name))
    return members


def read_member(archive, tar, member, part):
    """The bytes of a member, once its size is known to fit a CIFAR batch."""
    limit = member_limit(part)
    if member.size > limit:
        raise UserError('%s: member %s is %.1f MB, more than a CIFAR batch of %d images takes '
                        '(%.1f MB); refusing to read it: use the official python version archive'
                        % (archive, member.name, member.size / 1e6,
                           IMAGES_PER_MEMBER.get(part, 10000), limit / 1e6))
    return tar.extractfile(member).read()


def batch_arrays(name, batch, label_key, classes):
    """(images NHWC uint8, labels int64) of a loaded batch, its layout checked: a uint8
    array of N x 3072 and N integer labels in 0..classes-1."""
    data, labels = batch[b'data'], batch.get(label_key)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != IMAGE_BYTES or labels is None:
        raise UserError('%s: unexpected layout; use the official archive' % name)
    if isinstance(labels, np.ndarray):
        is_int = labels.ndim == 1 and labels.dtype.kind in 'iu'
    else:
        is_int = isinstance(labels, list) and all(isinstance(l, (int, np.integer)) for l in labels)
    if len(labels) != data.shape[0]:
        raise UserError('%s holds %d images but %d labels, so images and labels cannot be '
                        'paired: the archive is damaged; download it again'
                        % (name, data.shape[0], len(labels)))
    if not is_int:
        raise UserError('%s: the labels are not a list of integers; use the official archive'
                        % name)
    labels = np.asarray(labels, dtype=np.int64)
    bad = np.flatnonzero((labels < 0) | (labels >= classes))
    if bad.size:
        raise UserError('%s: image %d has label %d, outside 0..%d; the archive is damaged: '
                        'download it again' % (name, bad[0], labels[bad[0]], classes - 1))
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


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
    with tar, reading(archive):
        files = {m.name: m for m in check_members(archive, tar) if m.isfile()}
        for folder, (train_parts, val_parts, label_key, classes) in LAYOUTS.items():
            if all('%s/%s' % (folder, p) in files for p in train_parts + val_parts):
                break
        else:
            raise UserError('%s holds neither cifar-10-batches-py/ nor cifar-100-python/; '
                            'use the official python version archive' % archive)
        out = {}
        for split, parts in (('train', train_parts), ('val', val_parts)):
            images, labels = [], []
            for part in parts:
                name = '%s/%s' % (folder, part)
                batch = safe_load_batch(read_member(archive, tar, files[name], part))
                part_images, part_labels = batch_arrays(name, batch, label_key, classes)
                images.append(part_images)
                labels.append(part_labels)
            out[split] = (np.concatenate(images), np.concatenate(labels))
            if not len(out[split][0]):
                raise UserError('%s: the %s batches hold no images; use the official archive'
                                % (archive, split))
        out['classes'] = class_names(archive, tar, files, folder, classes)
        if out['classes'] is None:
            logging.warning('%s has no class names that fit (no meta member): classes.txt '
                            'lists the label numbers', archive)
            out['classes'] = [str(i) for i in range(classes)]
        return out


def class_names(archive, tar, files, folder, classes):
    """The class names in label order from the archive's meta member (a pickled dict of
    byte strings, read with the same allowlist), or None when it has none that fits."""
    member, key = META[folder]
    name = '%s/%s' % (folder, member)
    if name not in files:
        return None
    try:
        meta = safe_pickle.load(read_member(archive, tar, files[name], 'meta'), ALLOWED_GLOBALS,
                                ('CIFAR meta', 'names'), encoding='bytes')
        names = [n.decode('utf-8') if isinstance(n, bytes) else str(n) for n in meta[key]]
    except Exception:
        return None
    if len(names) != classes or not all(n.strip() and '\n' not in n for n in names):
        return None
    return names


def write_split(prefix, images, labels):
    count = write_image_records(prefix, images, labels, rgb=True)
    logging.info('wrote %d images to %s.rec', count, prefix)


def main():
    parser = ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('archive', help='cifar-10-python.tar.gz or cifar-100-python.tar.gz')
    parser.add_argument('out', help='output folder for train.rec/.idx and val.rec/.idx')
    args = parser.parse_args()
    setup_logging()
    splits = read_archive(args.archive)
    names = splits.pop('classes')
    for split, (images, labels) in splits.items():
        write_split('%s/%s' % (args.out.rstrip('/'), split), images, labels)
    write_text(os.path.join(args.out, 'classes.txt'), [n + '\n' for n in names])
    logging.info('wrote %d class names to %s', len(names), os.path.join(args.out, 'classes.txt'))


if __name__ == '__main__':
    run(main)
